/**
 * Lua shared by the scripts. The reference algorithms of `@tollgate/core` (algorithms/*.ts) live
 * in Lua twice, each time keeping the reference's evaluation order so both give bit-identical
 * doubles (the conformance suite catches a drift):
 *   - charge and view, the hot path, in decide.ts (no table per item);
 *   - adjust (settle, undo), the rare path, here, on decoded state tables.
 *
 * String states are little-endian doubles packed with Redis's `struct` library: exact, and far
 * cheaper than formatting text:
 *   f: start count   s: start current previous last previousLast   t: tat   q: start end count
 *   l: total, then time cost per charge in the window, oldest first (16 bytes a charge)
 * They live in one hash per subject (LUA_SUBJECT_HASHES); concurrency keeps a ZSET of lease id ->
 * expiry per counter.
 */

/** Constants and helpers every script uses. */
export const LUA_COMMON = `
local INF = 1/0
local EPS = 0.01 -- TIME_EPSILON_MS of core: GCRA compares accumulated times within 10 microseconds
local function fmt(x) return string.format('%.17g', x) end

-- the time of the decision: Redis TIME, or the testing clock the client passed
local function redisTime()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local function clockOf(arg)
  if arg ~= '' then return tonumber(arg) end
  return redisTime()
end

-- a limit's static fields at ARGV[a..a+3], as limitArgs (codec.ts) sends them
local function limitAt(a)
  return { alg = ARGV[a], limit = tonumber(ARGV[a + 1]), w = tonumber(ARGV[a + 2]), cap = tonumber(ARGV[a + 3]) }
end
`;

/** Concurrency leases: a ZSET of lease id -> expiry; live leases have expiry > now. */
export const LUA_LEASES = `
local C = {}
function C.read(key, now)
  local flat = redis.call('ZRANGEBYSCORE', key, '(' .. fmt(now), '+inf', 'WITHSCORES')
  local st = { ids = {}, exps = {} }
  for i = 1, #flat, 2 do
    st.ids[#st.ids + 1] = flat[i]
    st.exps[#st.exps + 1] = tonumber(flat[i + 1])
  end
  return st
end
function C.charge(st, limit, w, cost, now, lease)
  local n = #st.exps
  local fits = n + cost <= limit
  local nxt = { ids = {}, exps = {} }
  for i = 1, n do
    if cost <= 0 or st.ids[i] ~= lease then
      nxt.ids[#nxt.ids + 1] = st.ids[i]
      nxt.exps[#nxt.exps + 1] = st.exps[i]
    end
  end
  if cost > 0 then
    nxt.ids[#nxt.ids + 1] = lease
    nxt.exps[#nxt.exps + 1] = now + w
    nxt.lease, nxt.expiry = lease, now + w
  end
  local retry = 0
  if not fits then
    if cost > limit then retry = INF else retry = st.exps[n + cost - limit] - now end
  end
  return fits, nxt, retry
end
function C.view(st, limit, now)
  local n = #st.exps
  local soonest = now
  for i = 1, n do
    if i == 1 or st.exps[i] < soonest then soonest = st.exps[i] end
  end
  return n, math.max(0, limit - n), soonest - now
end
local function expireLeases(key, now, pad)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now))
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #last == 0 then redis.call('DEL', key); return end
  local ttl = tonumber(last[2]) - now
  if ttl <= 0 then redis.call('DEL', key); return end
  redis.call('PEXPIRE', key, string.format('%d', math.ceil(ttl) + pad))
end
function C.write(key, nxt, now, pad)
  if nxt.lease ~= nil then redis.call('ZADD', key, fmt(nxt.expiry), nxt.lease) end
  expireLeases(key, now, pad)
end
function C.release(key, lease, now, pad)
  redis.call('ZREM', key, lease)
  expireLeases(key, now, pad)
end
`;

/**
 * A subject's string states live in one hash, `prefix:{kind:id}`: field = the counter's hash,
 * value = its packed state. One hash per subject makes a decision over 5 limits one write (HSET
 * of 5 fields) instead of five SETs. A script reads each field once (HGET, cached) and writes each
 * changed hash once, at the end (flush): a hot subject decided 100 times in one batch costs one
 * read and one write. HSET keeps the key's TTL, and the hash already lives as long as any live
 * state read from it: a write that ends no later than one of those (the same window, or a short
 * bucket beside an hourly window) leaves the TTL alone; any other write reads PTTL once per hash
 * and extends it only when the new state outlives it (the hash lives as long as its longest state).
 */
export const LUA_SUBJECT_HASHES = `
-- key -> { field -> packed state, or false when absent or deleted; [1..n] = fields changed, in
-- order (repeats allowed: flush writes each field's last state) }
local cache = {}
local order = {}  -- keys changed, in first-change order
local liveUntil = {} -- key -> latest end (store time) of a state seen in or written to the hash
local pttl = {}   -- key -> ms the hash lives for (PTTL; negative: no key or no TTL), once read
local extend = {} -- key -> PX to set at flush, when a state outlives the hash

-- a live state read from the hash ends at \`ends\`: the hash lives at least that long
local function seen(key, ends)
  if ends > (liveUntil[key] or -INF) then liveUntil[key] = ends end
end

-- the packed state of a counter, or false
local function read(key, field)
  local fields = cache[key]
  if fields == nil then fields = {}; cache[key] = fields end
  local raw = fields[field]
  if raw == nil then
    raw = redis.call('HGET', key, field)
    fields[field] = raw
  end
  return raw
end

-- records a counter's new state (false, or ttl <= 0, deletes it), which ends at store time \`ends\`
local function stage(key, field, raw, ttl, ends, pad)
  if ttl <= 0 then raw = false end
  local fields = cache[key]
  if fields == nil then fields = {}; cache[key] = fields end
  fields[field] = raw
  local changes = #fields
  if changes == 0 then order[#order + 1] = key end
  fields[changes + 1] = field
  if raw and ends > (liveUntil[key] or -INF) then
    liveUntil[key] = ends
    local px = math.ceil(ttl) + pad
    local left = pttl[key]
    if left == nil then left = redis.call('PTTL', key) end
    if px > left then
      left = px
      extend[key] = px
    end
    pttl[key] = left
  end
end

local function flush()
  for j = 1, #order do
    local key = order[j]
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
    if extend[key] then redis.call('PEXPIRE', key, extend[key]) end
  end
end
`;

/**
 * Decoded string states and each algorithm's `adjust`, for ADJUST and UNDO. An item `it` carries
 * alg, limit, w (windowMs), cap (capacity), and for quotas qs/qe (the calendar period containing
 * `now`, computed by the client because Lua has no time zones) and cs (the start of the period a
 * settled charge was made in).
 */
export const LUA_ADJUST = `
local A = {}

-- fixed-window
local F = {}
A.f = F
local function fstart(now, w) return math.floor(now / w) * w end
function F.decode(raw) local a, b = struct.unpack('<dd', raw); return { start = a, count = b } end
function F.encode(st) return struct.pack('<dd', st.start, st.count) end
function F.ttl(st, it, now) return st.start + it.w - now end
function F.adjust(st, it, delta, now, chargedAt)
  local start = fstart(now, it.w)
  local count = 0
  if st ~= nil and st.start == start then count = st.count end
  if delta < 0 then
    if fstart(chargedAt, it.w) ~= start or count == 0 then return st end
    return { start = start, count = math.max(0, count + delta) }
  end
  return { start = start, count = count + delta }
end

-- quota
local Q = {}
A.q = Q
function Q.decode(raw) local a, b, c = struct.unpack('<ddd', raw); return { start = a, stop = b, count = c } end
function Q.encode(st) return struct.pack('<ddd', st.start, st.stop, st.count) end
function Q.ttl(st, it, now) return st.stop - now end
function Q.adjust(st, it, delta, now, chargedAt)
  local count = 0
  if st ~= nil and st.start == it.qs then count = st.count end
  if delta < 0 then
    if it.cs ~= it.qs or count == 0 then return st end
    return { start = it.qs, stop = it.qe, count = math.max(0, count + delta) }
  end
  return { start = it.qs, stop = it.qe, count = count + delta }
end

-- sliding-window
local S = {}
A.s = S
function S.decode(raw)
  local a, b, c, d, e = struct.unpack('<ddddd', raw)
  return { start = a, current = b, previous = c, last = d, previousLast = e }
end
function S.encode(st) return struct.pack('<ddddd', st.start, st.current, st.previous, st.last, st.previousLast) end
function S.ttl(st, it, now) return st.start + 2 * it.w - now end
function S.adjust(st, it, delta, now, chargedAt)
  local w = it.w
  local start = math.floor(now / w) * w
  local current, previous, last, previousLast = 0, 0, 0, 0
  if st ~= nil and st.start == start then
    current, previous, last, previousLast = st.current, st.previous, st.last, st.previousLast
  elseif st ~= nil and st.start == start - w then
    previous, previousLast = st.current, st.last
  end
  local chargedStart = math.floor(chargedAt / w) * w
  local function make(c, p, l)
    return { start = start, current = c, previous = p, last = l, previousLast = previousLast }
  end
  if delta >= 0 then return make(current + delta, previous, math.max(last, now)) end
  if chargedStart == start then return make(math.max(0, current + delta), previous, last) end
  if chargedStart == start - w then return make(current, math.max(0, previous + delta), last) end
  return st
end

-- sliding-log: <d> total, then <dd> time cost per charge, oldest first; decoded as
-- { total, log = { t1, c1, t2, c2, ... } }
local L = {}
A.l = L
function L.decode(raw)
  local st = { total = struct.unpack('<d', raw), log = {} }
  for at = 9, #raw, 16 do
    local t, c = struct.unpack('<dd', raw, at)
    st.log[#st.log + 1] = t
    st.log[#st.log + 1] = c
  end
  return st
end
function L.encode(st)
  local parts = { struct.pack('<d', st.total) }
  for k = 1, #st.log, 2 do parts[#parts + 1] = struct.pack('<dd', st.log[k], st.log[k + 1]) end
  return table.concat(parts)
end
function L.ttl(st, it, now)
  local n = #st.log
  if n == 0 then return 0 end
  return st.log[n - 1] + it.w - now
end
-- the index of the first live charge and what the live charges add up to
local function logLive(st, w, now)
  if st == nil then return 1, 0 end
  local used, from = st.total, 1
  while from <= #st.log and not (st.log[from] + w > now) do
    used = used - st.log[from + 1]
    from = from + 2
  end
  return from, used
end
function L.adjust(st, it, delta, now, chargedAt)
  local from, used = logLive(st, it.w, now)
  local log = {}
  if st ~= nil then log = st.log end
  if delta >= 0 then
    -- extra units are charged now, as a new entry (merged with one of the same instant)
    local nxt = {}
    for k = from, #log do nxt[#nxt + 1] = log[k] end
    if delta > 0 then
      local n = #nxt
      if n > 0 and nxt[n - 1] == now then nxt[n] = nxt[n] + delta
      else nxt[n + 1] = now; nxt[n + 2] = delta end
    end
    return { total = used + delta, log = nxt }
  end
  -- a refund takes from the charge it refunds, while that charge is still in the window
  for k = #log - 1, from, -2 do
    if log[k] == chargedAt then
      local cost = log[k + 1]
      local taken = math.min(cost, -delta)
      local nxt = {}
      for m = from, #log, 2 do
        if m ~= k then
          nxt[#nxt + 1] = log[m]; nxt[#nxt + 1] = log[m + 1]
        elseif taken ~= cost then
          nxt[#nxt + 1] = log[m]; nxt[#nxt + 1] = cost - taken
        end
      end
      return { total = used - taken, log = nxt }
    end
  end
  return st
end

-- token-bucket (GCRA)
local T = {}
A.t = T
function T.decode(raw) local a = struct.unpack('<d', raw); return { tat = a } end
function T.encode(st) return struct.pack('<d', st.tat) end
function T.ttl(st, it, now) return st.tat - now end
function T.adjust(st, it, delta, now)
  local interval = it.w / it.limit
  if delta >= 0 then
    local tat = now
    if st ~= nil then tat = math.max(st.tat, now) end
    return { tat = tat + delta * interval }
  end
  if st == nil or st.tat <= now then return st end
  return { tat = math.max(now, st.tat + delta * interval) }
end

-- string-state I/O (LUA_SUBJECT_HASHES): an expired state reads as nil (the store's clock
-- decides, not only Redis expiry, so a manual test clock is honoured); a write keeps the hash
-- alive as long as the state needs.
local function readString(key, field, it, now)
  local raw = read(key, field)
  if not raw then return nil, '' end
  local st = A[it.alg].decode(raw)
  if A[it.alg].ttl(st, it, now) <= 0 then return nil, raw end
  return st, raw
end

local function writeString(key, field, it, st, now, pad)
  if st == nil then stage(key, field, false, 0, now, pad); return end
  local ttl = A[it.alg].ttl(st, it, now)
  stage(key, field, A[it.alg].encode(st), ttl, now + ttl, pad)
end

-- quota bounds "s1 e1 s2 e2 s3 e3" (previous, current, next period around the client's clock):
-- pick the one containing the store's now
local function pickPeriod(it, text, now)
  local v = {}
  for w in string.gmatch(text, '%S+') do v[#v + 1] = tonumber(w) end
  for i = 1, #v, 2 do
    if v[i] <= now and now < v[i + 1] then it.qs = v[i]; it.qe = v[i + 1]; return end
  end
  error('tollgate: quota period bounds do not contain the store time (clock skew above one period?)')
end
`;
