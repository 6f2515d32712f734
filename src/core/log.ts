/** A small leveled logger writing one line per event to stderr; it never receives patient identifiers. */

/** Severity levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** A logger: plain lines on a TTY, JSON lines otherwise when `json` is set. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  readonly level: LogLevel;
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly json?: boolean;
  readonly write?: (line: string) => void;
}

/**
 * Creates a logger. The level defaults to `RADIOLENS_LOG_LEVEL` or `info`.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: "debug" });
 * log.info("trained", { epochs: 3 });
 * ```
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const envLevel = process.env["RADIOLENS_LOG_LEVEL"] as LogLevel | undefined;
  const level: LogLevel = opts.level ?? (envLevel && envLevel in ORDER ? envLevel : "info");
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < ORDER[level]) return;
    if (opts.json) {
      write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }));
    } else {
      const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
      write(`[${lvl}] ${msg}${extra}`);
    }
  };
  return {
    level,
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** The process-wide default logger. */
export const log: Logger = createLogger();
