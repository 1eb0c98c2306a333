// deno-lint-ignore-file no-import-prefix -- bench-only peers stay out of the library's imports and lock
// The floor for PostgreSQL: node-postgres with prepared statements (an upsert
// and a select by primary key, awaited one at a time, JSON encoded and
// decoded), and the copy floor for checkpoints: every row into another table
// with one INSERT ... SELECT, in one transaction.
import pg from "npm:pg@8.23.1";
import { caseArgs, keyOf, makeValue, run, runFew, skip } from "./_harness.ts";

const args = caseArgs();
const { n } = args;
const impl = "raw pg";
if (!args.pgUrl) {
  skip("postgres", impl, "no PostgreSQL server");
} else {
  const client = new pg.Client({ connectionString: args.pgUrl });
  await client.connect();
  const t = `raw_${n}`;
  await client.query(`DROP TABLE IF EXISTS ${t}, ${t}_copy`);
  await client.query(`CREATE TABLE ${t} (key text COLLATE "C" PRIMARY KEY, value text NOT NULL)`);
  await client.query(
    `CREATE TABLE ${t}_copy (key text COLLATE "C" PRIMARY KEY, value text NOT NULL)`,
  );
  await client.query(
    `INSERT INTO ${t} SELECT k, v FROM unnest($1::text[], $2::text[]) AS u(k, v)`,
    [
      Array.from({ length: n }, (_, i) => keyOf(i, n)),
      Array.from({ length: n }, (_, i) => JSON.stringify(makeValue(-1 - i))),
    ],
  );
  const upsert = {
    name: "raw_upsert",
    text: `INSERT INTO ${t} (key, value) VALUES ($1, $2)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  };
  const select = { name: "raw_select", text: `SELECT value FROM ${t} WHERE key = $1` };
  await run({ group: "postgres", impl, op: "save", n }, async (i) => {
    await client.query({ ...upsert, values: [keyOf(i, n), JSON.stringify(makeValue(i))] });
  }, args);
  await run({ group: "postgres", impl, op: "load", n }, async (i) => {
    const { rows } = await client.query({ ...select, values: [keyOf(i, n)] });
    return JSON.parse(rows[0].value);
  }, args);
  await runFew({ group: "postgres", impl, op: "copy all keys", n }, async () => {
    await client.query("BEGIN");
    await client.query(`DELETE FROM ${t}_copy`);
    await client.query(`INSERT INTO ${t}_copy SELECT key, value FROM ${t}`);
    await client.query("COMMIT");
  });
  await client.query(`DROP TABLE ${t}, ${t}_copy`);
  await client.end();
}
