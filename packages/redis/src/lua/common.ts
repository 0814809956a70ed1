/**
 * Lua every script shares: constants, the decision's time, the quota period pick, the per-item
 * result columns DECIDE's evaluators fill, and the subject hashes that hold string states.
 *
 * The reference algorithms of `@tollgate/core` (algorithms/*.ts) live in Lua once each, in the
 * file of the same name here (fixed-window.ts, ...), keeping the reference's evaluation order so
 * both give bit-identical doubles (the conformance suite catches a drift).
 */

/** Constants and helpers every script uses. */
export const LUA_COMMON = `
local INF = 1/0
local EPS = 0.01 -- TIME_EPSILON_MS of core: GCRA compares accumulated times within 10 microseconds
local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min
local spack, sunpack = struct.pack, struct.unpack
local function fmt(x) return string.format('%.17g', x) end

-- Redis TIME in ms, read once per call: the time of every decision the call makes
local timeOfCall = nil
local function redisTime()
  if timeOfCall == nil then
    local t = redis.call('TIME')
    timeOfCall = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
  end
  return timeOfCall
end
-- the time of a decision: the testing clock the client passed, or (NaN) Redis TIME
local function clockOf(now)
  if now ~= now then return redisTime() end
  return now
end

-- the calendar period (PERIODS: previous, current, next around the client's clock) holding now
local function pickPeriod(now, previousStart, previousEnd, currentStart, currentEnd, nextStart, nextEnd)
  if currentStart <= now and now < currentEnd then return currentStart, currentEnd end
  if previousStart <= now and now < previousEnd then return previousStart, previousEnd end
  if nextStart <= now and now < nextEnd then return nextStart, nextEnd end
  error('tollgate: quota period bounds do not contain the store time (clock skew above one period?)')
end
`;

/**
 * DECIDE's evaluators decide item \`i\` of the current decision on locals and fill these columns
 * at \`i\` (reused by every decision of a batch) instead of building a table per item: a batch
 * decides ~100 decisions per call, so every table built per item is paid ~100 times.
 */
export const LUA_COLUMNS = `
local fitsOf, retryOf = {}, {}            -- the item's answer to this charge
local nextState, nextTtl, nextEnd = {}, {}, {} -- the state to write if the decision charges
                                          -- (packed), its TTL, the store time it ends at
local usedIfCharged, remainingIfCharged, resetIfCharged = {}, {}, {} -- the item's view if it charges
local usedIfNot, remainingIfNot, resetIfNot = {}, {}, {}            -- ... and if it does not
local fitBefore = {}                      -- monitors over their limit: whether the counter fitted
                                          -- before this charge (the reference's cost-0 re-check)
local stateRead = {}                      -- the unexpired state read ('' = none), for undo
`;

/**
 * A subject's string states live in one hash, \`prefix:{kind:id}\`: field = the counter's hash,
 * value = its packed state. One hash per subject makes a decision over 5 limits one read (HGETALL)
 * and one write (HSET of 5 fields). A script reads each field once (cached) and writes
 * each changed hash once, at the end (flush): a hot subject decided 100 times in one batch costs
 * one read and one write. HSET keeps the key's TTL, and the hash already lives as long as any live
 * state read from it: a write that ends no later than one of those (the same window, or a short
 * bucket beside an hourly window) leaves the TTL alone; any other write reads PTTL once per hash
 * and extends it only when the new state outlives it (the hash lives as long as its longest state).
 */
export const LUA_SUBJECT_HASHES = `
-- key -> { field -> packed state, or false when absent or deleted; [1..n] = fields changed, in
-- order (repeats allowed: flush writes each field's last state) }
local cache = {}
local changedKeys = {} -- keys changed, in first-change order
local liveUntil = {}   -- key -> latest end (store time) of a state seen in or written to the hash
local pttlOf = {}      -- key -> ms the hash lives for (PTTL; negative: no key or no TTL), once read
local extendTo = {}    -- key -> PX to set at flush, when a state outlives the hash
local complete = {}     -- key -> true once the whole hash was read (an absent field is absent)
local readWholeHash = false -- set per decision: true when it has several limits

-- a live state read from the hash ends at \`ends\`: the hash lives at least that long
local function seen(key, ends)
  if ends > (liveUntil[key] or -INF) then liveUntil[key] = ends end
end

local function fieldsOf(key)
  local fields = cache[key]
  if fields == nil then fields = {}; cache[key] = fields end
  return fields
end

-- the packed state of a counter, or false. A decision over several limits reads its subject's
-- whole hash at once (HGETALL: one call, whatever the number of limits; the hash holds only that
-- subject's counters); a single limit reads its field (HGET).
local function read(key, field)
  local fields = cache[key]
  if fields == nil then
    fields = {}
    cache[key] = fields
    if readWholeHash then
      local flat = redis.call('HGETALL', key)
      for k = 1, #flat, 2 do fields[flat[k]] = flat[k + 1] end
      complete[key] = true
    end
  end
  local raw = fields[field]
  if raw == nil then
    if complete[key] then raw = false else raw = redis.call('HGET', key, field) end
    fields[field] = raw
  end
  return raw
end

-- records a counter's new state (false, or ttl <= 0, deletes it), which ends at store time \`ends\`
local function stage(key, field, raw, ttl, ends, pad)
  if ttl <= 0 then raw = false end
  local fields = fieldsOf(key)
  -- deleting what is absent (read so, or already deleted by this call) changes nothing
  if not raw and fields[field] == false then return end
  fields[field] = raw
  local changes = #fields
  if changes == 0 then changedKeys[#changedKeys + 1] = key end
  fields[changes + 1] = field
  if raw and ends > (liveUntil[key] or -INF) then
    liveUntil[key] = ends
    local px = ceil(ttl) + pad
    local left = pttlOf[key]
    if left == nil then left = redis.call('PTTL', key) end
    if px > left then
      left = px
      extendTo[key] = px
    end
    pttlOf[key] = left
  end
end

-- writes every changed hash: one HSET (and HDEL, PEXPIRE when needed) per subject
local function flush()
  for j = 1, #changedKeys do
    local key = changedKeys[j]
    local fields = cache[key]
    local sets, dels = { key }, nil
    for n = 1, #fields do
      local field = fields[n]
      local raw = fields[field]
      if raw then
        sets[#sets + 1] = field
        sets[#sets + 1] = raw
      else
        dels = dels or { key }
        dels[#dels + 1] = field
      end
    end
    if #sets == 3 then redis.call('HSET', key, sets[2], sets[3]) -- one field: skip unpack
    elseif #sets > 1 then redis.call('HSET', unpack(sets)) end
    if dels then redis.call('HDEL', unpack(dels)) end
    if extendTo[key] then redis.call('PEXPIRE', key, extendTo[key]) end
  end
end
`;

/**
 * Settle and undo on any string-state algorithm, through its module's decode / encode / ttl /
 * adjust. An expired state reads as nil (the store's clock decides, not only Redis expiry, so a
 * manual test clock is honoured); a write keeps the hash alive as long as the state needs.
 * \`counter\` is { limit, windowMs, capacity, periodStart, periodEnd, chargedPeriod } (the period
 * fields for quotas only).
 */
export const LUA_STATE_IO = `
local function readState(algorithm, key, field, counter, now)
  local raw = read(key, field)
  if not raw then return nil, '' end
  local state = algorithm.decode(raw)
  if algorithm.ttl(state, counter, now) <= 0 then return nil, raw end
  return state, raw
end

local function writeState(algorithm, key, field, counter, state, now, pad)
  if state == nil then stage(key, field, false, 0, now, pad); return end
  local ttl = algorithm.ttl(state, counter, now)
  stage(key, field, algorithm.encode(state), ttl, now + ttl, pad)
end
`;
