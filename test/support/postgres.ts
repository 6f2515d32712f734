/** A throwaway PostgreSQL cluster for the repository tests: initdb in a temporary folder, a Unix socket only, removed at the end. */
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

/**
 * The folder with `initdb`, `pg_ctl` and `postgres` (Debian's postgresql package puts them in
 * /usr/lib/postgresql/<major>/bin, not on PATH), newest major first; undefined when none is installed.
 *
 * @example
 * ```ts
 * findPostgresBin(); // "/usr/lib/postgresql/15/bin"
 * ```
 */
export function findPostgresBin(
  root = "/usr/lib/postgresql",
  path = process.env["PATH"] ?? "",
): string | undefined {
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => /^\d+$/.test(d))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const m of majors) {
    const bin = join(root, m, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl"))) return bin;
  }
  for (const dir of path.split(":")) {
    if (dir && existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))) return dir;
  }
  return undefined;
}

/** A running throwaway cluster. */
export interface PostgresCluster {
  /** The socket folder (also the cluster's parent folder). */
  readonly dir: string;
  /** DSN of `database` on this cluster as the superuser `radiolens`, over the Unix socket. */
  dsn(database?: string): string;
  /** Creates an empty database and returns its DSN. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown) and keeps its files: the database is unreachable until {@link PostgresCluster.resume}. */
  pause(): void;
  /** Starts the server again after {@link PostgresCluster.pause}. */
  resume(): void;
  /** Stops the server (immediate) and removes every file. */
  stop(): void;
}

/** Options of {@link startPostgresCluster}. */
export interface PostgresClusterOptions {
  /** Keep fsync on, as a production server has it (default false: test data, commits without disk flushes). */
  readonly fsync?: boolean;
  /** Further server settings (`-c name=value`), e.g. `{ shared_preload_libraries: "pg_stat_statements" }`. */
  readonly settings?: Readonly<Record<string, string>>;
}

/**
 * Starts a PostgreSQL cluster in a fresh temporary folder: `initdb -A trust -U radiolens`, then `pg_ctl start`
 * listening on a Unix socket in that folder only (no TCP port to collide with), fsync off (test data) unless
 * `options.fsync`. As root
 * the binaries run as the `postgres` user, which the server requires. Throws, naming the package to install,
 * when the binaries are absent: the tests fail rather than skip.
 *
 * @example
 * ```ts
 * const cluster = startPostgresCluster();
 * const dsn = await cluster.createDatabase("contract");
 * cluster.stop();
 * ```
 */
export function startPostgresCluster(
  find: () => string | undefined = findPostgresBin,
  options: PostgresClusterOptions = {},
): PostgresCluster {
  const bin = find();
  if (!bin) {
    throw new Error(
      "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on PATH: install the Debian package `postgresql` (apt-get install -y postgresql; scripts/setup.sh lists it)",
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "rl-pg-"));
  const root = process.getuid?.() === 0;
  let uid: number | undefined;
  if (root) {
    uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]): void => {
    const cmd = join(bin, tool);
    execFileSync(root ? "runuser" : cmd, root ? ["-u", "postgres", "--", cmd, ...args] : args, {
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 60_000,
    });
  };
  const data = join(dir, "data");
  const port = 5432;
  const stop = (): void => {
    try {
      if (existsSync(join(data, "postmaster.pid")))
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const start = (): void =>
    run("pg_ctl", [
      "-D",
      data,
      "-l",
      join(dir, "server.log"),
      "-o",
      [
        `-k ${dir} -p ${port} -c listen_addresses=''`,
        options.fsync ? "" : "-F",
        ...Object.entries(options.settings ?? {}).map(([k, v]) => `-c ${k}=${v}`),
      ]
        .filter(Boolean)
        .join(" "),
      "-w",
      "start",
    ]);
  try {
    run("initdb", ["-D", data, "-A", "trust", "-U", "radiolens", "-E", "UTF8", "--no-sync"]);
    start();
  } catch (e) {
    stop();
    throw e;
  }
  // A test process that dies early must not leave a server behind.
  process.once("exit", () => {
    if (existsSync(dir)) stop();
  });
  const dsn = (database = "postgres"): string =>
    `postgresql://radiolens@localhost/${database}?host=${encodeURIComponent(dir)}&port=${port}`;
  return {
    dir,
    dsn,
    createDatabase: async (name) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name))
        throw new Error(`database name '${name}' is not a plain identifier`);
      const c = new pg.Client({ connectionString: dsn() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return dsn(name);
    },
    pause: () => run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]),
    resume: start,
    stop,
  };
}
