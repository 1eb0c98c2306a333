// Creates or checks the backend's schema on first use. Everything happens in
// one transaction under an advisory lock named after the schema, so several
// processes opening a fresh database at once all succeed (one creates, the
// others wait and find it done). The `meta` row "schema_version" lets a later
// release upgrade in place; a newer version than this release knows is refused.
import { BackendError, ValidationError } from "../errors.ts";
import { ident, SCHEMA_VERSION, schemaSql } from "./_pg_sql.ts";

/** A pooled client, as far as creating the schema needs it. */
interface Client {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  release(error?: Error | boolean): void;
}

/** Makes sure `schema` holds this release's tables and functions. */
export async function ensureSchema(
  pool: { connect(): Promise<unknown> },
  schema: string,
): Promise<void> {
  const client = await pool.connect() as Client;
  let broken: Error | undefined;
  try {
    const encoding = (await client.query("SHOW server_encoding")).rows[0]?.server_encoding;
    if (encoding !== "UTF8") {
      throw new ValidationError(
        `The database's encoding is ${String(encoding)}: managing-state needs UTF8 ` +
          `(createdb -E UTF8), so that keys sort and count bytes as on every other backend`,
      );
    }
    await client.query("BEGIN");
    try {
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [
        `managing-state:${schema}`,
      ]);
      const found = await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [
        `${ident(schema)}.meta`,
      ]);
      let version: number | null = null;
      if (found.rows[0]?.present === true) {
        const row = await client.query(
          `SELECT value FROM ${ident(schema)}.meta WHERE name = 'schema_version'`,
        );
        version = row.rows[0] ? Number(row.rows[0].value) : null;
      }
      if (version !== null && version > SCHEMA_VERSION) {
        throw new BackendError(
          `Schema "${schema}" is at version ${version}, newer than this release supports ` +
            `(${SCHEMA_VERSION}): upgrade managing-state`,
        );
      }
      if (version !== SCHEMA_VERSION) {
        await client.query(schemaSql(schema));
        await client.query(
          `INSERT INTO ${ident(schema)}.meta (name, value) VALUES ('schema_version', $1)
           ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
          [String(SCHEMA_VERSION)],
        );
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch((e) => (broken = e));
      throw error;
    }
  } finally {
    client.release(broken ?? false);
  }
}
