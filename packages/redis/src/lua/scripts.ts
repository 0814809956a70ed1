import { LUA_ALGORITHMS } from "./algorithms.js";

/** Fields each decided item takes in ARGV (see DECIDE). */
export const DECIDE_ITEM_FIELDS = 8;

/**
 * Decides a batch of decisions in order, each all-or-nothing exactly as core's evaluateDecision:
 * read every state, evaluate every item, charge all (monitors included) only when every enforced
 * item fits. All keys of one call share a hash slot (or the server is not a cluster).
 */
export const DECIDE = `${LUA_ALGORITHMS}
-- KEYS: one counter key per item, decisions and their items in order
local pad = tonumber(ARGV[1])        -- ms added to every PEXPIRE (testing clock only; 0 otherwise)
local decisions = tonumber(ARGV[2])  -- number of decisions in this batch
local out = {}
local a = 3                          -- ARGV cursor
local k = 1                          -- KEYS cursor
local sharedNow = nil
for d = 1, decisions do
  local nowArg = ARGV[a]             -- '' = Redis TIME; else the testing clock's ms
  local charge = ARGV[a + 1] == '1'  -- false evaluates without changing anything
  local report = ARGV[a + 2] == '1'  -- also answer the uncharged views and raw states (multi-slot decisions)
  local n = tonumber(ARGV[a + 3])    -- items in this decision
  a = a + 4
  local now
  if nowArg == '' then
    if sharedNow == nil then sharedNow = clockOf('') end
    now = sharedNow
  else
    now = clockOf(nowArg)
  end
  local items, states, raws, fits, nexts, retries = {}, {}, {}, {}, {}, {}
  local enforcedFit = true
  for i = 1, n do
    local it = {
      alg = ARGV[a],                   -- f | s | t | q | c
      limit = tonumber(ARGV[a + 1]),
      w = tonumber(ARGV[a + 2]),       -- windowMs (lease TTL for concurrency)
      cap = tonumber(ARGV[a + 3]),     -- capacity (burst for token-bucket)
      monitor = ARGV[a + 4] == '1',
      cost = tonumber(ARGV[a + 5]),
      lease = ARGV[a + 6],             -- concurrency lease id ('' = anonymous)
      key = KEYS[k],
    }
    if it.alg == 'q' then pickPeriod(it, ARGV[a + 7], now) end   -- ARGV[a+7]: quota period bounds
    a = a + ${DECIDE_ITEM_FIELDS}
    k = k + 1
    if it.alg == 'c' then
      if it.lease == '' then it.lease = 'anonymous-' .. fmt(now) end
      states[i] = C.read(it.key, now)
      raws[i] = ''
      fits[i], nexts[i], retries[i] = C.charge(states[i], it, it.cost, now, it.lease)
    else
      states[i], raws[i] = readString(it.key, it, now)
      if states[i] == nil then raws[i] = '' end
      fits[i], nexts[i], retries[i] = A[it.alg].charge(states[i], it, it.cost, now)
    end
    if not fits[i] and not it.monitor then enforcedFit = false end
    items[i] = it
  end
  local charged = charge and enforcedFit
  local written = {}
  if charged then
    for i = 1, n do
      local it = items[i]
      if it.alg == 'c' then C.write(it.key, nexts[i], it, now, pad); written[i] = ''
      else written[i] = writeString(it.key, it, nexts[i], now, pad) end
    end
  end
  -- The answer is packed little-endian binary (see batcher.ts), one string for the whole batch.
  out[#out + 1] = struct.pack('<dB', now, charged and 1 or 0)
  for i = 1, n do
    local it = items[i]
    local alg = A[it.alg]
    local used, remaining, reset
    if charged then used, remaining, reset = alg.view(nexts[i], it, now)
    else used, remaining, reset = alg.view(states[i], it, now) end
    -- A monitor crosses when this charge goes over and the counter was not over before it.
    local crossed = false
    if charged and it.monitor and not fits[i] then
      if it.alg == 'c' then crossed = (C.charge(states[i], it, 0, now, it.lease))
      else crossed = (alg.charge(states[i], it, 0, now)) end
    end
    out[#out + 1] = struct.pack('<BBdddd', fits[i] and 1 or 0, crossed and 1 or 0, used, remaining, reset, retries[i])
    if report then
      local u, r, z = alg.view(states[i], it, now)
      local w = written[i] or ''
      out[#out + 1] = struct.pack('<dddH', u, r, z, #raws[i]) .. raws[i] .. struct.pack('<H', #w) .. w
    end
  end
end
return table.concat(out)
`;

/** Fields each adjusted item takes in ARGV (see ADJUST). */
export const ADJUST_ITEM_FIELDS = 8;

/** Settles charges (refund or extra charge) with each algorithm's `adjust`. */
export const ADJUST = `${LUA_ALGORITHMS}
-- KEYS: one counter key per item
local pad = tonumber(ARGV[1])    -- ms added to every PEXPIRE (testing clock only)
local now = clockOf(ARGV[2])     -- '' = Redis TIME
local a = 3
for i = 1, #KEYS do
  local it = {
    alg = ARGV[a], limit = tonumber(ARGV[a + 1]), w = tonumber(ARGV[a + 2]), cap = tonumber(ARGV[a + 3]),
  }
  local delta = tonumber(ARGV[a + 4])       -- units to add (negative refunds)
  local chargedAt = tonumber(ARGV[a + 5])   -- store time of the original charge
  if it.alg == 'q' then
    pickPeriod(it, ARGV[a + 6], now)        -- period bounds around the client's clock
    it.cs = tonumber(ARGV[a + 7])           -- start of the period containing chargedAt
  end
  a = a + ${ADJUST_ITEM_FIELDS}
  if it.alg ~= 'c' then
    local st = readString(KEYS[i], it, now)
    local nxt = A[it.alg].adjust(st, it, delta, now, chargedAt)
    if nxt ~= st then writeString(KEYS[i], it, nxt, now, pad) end
  end
end
return 1
`;

/** Frees concurrency leases. */
export const RELEASE = `${LUA_ALGORITHMS}
-- KEYS: one concurrency key per lease
local pad = tonumber(ARGV[1])    -- ms added to every PEXPIRE (testing clock only)
local now = clockOf(ARGV[2])     -- '' = Redis TIME
for i = 1, #KEYS do
  C.release(KEYS[i], ARGV[i + 2], now, pad)  -- ARGV[i+2]: the lease id of KEYS[i]
end
return 1
`;

/** Fields each undone item takes in ARGV (see UNDO). */
export const UNDO_ITEM_FIELDS = 11;

/**
 * Takes back one slot group's charge when another group of the same decision denied (Redis
 * Cluster). When nobody wrote the counter since, its previous state is restored exactly;
 * otherwise the cost is refunded with the algorithm's adjust, which never over-admits.
 */
export const UNDO = `${LUA_ALGORITHMS}
-- KEYS: one counter key per item
local pad = tonumber(ARGV[1])    -- ms added to every PEXPIRE (testing clock only)
local now = clockOf(ARGV[2])     -- '' = Redis TIME
local a = 3
for i = 1, #KEYS do
  local it = {
    alg = ARGV[a], limit = tonumber(ARGV[a + 1]), w = tonumber(ARGV[a + 2]), cap = tonumber(ARGV[a + 3]),
  }
  local cost = tonumber(ARGV[a + 4])        -- units the group charged
  local lease = ARGV[a + 5]                 -- concurrency lease taken
  local before = ARGV[a + 6]                -- raw state before the charge ('' = none)
  local written = ARGV[a + 7]               -- raw state the charge wrote
  local chargedAt = tonumber(ARGV[a + 8])   -- store time of the charge
  if it.alg == 'q' then
    pickPeriod(it, ARGV[a + 9], now)        -- period bounds around the client's clock
    it.cs = tonumber(ARGV[a + 10])          -- start of the period containing chargedAt
  end
  a = a + ${UNDO_ITEM_FIELDS}
  if it.alg == 'c' then
    if lease ~= '' then C.release(KEYS[i], lease, now, pad) end
  elseif cost > 0 then
    local raw = redis.call('GET', KEYS[i])
    if raw == written then
      local st = nil
      if before ~= '' then st = A[it.alg].decode(before) end
      writeString(KEYS[i], it, st, now, pad)
    else
      local st = readString(KEYS[i], it, now)
      local nxt = A[it.alg].adjust(st, it, -cost, now, chargedAt)
      if nxt ~= st then writeString(KEYS[i], it, nxt, now, pad) end
    end
  end
end
return 1
`;
