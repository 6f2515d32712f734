/** The shared query builder: one QIDO filter, listing and count for both dialects, placeholders and byte order as data. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  countQuery,
  findInstancesQuery,
  listQuery,
  POSTGRES,
  qidoQuery,
  SQLITE,
  schemaSql,
} from "./queries.js";

const squash = (s: string): string => s.replace(/\s+/g, " ").trim();

test("findInstances: keys in order, numbered or positional placeholders, byte order on PostgreSQL", () => {
  const q = { modality: "CT", studyInstanceUid: "1.2.3", limit: 10, offset: 20 } as const;
  const pg = findInstancesQuery(q, POSTGRES);
  assert.equal(
    squash(pg.sql),
    'SELECT * FROM instances WHERE study_instance_uid = $1 AND modality = $2 ORDER BY study_instance_uid COLLATE "C", series_instance_uid COLLATE "C", received_at COLLATE "C", sop_instance_uid COLLATE "C" LIMIT $3 OFFSET $4',
  );
  assert.deepEqual(pg.args, ["1.2.3", "CT", 10, 20]);
  const lite = findInstancesQuery(q, SQLITE);
  assert.equal(
    squash(lite.sql),
    "SELECT * FROM instances WHERE study_instance_uid = ? AND modality = ? ORDER BY study_instance_uid, series_instance_uid, received_at, sop_instance_uid LIMIT ? OFFSET ?",
  );
  assert.deepEqual(lite.args, pg.args, "the same arguments in the same order");
  assert.deepEqual(findInstancesQuery({}, SQLITE).args, [1000, 0], "default page");
});

test("list and count with and without a filter; one schema with the dialect's types", () => {
  assert.deepEqual(listQuery("jobs", 5, POSTGRES, "status", "failed"), {
    sql: "SELECT * FROM jobs WHERE status = $1 ORDER BY id DESC LIMIT $2",
    args: ["failed", 5],
  });
  assert.deepEqual(listQuery("audit", 5, SQLITE, "event_id", undefined), {
    sql: "SELECT * FROM audit ORDER BY id DESC LIMIT ?",
    args: [5],
  });
  assert.deepEqual(countQuery("outbox", SQLITE, "sent"), {
    sql: "SELECT COUNT(*) AS n FROM outbox WHERE status = ?",
    args: ["sent"],
  });
  assert.deepEqual(countQuery("predictions", POSTGRES).args, []);
  assert.match(schemaSql(POSTGRES), /id BIGSERIAL PRIMARY KEY/);
  assert.match(schemaSql(SQLITE), /id INTEGER PRIMARY KEY AUTOINCREMENT/);
  assert.equal(
    schemaSql(SQLITE).replace(/INTEGER PRIMARY KEY AUTOINCREMENT|INTEGER/g, "T"),
    schemaSql(POSTGRES).replace(/BIGSERIAL PRIMARY KEY|BIGINT|INTEGER/g, "T"),
    "the same tables, columns and indexes",
  );
});

test("qidoQuery: wildcards escaped per dialect, fuzzy names by component, lower levels by subquery, groups paged", () => {
  const s = {
    level: "study" as const,
    filters: [
      {
        column: "patient_name" as const,
        level: "study" as const,
        match: { kind: "wildcard" as const, pattern: "O_H%*[?" },
      },
      {
        column: "modality" as const,
        level: "series" as const,
        match: { kind: "list" as const, values: ["CT", "MR"] },
      },
    ],
    limit: 10,
    offset: 5,
  };
  const pg = qidoQuery(s, POSTGRES);
  assert.match(
    squash(pg.sql),
    /WHERE patient_name LIKE \$1 ESCAPE '\\' AND study_instance_uid IN \(SELECT study_instance_uid FROM instances WHERE modality IN \(\$2, \$3\)\) GROUP BY study_instance_uid ORDER BY study_instance_uid COLLATE "C" LIMIT \$4 OFFSET \$5$/,
  );
  assert.deepEqual(pg.args, ["O\\_H\\%%[_", "CT", "MR", 10, 5]);
  assert.match(squash(pg.sql), /string_agg\(DISTINCT modality, ','\) AS modalities/);
  const lite = qidoQuery(s, SQLITE);
  assert.match(squash(lite.sql), /WHERE patient_name GLOB \? AND study_instance_uid IN \(SELECT/);
  assert.deepEqual(lite.args, ["O_H%*[[]?", "CT", "MR", 10, 5]);
  const fuzzy = qidoQuery(
    {
      level: "instance",
      filters: [
        { column: "patient_name", level: "study", match: { kind: "fuzzy-pn", components: ["Doe", "J?"] } },
      ],
      limit: 1,
      offset: 0,
    },
    POSTGRES,
  );
  assert.match(
    squash(fuzzy.sql),
    /WHERE \(LOWER\(split_part\(patient_name, '\^', 1\)\) LIKE \$1 ESCAPE '\\' AND LOWER\(split_part\(patient_name, '\^', 2\)\) LIKE \$2 ESCAPE '\\'\)/,
  );
  assert.deepEqual(fuzzy.args, ["doe%", "j_%", 1, 0]);
  const range = qidoQuery(
    {
      level: "series",
      filters: [{ column: "study_date", level: "study", match: { kind: "range", to: "20201231" } }],
      limit: 1,
      offset: 0,
    },
    SQLITE,
  );
  assert.match(
    squash(range.sql),
    /WHERE \(study_date <> '' AND study_date <= \?\) GROUP BY study_instance_uid, series_instance_uid/,
  );
});
