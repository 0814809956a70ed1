import { LUA_ADJUST, LUA_COMMON, LUA_LEASES, LUA_SUBJECT_HASHES } from "./algorithms.js";

export { DECIDE } from "./decide.js";

/** Fields each adjusted item takes in ARGV (see ADJUST). */
export const ADJUST_ITEM_FIELDS = 9;

/** Settles charges (refund or extra charge) with each algorithm's `adjust`. */
export const ADJUST = `${LUA_COMMON}${LUA_SUBJECT_HASHES}${LUA_ADJUST}
-- KEYS: the subject hash of each item
local pad = tonumber(ARGV[1])    -- ms added to every TTL (testing clock only)
local now = clockOf(ARGV[2])     -- '' = Redis TIME
local a = 3
for i = 1, #KEYS do
  local it = limitAt(a)
  local delta = tonumber(ARGV[a + 4])       -- units to add (negative refunds)
  local chargedAt = tonumber(ARGV[a + 5])   -- store time of the original charge
  if it.alg == 'q' then
    pickPeriod(it, ARGV[a + 6], now)        -- period bounds around the client's clock
    it.cs = tonumber(ARGV[a + 7])           -- start of the period containing chargedAt
  end
  local field = ARGV[a + 8]                 -- the counter's field in the hash
  a = a + ${ADJUST_ITEM_FIELDS}
  if it.alg ~= 'c' then
    local st = readString(KEYS[i], field, it, now)
    local nxt = A[it.alg].adjust(st, it, delta, now, chargedAt)
    if nxt ~= st then writeString(KEYS[i], field, it, nxt, now, pad) end
  end
end
flush()
return 1
`;

/** Frees concurrency leases. */
export const RELEASE = `${LUA_COMMON}${LUA_LEASES}
-- KEYS: one concurrency key per lease
local pad = tonumber(ARGV[1])    -- ms added to every TTL (testing clock only)
local now = clockOf(ARGV[2])     -- '' = Redis TIME
for i = 1, #KEYS do
  C.release(KEYS[i], ARGV[i + 2], now, pad)  -- ARGV[i+2]: the lease id of KEYS[i]
end
return 1
`;

/** Fields each undone item takes in ARGV (see UNDO). */
export const UNDO_ITEM_FIELDS = 12;

/**
 * Takes back one slot group's charge when another group of the same decision denied (Redis
 * Cluster). When nobody wrote the counter since, its previous state is restored exactly;
 * otherwise the cost is refunded with the algorithm's adjust, which never over-admits.
 */
export const UNDO = `${LUA_COMMON}${LUA_LEASES}${LUA_SUBJECT_HASHES}${LUA_ADJUST}
-- KEYS: per item, its subject hash (its lease ZSET for concurrency)
local pad = tonumber(ARGV[1])    -- ms added to every TTL (testing clock only)
local now = clockOf(ARGV[2])     -- '' = Redis TIME
local a = 3
for i = 1, #KEYS do
  local it = limitAt(a)
  local cost = tonumber(ARGV[a + 4])        -- units the group charged
  local lease = ARGV[a + 5]                 -- concurrency lease taken
  local before = ARGV[a + 6]                -- raw state before the charge ('' = none)
  local written = ARGV[a + 7]               -- raw state the charge wrote
  local chargedAt = tonumber(ARGV[a + 8])   -- store time of the charge
  if it.alg == 'q' then
    pickPeriod(it, ARGV[a + 9], now)        -- period bounds around the client's clock
    it.cs = tonumber(ARGV[a + 10])          -- start of the period containing chargedAt
  end
  local field = ARGV[a + 11]                -- the counter's field in the hash
  a = a + ${UNDO_ITEM_FIELDS}
  if it.alg == 'c' then
    if lease ~= '' then C.release(KEYS[i], lease, now, pad) end
  elseif cost > 0 then
    if read(KEYS[i], field) == written then
      local st = nil
      if before ~= '' then st = A[it.alg].decode(before) end
      writeString(KEYS[i], field, it, st, now, pad)
    else
      local st = readString(KEYS[i], field, it, now)
      local nxt = A[it.alg].adjust(st, it, -cost, now, chargedAt)
      if nxt ~= st then writeString(KEYS[i], field, it, nxt, now, pad) end
    end
  end
end
flush()
return 1
`;

/** Fields each seeded item takes in ARGV (see SEED). */
export const SEED_ITEM_FIELDS = 4;

/**
 * Seed if absent: sets each quota counter with no live state to the usage the ledger holds for
 * the current period. A counter that exists (seeded or charged by someone else first) is kept,
 * so concurrent first requests after a flush seed it once.
 */
export const SEED = `${LUA_COMMON}${LUA_SUBJECT_HASHES}${LUA_ADJUST}
-- KEYS: the subject hash of each item
local pad = tonumber(ARGV[1])    -- ms added to every TTL (testing clock only)
local now = clockOf(ARGV[2])     -- '' = Redis TIME
local a = 3
for i = 1, #KEYS do
  local field = ARGV[a]                     -- the counter's field in the hash
  local it = { alg = 'q' }
  pickPeriod(it, ARGV[a + 1], now)          -- period bounds around the client's clock
  local start = tonumber(ARGV[a + 2])       -- the period the ledger was read for
  local count = tonumber(ARGV[a + 3])       -- its usage so far
  a = a + ${SEED_ITEM_FIELDS}
  if start == it.qs and readString(KEYS[i], field, it, now) == nil then
    writeString(KEYS[i], field, it, { start = it.qs, stop = it.qe, count = count }, now, pad)
  end
end
flush()
return 1
`;
