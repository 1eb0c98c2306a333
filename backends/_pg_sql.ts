// The PostgreSQL backend's schema: tables and the functions every operation
// calls. Each backend operation is one statement (one function call), so it
// is one implicit transaction and one round trip.
//
// Locking: every write first locks the namespace's row in `changes` (a
// writing operation also bumps its counter and sends NOTIFY), so writers of
// one namespace take turns, and the statements after the lock see every
// commit before it (READ COMMITTED takes a new snapshot per statement in a
// volatile function). That makes version checks, checkpoints and restores
// exact without SERIALIZABLE. Keys are `text COLLATE "C"`: byte order, the
// same order as every other backend. Layout: references/backends.md.

/**
 * The schema version this release writes and reads (the `meta` row
 * "schema_version"). An older one is upgraded in place by running
 * {@linkcode schemaSql} again (idempotent). 2: `ms_restore` keeps a list of
 * prefixes (a `text[]`) instead of one range.
 */
export const SCHEMA_VERSION = 2;

/** SQLSTATE raised by ms_commit when a version check fails (rolls the call back). */
export const CONFLICT_STATE = "MSC01";

/** SQLSTATE raised when a restored or deleted checkpoint does not exist (rolls the call back). */
export const MISSING_STATE = "MSN01";

/** SQLSTATE raised when a checkpoint's name is taken without `overwrite` (rolls the call back). */
export const EXISTS_STATE = "MSE01";

/** Quotes an identifier (the schema name is validated to [a-z_][a-z0-9_]*, so this is exact). */
export function ident(name: string): string {
  return `"${name}"`;
}

/** The DDL for `schema`: tables, then functions; idempotent. */
export function schemaSql(schema: string): string {
  const s = ident(schema);
  const live = "(expires_at IS NULL OR expires_at > p_now)";
  // The NOTIFY channel is the schema's name: one LISTEN covers every namespace.
  const channel = `'${schema}'`;
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.meta (
  name text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.changes (
  ns text COLLATE "C" PRIMARY KEY,
  counter bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.entries (
  ns text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  value text NOT NULL,
  version text NOT NULL,
  expires_at bigint,
  PRIMARY KEY (ns, key)
);
CREATE TABLE IF NOT EXISTS ${s}.checkpoints (
  ns text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  created_at bigint NOT NULL,
  auto boolean NOT NULL,
  metadata text NOT NULL,
  key_count integer NOT NULL,
  bytes bigint NOT NULL,
  parent text COLLATE "C",
  PRIMARY KEY (ns, name)
);
CREATE TABLE IF NOT EXISTS ${s}.checkpoint_entries (
  ns text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  value text NOT NULL,
  version text NOT NULL,
  expires_at bigint,
  PRIMARY KEY (ns, name, key)
);
CREATE TABLE IF NOT EXISTS ${s}.heads (
  ns text COLLATE "C" PRIMARY KEY,
  name text COLLATE "C" NOT NULL,
  via text NOT NULL,
  at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.applied (
  ns text COLLATE "C" NOT NULL,
  id text NOT NULL,
  at bigint NOT NULL,
  PRIMARY KEY (ns, id)
);

-- Records a request id; false when it was recorded already (the request is then a no-op).
-- It is the first thing every mutating function does, so a retry of the same id waits for
-- the first attempt's transaction and then finds its id.
CREATE OR REPLACE FUNCTION ${s}.ms_record(p_ns text, p_id text, p_now bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ${s}.applied (ns, id, at) VALUES (p_ns, p_id, p_now) ON CONFLICT DO NOTHING;
  RETURN FOUND;
END $$;

-- Forgets request ids older than p_before, keeping the newest p_keep of the namespace. It
-- scans the namespace's ids by the primary key: no index on "at", which would cost every
-- write a second index insert for a prune that runs once per 256 of them.
CREATE OR REPLACE FUNCTION ${s}.ms_prune(p_ns text, p_before bigint, p_keep integer)
RETURNS void LANGUAGE sql AS $$
  DELETE FROM ${s}.applied WHERE ns = p_ns AND at < p_before AND id NOT IN
    (SELECT id FROM ${s}.applied WHERE ns = p_ns ORDER BY at DESC LIMIT p_keep);
$$;

CREATE OR REPLACE FUNCTION ${s}.ms_set_head(p_ns text, p_name text, p_via text, p_at bigint)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO ${s}.heads (ns, name, via, at) VALUES (p_ns, p_name, p_via, p_at)
  ON CONFLICT (ns) DO UPDATE SET name = excluded.name, via = excluded.via, at = excluded.at;
$$;

-- Locks the namespace without changing it (checkpoints, deleting one).
CREATE OR REPLACE FUNCTION ${s}.ms_lock(p_ns text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO ${s}.changes AS c (ns, counter) VALUES (p_ns, 0)
  ON CONFLICT (ns) DO UPDATE SET counter = c.counter;
$$;

-- Locks the namespace, bumps its change counter and queues a NOTIFY (sent on commit).
CREATE OR REPLACE FUNCTION ${s}.ms_bump(p_ns text, p_hint text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  INSERT INTO ${s}.changes AS c (ns, counter) VALUES (p_ns, 1)
  ON CONFLICT (ns) DO UPDATE SET counter = c.counter + 1 RETURNING counter INTO n;
  PERFORM pg_notify(${channel}, p_ns || ' ' || n || coalesce(' ' || p_hint, ''));
  RETURN n;
END $$;

CREATE OR REPLACE FUNCTION ${s}.ms_commit(
  p_ns text, p_id text, p_version text, p_now bigint, p_check_keys text[], p_check_versions text[],
  p_set_keys text[], p_set_values text[], p_set_expires bigint[], p_deletes text[], p_hint text
) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  i integer;
  v text;
BEGIN
  IF NOT ${s}.ms_record(p_ns, p_id, p_now) THEN RETURN true; END IF;
  PERFORM ${s}.ms_bump(p_ns, p_hint);
  FOR i IN 1 .. coalesce(array_length(p_check_keys, 1), 0) LOOP
    v := NULL;
    SELECT version INTO v FROM ${s}.entries
      WHERE ns = p_ns AND key = p_check_keys[i] AND ${live};
    IF v IS DISTINCT FROM p_check_versions[i] THEN
      -- Undoes the bump and the record too: a failed commit changes and records nothing.
      RAISE EXCEPTION 'version check failed' USING ERRCODE = '${CONFLICT_STATE}';
    END IF;
  END LOOP;
  IF coalesce(array_length(p_deletes, 1), 0) > 0 THEN
    DELETE FROM ${s}.entries WHERE ns = p_ns AND key = ANY (p_deletes);
  END IF;
  INSERT INTO ${s}.entries (ns, key, value, version, expires_at)
    SELECT p_ns, u.k, u.v, p_version, u.e FROM unnest(p_set_keys, p_set_values, p_set_expires) AS u(k, v, e)
  ON CONFLICT (ns, key) DO UPDATE
    SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at;
  RETURN true;
END $$;

-- ms_commit for one key written under one version check (an update() step), with plain
-- parameters: no arrays to build, send and unnest.
CREATE OR REPLACE FUNCTION ${s}.ms_commit1(
  p_ns text, p_id text, p_version text, p_now bigint, p_check_key text, p_check_version text,
  p_key text, p_value text, p_expires bigint, p_hint text
) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE v text;
BEGIN
  IF NOT ${s}.ms_record(p_ns, p_id, p_now) THEN RETURN true; END IF;
  PERFORM ${s}.ms_bump(p_ns, p_hint);
  SELECT version INTO v FROM ${s}.entries WHERE ns = p_ns AND key = p_check_key AND ${live};
  IF v IS DISTINCT FROM p_check_version THEN
    RAISE EXCEPTION 'version check failed' USING ERRCODE = '${CONFLICT_STATE}';
  END IF;
  INSERT INTO ${s}.entries (ns, key, value, version, expires_at)
    VALUES (p_ns, p_key, p_value, p_version, p_expires)
  ON CONFLICT (ns, key) DO UPDATE
    SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at;
  RETURN true;
END $$;

-- Status 'taken', 'exists' (the name is taken and p_overwrite is false) or 'applied' (the
-- request id is recorded: nothing done); the new info's parent is the head it replaces.
CREATE OR REPLACE FUNCTION ${s}.ms_checkpoint(
  p_ns text, p_id text, p_name text, p_created_at bigint, p_auto boolean, p_metadata text,
  p_overwrite boolean, p_now bigint,
  OUT status text, OUT key_count bigint, OUT bytes bigint, OUT parent text
) LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ${s}.ms_record(p_ns, p_id, p_now) THEN
    status := 'applied';
    RETURN;
  END IF;
  PERFORM ${s}.ms_lock(p_ns);
  IF EXISTS (SELECT 1 FROM ${s}.checkpoints WHERE ns = p_ns AND name = p_name) THEN
    IF NOT p_overwrite THEN
      RAISE EXCEPTION 'checkpoint exists' USING ERRCODE = '${EXISTS_STATE}'; -- records nothing
    END IF;
    DELETE FROM ${s}.checkpoint_entries WHERE ns = p_ns AND name = p_name;
    DELETE FROM ${s}.checkpoints WHERE ns = p_ns AND name = p_name;
  END IF;
  WITH copied AS (
    INSERT INTO ${s}.checkpoint_entries (ns, name, key, value, version, expires_at)
      SELECT ns, p_name, key, value, version, expires_at FROM ${s}.entries
      WHERE ns = p_ns AND ${live}
    RETURNING octet_length(key) + octet_length(value) AS size
  )
  SELECT count(*), coalesce(sum(size), 0) INTO key_count, bytes FROM copied;
  SELECT h.name INTO parent FROM ${s}.heads h WHERE h.ns = p_ns;
  INSERT INTO ${s}.checkpoints (ns, name, created_at, auto, metadata, key_count, bytes, parent)
    VALUES (p_ns, p_name, p_created_at, p_auto, p_metadata, key_count, bytes, parent);
  PERFORM ${s}.ms_set_head(p_ns, p_name, 'checkpoint', p_created_at);
  status := 'taken';
END $$;

-- Every restored key gets the request id as its version; keys starting with any of p_keep
-- (empty: none) keep their live values. Version 1 took one prefix as a range (p_keep,
-- p_keep_end): dropped, so that no caller reaches a function that keeps less.
DROP FUNCTION IF EXISTS ${s}.ms_restore(text, text, text, bigint, text, text);
CREATE OR REPLACE FUNCTION ${s}.ms_restore(
  p_ns text, p_id text, p_name text, p_now bigint, p_keep text[]
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ${s}.ms_record(p_ns, p_id, p_now) THEN RETURN true; END IF;
  PERFORM ${s}.ms_bump(p_ns, NULL);
  IF NOT EXISTS (SELECT 1 FROM ${s}.checkpoints WHERE ns = p_ns AND name = p_name) THEN
    RAISE EXCEPTION 'no such checkpoint' USING ERRCODE = '${MISSING_STATE}'; -- records nothing
  END IF;
  DELETE FROM ${s}.entries WHERE ns = p_ns
    AND NOT EXISTS (SELECT 1 FROM unnest(p_keep) AS k(p) WHERE starts_with(key, k.p));
  INSERT INTO ${s}.entries (ns, key, value, version, expires_at)
    SELECT ns, key, value, p_id, expires_at FROM ${s}.checkpoint_entries
    WHERE ns = p_ns AND name = p_name AND ${live}
      AND NOT EXISTS (SELECT 1 FROM unnest(p_keep) AS k(p) WHERE starts_with(key, k.p));
  PERFORM ${s}.ms_set_head(p_ns, p_name, 'restore', p_now);
  RETURN true;
END $$;

CREATE OR REPLACE FUNCTION ${s}.ms_delete_checkpoint(
  p_ns text, p_id text, p_name text, p_now bigint
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ${s}.ms_record(p_ns, p_id, p_now) THEN RETURN true; END IF;
  PERFORM ${s}.ms_lock(p_ns);
  DELETE FROM ${s}.checkpoint_entries WHERE ns = p_ns AND name = p_name;
  DELETE FROM ${s}.checkpoints WHERE ns = p_ns AND name = p_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such checkpoint' USING ERRCODE = '${MISSING_STATE}'; -- records nothing
  END IF;
  RETURN true;
END $$;

CREATE OR REPLACE FUNCTION ${s}.ms_import_checkpoint(
  p_ns text, p_name text, p_created_at bigint, p_auto boolean, p_metadata text, p_parent text,
  p_keys text[], p_values text[], p_versions text[], p_expires bigint[]
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  b bigint;
BEGIN
  PERFORM ${s}.ms_lock(p_ns);
  DELETE FROM ${s}.checkpoint_entries WHERE ns = p_ns AND name = p_name;
  DELETE FROM ${s}.checkpoints WHERE ns = p_ns AND name = p_name;
  WITH copied AS (
    INSERT INTO ${s}.checkpoint_entries (ns, name, key, value, version, expires_at)
      SELECT p_ns, p_name, u.k, u.v, u.ver, u.e
      FROM unnest(p_keys, p_values, p_versions, p_expires) AS u(k, v, ver, e)
    RETURNING octet_length(key) + octet_length(value) AS size
  )
  SELECT count(*), coalesce(sum(size), 0) INTO n, b FROM copied;
  INSERT INTO ${s}.checkpoints (ns, name, created_at, auto, metadata, key_count, bytes, parent)
    VALUES (p_ns, p_name, p_created_at, p_auto, p_metadata, n, b, p_parent);
END $$;

-- Deletes keys, checkpoints and the head; the record of request ids stays.
CREATE OR REPLACE FUNCTION ${s}.ms_clear(p_ns text, p_id text, p_now bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ${s}.ms_record(p_ns, p_id, p_now) THEN RETURN; END IF;
  PERFORM ${s}.ms_bump(p_ns, NULL);
  DELETE FROM ${s}.entries WHERE ns = p_ns;
  DELETE FROM ${s}.checkpoint_entries WHERE ns = p_ns;
  DELETE FROM ${s}.checkpoints WHERE ns = p_ns;
  DELETE FROM ${s}.heads WHERE ns = p_ns;
END $$;

-- Sets (p_name not NULL) or removes the head as given (migration, import).
CREATE OR REPLACE FUNCTION ${s}.ms_import_head(p_ns text, p_name text, p_via text, p_at bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM ${s}.heads WHERE ns = p_ns;
  IF p_name IS NOT NULL THEN PERFORM ${s}.ms_set_head(p_ns, p_name, p_via, p_at); END IF;
END $$;

-- Deletes expired keys; returns how many (the counter moves only when some were).
CREATE OR REPLACE FUNCTION ${s}.ms_purge(p_ns text, p_now bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  PERFORM ${s}.ms_lock(p_ns);
  DELETE FROM ${s}.entries WHERE ns = p_ns AND expires_at <= p_now;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN PERFORM ${s}.ms_bump(p_ns, NULL); END IF;
  RETURN n;
END $$;
`;
}

/** Statements of the backend, by name (prepared once per connection by node-postgres). */
export function statements(schema: string) {
  const s = ident(schema);
  const live = "(expires_at IS NULL OR expires_at > $3)";
  return {
    commit: `SELECT ${s}.ms_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AS ok`,
    commit1: `SELECT ${s}.ms_commit1($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS ok`,
    // The common save (one key, no checks), as one plain statement: what ms_commit does for
    // it (record the id, lock and bump the counter, upsert, NOTIFY), without a function call
    // or arrays. An id recorded already stops it at the first step: no row, nothing written.
    save: `WITH r AS (
        INSERT INTO ${s}.applied (ns, id, at) VALUES ($1, $7, $8) ON CONFLICT DO NOTHING RETURNING 1
      ), c AS (
        INSERT INTO ${s}.changes AS c (ns, counter) SELECT $1, 1 FROM r
        ON CONFLICT (ns) DO UPDATE SET counter = c.counter + 1 RETURNING counter
      ), w AS (
        INSERT INTO ${s}.entries (ns, key, value, version, expires_at)
          SELECT $1, $2, $3, $4, $5::bigint FROM c
        ON CONFLICT (ns, key) DO UPDATE
          SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at
      )
      SELECT pg_notify('${schema}', $1 || ' ' || counter || coalesce(' ' || $6, '')) FROM c`,
    get: `SELECT key, value, version, expires_at FROM ${s}.entries
      WHERE ns = $1 AND key = ANY ($2::text[]) AND ${live}`,
    getOne: `SELECT value, version, expires_at FROM ${s}.entries
      WHERE ns = $1 AND key = $2 AND ${live}`,
    // $3: lower bound, inclusive ($4 = true) or exclusive; $5: upper bound or NULL; $6: limit or NULL.
    list: `SELECT key FROM ${s}.entries WHERE ns = $1 AND (expires_at IS NULL OR expires_at > $2)
      AND (CASE WHEN $4 THEN key >= $3 ELSE key > $3 END) AND ($5::text IS NULL OR key < $5)
      ORDER BY key LIMIT $6`,
    checkpoint: `SELECT * FROM ${s}.ms_checkpoint($1, $2, $3, $4, $5, $6, $7, $8)`,
    listCheckpoints: `SELECT name, created_at, auto, metadata, key_count, bytes, parent
      FROM ${s}.checkpoints WHERE ns = $1 ORDER BY created_at DESC, name DESC`,
    checkpointInfo: `SELECT name, created_at, auto, metadata, key_count, bytes, parent
      FROM ${s}.checkpoints WHERE ns = $1 AND name = $2`,
    // One statement, one snapshot: the info row and the entries agree.
    readCheckpoint: `SELECT c.name AS found, e.key, e.value, e.version, e.expires_at
      FROM ${s}.checkpoints c LEFT JOIN ${s}.checkpoint_entries e ON e.ns = c.ns AND e.name = c.name
      WHERE c.ns = $1 AND c.name = $2 ORDER BY e.key`,
    restore: `SELECT ${s}.ms_restore($1, $2, $3, $4, $5::text[]) AS ok`,
    deleteCheckpoint: `SELECT ${s}.ms_delete_checkpoint($1, $2, $3, $4) AS ok`,
    importCheckpoint: `SELECT ${s}.ms_import_checkpoint($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    namespaces: `SELECT ns FROM ${s}.entries WHERE expires_at IS NULL OR expires_at > $1
      UNION SELECT ns FROM ${s}.checkpoints ORDER BY 1`,
    clear: `SELECT ${s}.ms_clear($1, $2, $3)`,
    head: `SELECT name, via, at FROM ${s}.heads WHERE ns = $1`,
    importHead: `SELECT ${s}.ms_import_head($1, $2, $3, $4)`,
    prune: `SELECT ${s}.ms_prune($1, $2, $3)`,
    purge: `SELECT ${s}.ms_purge($1, $2) AS n`,
  };
}
