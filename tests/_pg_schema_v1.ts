// A schema as version 1 of the PostgreSQL backend left it, for the upgrade
// test. Versions 1 and 2 differ only in ms_restore (1: one kept prefix as a
// range; 2: a text[] of prefixes), so a version-2 schema with ms_restore
// swapped back for version 1's text and the version row set to 1 is what
// version 1 created.
import type pg from "pg";

/** Turns the version-2 schema `schema` into what version 1 created. */
export async function downgradeToV1(raw: pg.Client, schema: string): Promise<void> {
  const s = `"${schema}"`;
  await raw.query(`DROP FUNCTION ${s}.ms_restore(text, text, text, bigint, text[])`);
  // Version 1's function, as it was released.
  await raw.query(`
CREATE OR REPLACE FUNCTION ${s}.ms_restore(
  p_ns text, p_id text, p_name text, p_now bigint, p_keep text, p_keep_end text
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ${s}.ms_record(p_ns, p_id, p_now) THEN RETURN true; END IF;
  PERFORM ${s}.ms_bump(p_ns, NULL);
  IF NOT EXISTS (SELECT 1 FROM ${s}.checkpoints WHERE ns = p_ns AND name = p_name) THEN
    RAISE EXCEPTION 'no such checkpoint' USING ERRCODE = 'MSN01'; -- records nothing
  END IF;
  DELETE FROM ${s}.entries WHERE ns = p_ns
    AND NOT (p_keep IS NOT NULL AND key >= p_keep AND (p_keep_end IS NULL OR key < p_keep_end));
  INSERT INTO ${s}.entries (ns, key, value, version, expires_at)
    SELECT ns, key, value, p_id, expires_at FROM ${s}.checkpoint_entries
    WHERE ns = p_ns AND name = p_name AND (expires_at IS NULL OR expires_at > p_now)
      AND NOT (p_keep IS NOT NULL AND key >= p_keep AND (p_keep_end IS NULL OR key < p_keep_end));
  PERFORM ${s}.ms_set_head(p_ns, p_name, 'restore', p_now);
  RETURN true;
END $$;`);
  await raw.query(`UPDATE ${s}.meta SET value = '1' WHERE name = 'schema_version'`);
}

/** The argument lists of the schema's ms_restore functions, e.g. `["text, text, ..."]`. */
export async function restoreSignatures(raw: pg.Client, schema: string): Promise<string[]> {
  const { rows } = await raw.query(
    `SELECT pg_get_function_identity_arguments(p.oid) AS args FROM pg_proc p
     JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = $1 AND p.proname = 'ms_restore'`,
    [schema],
  );
  return rows.map((r: { args: string }) => r.args);
}
