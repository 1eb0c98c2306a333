// Lua scripts of the Redis backend. Every write of live keys and every
// request (commit, checkpoint, restore, delete, clear) runs as one script, so
// it is atomic on the server (importCheckpoint and importHead, which touch
// neither, use MULTI), and every key a
// script touches carries the namespace's hash tag, so it lives in one Cluster
// slot. Scripts are sent with EVALSHA; after NOSCRIPT (a restarted or flushed
// server) the full text is sent once with EVAL, which also caches it again.
//
// A stored entry is one string: "1:<expiresAt>:<version bytes>:<version><value>"
// (see _redis_layout.ts); META below reads its header without copying the value.
import { createHash } from "node:crypto";
import { REQUEST_WINDOW } from "../types.ts";

/** A Lua script and its SHA1, for EVALSHA. */
export interface LuaScript {
  /** Short name, for error messages. */
  readonly name: string;
  /** The source. */
  readonly lua: string;
  /** SHA1 of the source, hex. */
  readonly sha: string;
}

function script(name: string, body: string): LuaScript {
  const lua = META + body;
  return { name, lua, sha: createHash("sha1").update(lua).digest("hex") };
}

// meta(s) -> expiresAt (number or nil), version, index of the value's first byte.
const META = `
local function meta(s)
  local a = string.find(s, ':', 3, true)
  local b = string.find(s, ':', a + 1, true)
  local n = tonumber(string.sub(s, a + 1, b - 1))
  local e = string.sub(s, 3, a - 1)
  return tonumber(e), string.sub(s, b + 1, b + n), b + n + 1
end
local function at(ms)
  return string.format('%.0f', math.ceil(ms))
end
-- The same entry with another version (a restore writes fresh versions).
local function repack(s, version)
  local a = string.find(s, ':', 3, true)
  local _, _, start = meta(s)
  return string.sub(s, 1, a) .. #version .. ':' .. version .. string.sub(s, start)
end
-- Records a request id and drops the oldest ids beyond the window.
local function record(req, id, now)
  redis.call('ZADD', req, now, id)
  local n = redis.call('ZCARD', req) - ${REQUEST_WINDOW.count}
  if n > 0 then
    local old = redis.call('ZCOUNT', req, '-inf', '(' .. at(now - ${REQUEST_WINDOW.ms}))
    if old < n then n = old end
    if n > 0 then redis.call('ZREMRANGEBYRANK', req, 0, n - 1) end
  end
end
`;

/**
 * The common save: one key, no checks, no expiry. KEYS: idx, ttl, chg, key,
 * req. ARGV: member, packed entry, request id, now. Returns 1.
 */
export const SAVE: LuaScript = script(
  "save",
  `
if redis.call('ZSCORE', KEYS[5], ARGV[3]) then return 1 end
record(KEYS[5], ARGV[3], tonumber(ARGV[4]))
redis.call('SET', KEYS[4], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('INCR', KEYS[3])
return 1
`,
);

/**
 * Checks versions, then deletes and sets keys, records the request id and
 * bumps the change counter. KEYS: idx, ttl, chg, req, then the data keys of
 * the checks, deletes and sets. ARGV: now, #checks, #deletes, #sets, data key
 * prefix, request id, then per check "-" (must be absent) or "=<version>",
 * then per set expiresAt ("" for none) and the packed entry. Returns 1 (also
 * when the id is recorded: nothing is written again), or 0 when a check
 * failed (nothing written, no id recorded).
 */
export const COMMIT: LuaScript = script(
  "commit",
  `
local now = tonumber(ARGV[1])
if redis.call('ZSCORE', KEYS[4], ARGV[6]) then return 1 end
local nc, nd, ns = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local plen = #ARGV[5]
local a = 7
for i = 1, nc do
  local want = ARGV[a]
  a = a + 1
  local have = nil
  local cur = redis.call('GET', KEYS[4 + i])
  if cur then
    local exp, ver = meta(cur)
    if not exp or exp > now then have = ver end
  end
  if want == '-' then
    if have then return 0 end
  elseif have ~= string.sub(want, 2) then
    return 0
  end
end
record(KEYS[4], ARGV[6], now)
local k = 4 + nc
for i = 1, nd do
  local key = KEYS[k + i]
  local m = string.sub(key, plen + 1)
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZREM', KEYS[2], m)
end
k = k + nd
for i = 1, ns do
  local key = KEYS[k + i]
  local m = string.sub(key, plen + 1)
  local exp, packed = ARGV[a], ARGV[a + 1]
  a = a + 2
  if exp == '' then
    redis.call('SET', key, packed)
    redis.call('ZREM', KEYS[2], m)
    redis.call('ZADD', KEYS[1], 0, m)
  elseif tonumber(exp) <= now then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m)
  else
    redis.call('SET', key, packed, 'PXAT', at(tonumber(exp)))
    redis.call('ZADD', KEYS[2], exp, m)
    redis.call('ZADD', KEYS[1], 0, m)
  end
end
-- Drop a few expired keys from the index so it cannot grow without bound.
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 64)
for _, m in ipairs(old) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZREM', KEYS[2], m)
  redis.call('DEL', ARGV[5] .. m)
end
redis.call('INCR', KEYS[3])
return 1
`,
);

/**
 * Lists live keys in byte order between two ZRANGEBYLEX bounds, skipping
 * keys that expired by the caller's clock or the server's.
 * KEYS: idx, ttl. ARGV: min, max, most keys (0 = all), now, data key prefix.
 */
export const LIST: LuaScript = script(
  "list",
  `
local want, now = tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('ZCARD', KEYS[2]) == 0 then
  if want > 0 then
    return redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, want)
  end
  return redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2])
end
local out, min = {}, ARGV[1]
local batch = math.max(want, 256)
while true do
  local page = redis.call('ZRANGEBYLEX', KEYS[1], min, ARGV[2], 'LIMIT', 0, batch)
  for _, m in ipairs(page) do
    local exp = redis.call('ZSCORE', KEYS[2], m)
    if not exp or (tonumber(exp) > now and redis.call('EXISTS', ARGV[5] .. m) == 1) then
      out[#out + 1] = m
      if want > 0 and #out >= want then return out end
    end
  end
  if #page < batch then return out end
  min = '(' .. page[#page]
end
`,
);

/**
 * Copies the live keys into a checkpoint hash, records its info with the
 * head as its parent, and makes it the head. KEYS: idx, cps, checkpoint
 * hash, req, head. ARGV: now, data key prefix, name, overwrite ("1"/"0"),
 * info JSON up to `"parent":` (the script appends the parent and the "}"),
 * request id, createdAt. Returns {keyCount, bytes, parent or ""}; nil when
 * the name is taken and overwrite is "0"; {-1, stored info or ""} when the
 * request id is recorded.
 */
export const CHECKPOINT: LuaScript = script(
  "checkpoint",
  `
local now = tonumber(ARGV[1])
if redis.call('ZSCORE', KEYS[4], ARGV[6]) then
  return {-1, redis.call('HGET', KEYS[2], ARGV[3]) or ''}
end
if ARGV[4] ~= '1' and redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return false end
record(KEYS[4], ARGV[6], now)
local parent = redis.call('HGET', KEYS[5], 'name')
redis.call('DEL', KEYS[3])
local count, bytes = 0, 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local s = redis.call('GET', ARGV[2] .. m)
  if s then
    local exp, _, start = meta(s)
    if not exp or exp > now then
      redis.call('HSET', KEYS[3], m, s)
      count = count + 1
      bytes = bytes + #m + #s - start + 1
    end
  end
end
local info = ARGV[5] .. (parent and cjson.encode(parent) or 'null') .. '}'
redis.call('HSET', KEYS[2], ARGV[3], count .. ':' .. bytes .. ':' .. info)
redis.call('HSET', KEYS[5], 'name', ARGV[3], 'via', 'checkpoint', 'at', ARGV[7])
return {count, bytes, parent or ''}
`,
);

/**
 * Makes the namespace exactly the checkpoint's live entries, each with the
 * request id as its fresh version, except keys under a kept prefix, which
 * keep their live values; makes the checkpoint the head. KEYS: idx, ttl, chg,
 * cps, checkpoint hash, req, head. ARGV: now, data key prefix, name, request
 * id, then the kept prefixes (none: keep nothing). Returns 1 (also when the id
 * is recorded), or 0 when the checkpoint does not exist.
 */
export const RESTORE: LuaScript = script(
  "restore",
  `
local now = tonumber(ARGV[1])
if redis.call('ZSCORE', KEYS[6], ARGV[4]) then return 1 end
if redis.call('HEXISTS', KEYS[4], ARGV[3]) == 0 then return 0 end
record(KEYS[6], ARGV[4], now)
local first = {}
for i = 5, #ARGV do first[i] = string.byte(ARGV[i], 1) end
local function kept(m)
  local b = string.byte(m, 1)
  for i = 5, #ARGV do
    -- the first byte rules out most keys without making a substring
    if (first[i] == nil or first[i] == b) and string.sub(m, 1, #ARGV[i]) == ARGV[i] then
      return true
    end
  end
  return false
end
-- The index and expiry sets are dropped whole and the (few) kept keys put back:
-- cheaper than removing every other member one by one.
local held, exps = {}, {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if kept(m) then
    held[#held + 1] = m
    exps[#held] = redis.call('ZSCORE', KEYS[2], m)
  else
    redis.call('DEL', ARGV[2] .. m)
  end
end
redis.call('DEL', KEYS[1], KEYS[2])
for i, m in ipairs(held) do
  redis.call('ZADD', KEYS[1], 0, m)
  if exps[i] then redis.call('ZADD', KEYS[2], exps[i], m) end
end
local flat = redis.call('HGETALL', KEYS[5])
for i = 1, #flat, 2 do
  local m, s = flat[i], repack(flat[i + 1], ARGV[4])
  local exp = meta(s)
  if kept(m) then
    -- the live value stays
  elseif not exp then
    redis.call('SET', ARGV[2] .. m, s)
    redis.call('ZADD', KEYS[1], 0, m)
  elseif exp > now then
    redis.call('SET', ARGV[2] .. m, s, 'PXAT', at(exp))
    redis.call('ZADD', KEYS[2], exp, m)
    redis.call('ZADD', KEYS[1], 0, m)
  end
end
redis.call('HSET', KEYS[7], 'name', ARGV[3], 'via', 'restore', 'at', ARGV[1])
redis.call('INCR', KEYS[3])
return 1
`,
);

/** Reads a checkpoint: nil if absent, else its hash as a flat list. KEYS: cps, hash. ARGV: name. */
export const READ_CHECKPOINT: LuaScript = script(
  "read checkpoint",
  `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
return redis.call('HGETALL', KEYS[2])
`,
);

/**
 * Deletes a checkpoint; 1 if it existed (or the request id is recorded).
 * KEYS: cps, hash, req. ARGV: name, request id, now.
 */
export const DELETE_CHECKPOINT: LuaScript = script(
  "delete checkpoint",
  `
if redis.call('ZSCORE', KEYS[3], ARGV[2]) then return 1 end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
record(KEYS[3], ARGV[2], tonumber(ARGV[3]))
redis.call('DEL', KEYS[2])
return 1
`,
);

/**
 * Deletes every key and checkpoint of a namespace and bumps the change
 * counter (kept, so a cache never mistakes a new state for an old one), and
 * records the request id (the record of ids is kept too).
 * Removes the head. KEYS: idx, ttl, chg, cps, req, head. ARGV: data key
 * prefix, checkpoint key prefix, request id, now.
 */
export const CLEAR: LuaScript = script(
  "clear",
  `
if redis.call('ZSCORE', KEYS[5], ARGV[3]) then return 1 end
record(KEYS[5], ARGV[3], tonumber(ARGV[4]))
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  redis.call('DEL', ARGV[1] .. m)
end
for _, n in ipairs(redis.call('HKEYS', KEYS[4])) do
  redis.call('DEL', ARGV[2] .. n)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[4], KEYS[6])
redis.call('INCR', KEYS[3])
return 1
`,
);

/**
 * Repairs the index: drops expired members and members whose data key is
 * gone (evicted, or deleted by hand). KEYS: idx, ttl, chg. ARGV: now, data
 * key prefix. Returns {expired, dangling}.
 */
export const RECOVER: LuaScript = script(
  "recover",
  `
local now = tonumber(ARGV[1])
local expired, dangling = 0, 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZREM', KEYS[2], m)
  redis.call('DEL', ARGV[2] .. m)
  expired = expired + 1
end
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', ARGV[2] .. m) == 0 then
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m)
    dangling = dangling + 1
  end
end
if expired + dangling > 0 then redis.call('INCR', KEYS[3]) end
return {expired, dangling}
`,
);

/** The commands of an ioredis client (standalone or Cluster) that scripts need. */
export interface ScriptRunner {
  evalsha(sha: string, numKeys: number, ...args: string[]): Promise<unknown>;
  eval(lua: string, numKeys: number, ...args: string[]): Promise<unknown>;
}

/** Runs a script by SHA, sending its source once if the server does not have it. */
export async function runScript(
  client: ScriptRunner,
  s: LuaScript,
  keys: string[],
  args: string[],
): Promise<unknown> {
  try {
    return await client.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
    return await client.eval(s.lua, keys.length, ...keys, ...args);
  }
}
