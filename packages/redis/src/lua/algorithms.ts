/**
 * The reference algorithms of `@tollgate/core` (algorithms/*.ts) in Lua, shared by every script.
 * Each expression keeps the reference's evaluation order so both give bit-identical doubles; a
 * change there must be mirrored here (the conformance suite catches a drift).
 *
 * An item `it` carries: alg ("f" fixed-window, "s" sliding-window, "t" token-bucket, "q" quota,
 * "c" concurrency), limit, w (windowMs), cap (capacity), and for quotas qs/qe (the calendar period
 * containing `now`, computed by the client because Lua has no time zones) and cs (the start of the
 * period a settled charge was made in).
 *
 * String states are little-endian doubles packed with Redis's `struct` library: exact, and far
 * cheaper than formatting text (string.format('%.17g') dominated the script's cost):
 *   f: start count   s: start current previous last previousLast   t: tat   q: start end count
 * Concurrency keeps a ZSET of lease id -> expiry.
 */
export const LUA_ALGORITHMS = `
local INF = 1/0
local EPS = 0.01 -- TIME_EPSILON_MS of core: GCRA compares accumulated times within 10 microseconds

local function fmt(x) return string.format('%.17g', x) end


local A = {}

-- fixed-window ------------------------------------------------------------------------------
local F = {}
A.f = F
local function fstart(now, w) return math.floor(now / w) * w end
function F.decode(raw) local a, b = struct.unpack('<dd', raw); return { start = a, count = b } end
function F.encode(st) return struct.pack('<dd', st.start, st.count) end
function F.ttl(st, it, now) return st.start + it.w - now end
function F.charge(st, it, cost, now)
  local start = fstart(now, it.w)
  local count = 0
  if st ~= nil and st.start == start then count = st.count end
  local fits = count + cost <= it.limit
  local retry = 0
  if not fits then
    if cost > it.limit then retry = INF else retry = start + it.w - now end
  end
  return fits, { start = start, count = count + cost }, retry
end
function F.view(st, it, now)
  local start = fstart(now, it.w)
  local used = 0
  if st ~= nil and st.start == start then used = st.count end
  return used, math.max(0, it.limit - used), start + it.w - now
end
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

-- quota (calendar period bounds come from the client) ---------------------------------------
local Q = {}
A.q = Q
function Q.decode(raw) local a, b, c = struct.unpack('<ddd', raw); return { start = a, stop = b, count = c } end
function Q.encode(st) return struct.pack('<ddd', st.start, st.stop, st.count) end
function Q.ttl(st, it, now) return st.stop - now end
function Q.charge(st, it, cost, now)
  local count = 0
  if st ~= nil and st.start == it.qs then count = st.count end
  local fits = count + cost <= it.limit
  local retry = 0
  if not fits then
    if cost > it.limit then retry = INF else retry = it.qe - now end
  end
  return fits, { start = it.qs, stop = it.qe, count = count + cost }, retry
end
function Q.view(st, it, now)
  local used = 0
  if st ~= nil and st.start == it.qs then used = st.count end
  return used, math.max(0, it.limit - used), it.qe - now
end
function Q.adjust(st, it, delta, now, chargedAt)
  local count = 0
  if st ~= nil and st.start == it.qs then count = st.count end
  if delta < 0 then
    if it.cs ~= it.qs or count == 0 then return st end
    return { start = it.qs, stop = it.qe, count = math.max(0, count + delta) }
  end
  return { start = it.qs, stop = it.qe, count = count + delta }
end

-- sliding-window ----------------------------------------------------------------------------
-- State: the window start, the counts of this and the previous window, and when each window's
-- most recent charge happened (the previous window stops counting once that is a window old).
local S = {}
A.s = S
function S.decode(raw)
  local a, b, c, d, e = struct.unpack('<ddddd', raw)
  return { start = a, current = b, previous = c, last = d, previousLast = e }
end
function S.encode(st) return struct.pack('<ddddd', st.start, st.current, st.previous, st.last, st.previousLast) end
function S.ttl(st, it, now) return st.start + 2 * it.w - now end
-- returns start, current, previous, last, previousLast, elapsed
local function counts(st, w, now)
  local start = math.floor(now / w) * w
  local elapsed = now - start
  if st ~= nil and st.start == start then
    return start, st.current, st.previous, st.last, st.previousLast, elapsed
  end
  if st ~= nil and st.start == start - w then return start, 0, st.current, 0, st.last, elapsed end
  return start, 0, 0, 0, 0, elapsed
end
local function estimate(current, previous, previousLast, elapsed, w, now)
  if now - w >= previousLast then return current end
  return (previous * (w - elapsed)) / w + current
end
local function fitsAt(st, limit, w, cost, at)
  local _, current, previous, _, previousLast, elapsed = counts(st, w, at)
  return estimate(current, previous, previousLast, elapsed, w, at) + cost <= limit
end
function S.charge(st, it, cost, now)
  local w = it.w
  local start, current, previous, last, previousLast, elapsed = counts(st, w, now)
  local fits = estimate(current, previous, previousLast, elapsed, w, now) + cost <= it.limit
  local nextLast = last
  if cost > 0 then nextLast = now end
  local nxt = { start = start, current = current + cost, previous = previous, last = nextLast, previousLast = previousLast }
  if fits then return fits, nxt, 0 end
  if cost > it.limit then return fits, nxt, INF end
  local wait
  if current + cost <= it.limit then
    local decayed = w - elapsed - ((it.limit - current - cost) * w) / previous
    wait = math.min(decayed, previousLast + w - now)
  else
    local decayed = w - ((it.limit - cost) * w) / current
    wait = w - elapsed + math.min(decayed, last - start)
  end
  local retry = math.max(1, math.ceil(wait))
  -- Rounding can land a hair early; step forward until the answer is truthful (as the reference).
  while not fitsAt(st, it.limit, w, cost, now + retry) do retry = retry + 1 end
  return fits, nxt, retry
end
function S.view(st, it, now)
  local start, current, previous, _, previousLast, elapsed = counts(st, it.w, now)
  local used = math.max(0, math.ceil(estimate(current, previous, previousLast, elapsed, it.w, now) - 1e-9))
  return used, math.max(0, it.limit - used), start + it.w - now
end
function S.adjust(st, it, delta, now, chargedAt)
  local w = it.w
  local start, current, previous, last, previousLast = counts(st, w, now)
  local chargedStart = math.floor(chargedAt / w) * w
  local function make(c, p, l)
    return { start = start, current = c, previous = p, last = l, previousLast = previousLast }
  end
  if delta >= 0 then return make(current + delta, previous, math.max(last, now)) end
  if chargedStart == start then return make(math.max(0, current + delta), previous, last) end
  if chargedStart == start - w then return make(current, math.max(0, previous + delta), last) end
  return st
end

-- token-bucket (GCRA) -----------------------------------------------------------------------
local T = {}
A.t = T
-- slackFor of core: 10 microseconds, but never half a unit (very fast buckets)
local function slack(interval) return math.min(EPS, interval / 2) end
function T.decode(raw) local a = struct.unpack('<d', raw); return { tat = a } end
function T.encode(st) return struct.pack('<d', st.tat) end
function T.ttl(st, it, now) return st.tat - now end
function T.charge(st, it, cost, now)
  local interval = it.w / it.limit
  local tat = now
  if st ~= nil then tat = math.max(st.tat, now) end
  local nextTat = tat + cost * interval
  local allowAt = nextTat - it.cap * interval
  local fits = allowAt - now <= slack(interval)
  local retry = 0
  if not fits then
    if cost > it.cap then retry = INF else retry = allowAt - now end
  end
  return fits, { tat = nextTat }, retry
end
function T.view(st, it, now)
  local interval = it.w / it.limit
  local debt = 0
  if st ~= nil then debt = math.max(0, st.tat - now) end
  local used = math.max(0, math.ceil((debt - slack(interval)) / interval))
  return used, math.max(0, it.cap - used), debt
end
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

-- string-state I/O: an expired state reads as nil (the store's clock decides, not only Redis
-- expiry, so a manual test clock is honoured); a write sets the TTL the algorithm needs.
local function readString(key, it, now)
  local raw = redis.call('GET', key)
  if not raw then return nil, '' end
  local st = A[it.alg].decode(raw)
  if A[it.alg].ttl(st, it, now) <= 0 then return nil, raw end
  return st, raw
end

local function writeString(key, it, st, now, pad)
  if st == nil then redis.call('DEL', key); return '' end
  local ttl = A[it.alg].ttl(st, it, now)
  if ttl <= 0 then redis.call('DEL', key); return '' end
  local raw = A[it.alg].encode(st)
  redis.call('SET', key, raw, 'PX', string.format('%d', math.ceil(ttl) + pad))
  return raw
end

-- concurrency: a ZSET of lease id -> expiry; live leases have expiry > now --------------------
local C = {}
A.c = C
function C.read(key, now)
  local flat = redis.call('ZRANGEBYSCORE', key, '(' .. fmt(now), '+inf', 'WITHSCORES')
  local st = { ids = {}, exps = {} }
  for i = 1, #flat, 2 do
    st.ids[#st.ids + 1] = flat[i]
    st.exps[#st.exps + 1] = tonumber(flat[i + 1])
  end
  return st
end
function C.charge(st, it, cost, now, lease)
  local n = #st.exps
  local fits = n + cost <= it.limit
  local nxt = { ids = {}, exps = {} }
  for i = 1, n do
    if cost <= 0 or st.ids[i] ~= lease then
      nxt.ids[#nxt.ids + 1] = st.ids[i]
      nxt.exps[#nxt.exps + 1] = st.exps[i]
    end
  end
  if cost > 0 then
    nxt.ids[#nxt.ids + 1] = lease
    nxt.exps[#nxt.exps + 1] = now + it.w
    nxt.lease = lease
  end
  local retry = 0
  if not fits then
    if cost > it.limit then retry = INF else retry = st.exps[n + cost - it.limit] - now end
  end
  return fits, nxt, retry
end
function C.view(st, it, now)
  local n = #st.exps
  local soonest = now
  for i = 1, n do
    if i == 1 or st.exps[i] < soonest then soonest = st.exps[i] end
  end
  return n, math.max(0, it.limit - n), soonest - now
end
local function expireLeases(key, now, pad)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now))
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #last == 0 then redis.call('DEL', key); return end
  local ttl = tonumber(last[2]) - now
  if ttl <= 0 then redis.call('DEL', key); return end
  redis.call('PEXPIRE', key, string.format('%d', math.ceil(ttl) + pad))
end
function C.write(key, nxt, it, now, pad)
  if nxt.lease ~= nil then redis.call('ZADD', key, fmt(now + it.w), nxt.lease) end
  expireLeases(key, now, pad)
end
function C.release(key, lease, now, pad)
  redis.call('ZREM', key, lease)
  expireLeases(key, now, pad)
end

-- the time of the decision: Redis TIME, or the testing clock the client passed
local function clockOf(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
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
