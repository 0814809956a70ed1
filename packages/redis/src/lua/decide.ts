import { LUA_COMMON, LUA_LEASES, LUA_SUBJECT_HASHES } from "./algorithms.js";

/**
 * Charge and view of each algorithm for DECIDE, the hot path: a batch of decisions is decided in
 * one script call, so every table or string built per item is paid ~100 times per call. Each
 * evaluator decides item `i` on unpacked locals and fills the batch's result columns at `i`
 * (reused by every decision of the batch), instead of building state and item tables:
 *
 *   FITS, RETRY            the item's answer to this charge
 *   NEXT, TTL, END         the state to write when the decision charges (packed), its TTL, and
 *                          the store time it ends at
 *   U1 R1 Z1 / U0 R0 Z0    used, remaining, resetMs if the decision charges / if it does not
 *   CROSSED                monitors over their limit only: whether the counter fitted before
 *                          this charge (the reference's cost-0 re-check)
 *   RAW                    the unexpired state read ('' = none), for multi-slot undo
 *
 * Expressions keep the order of core's reference algorithms (algorithms/*.ts), so both give
 * bit-identical doubles; the conformance suite compares every answer.
 */
const LUA_EVALUATORS = `
local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min
local spack, sunpack = struct.pack, struct.unpack
local FITS, RETRY, NEXT, TTL, END, CROSSED, RAW = {}, {}, {}, {}, {}, {}, {}
local U1, R1, Z1, U0, R0, Z0 = {}, {}, {}, {}, {}, {}

-- fixed-window, state <dd> start count; it ends with its window
local function fixedWindow(i, key, field, limit, w, cost, now)
  local start = floor(now / w) * w
  local count = 0
  RAW[i] = ''
  local raw = read(key, field)
  if raw then
    local s, c = sunpack('<dd', raw)
    if s + w - now > 0 then
      RAW[i] = raw
      seen(key, s + w)
      if s == start then count = c end
    end
  end
  local fits = count + cost <= limit
  local reset = start + w - now
  local retry = 0
  if not fits then
    if cost > limit then retry = INF else retry = start + w - now end
  end
  FITS[i], RETRY[i], CROSSED[i] = fits, retry, count <= limit
  NEXT[i], TTL[i], END[i] = spack('<dd', start, count + cost), start + w - now, start + w
  local used = count + cost
  U1[i], R1[i], Z1[i] = used, max(0, limit - used), reset
  U0[i], R0[i], Z0[i] = count, max(0, limit - count), reset
end

-- quota, state <ddd> start end count; [qs, qe) is the calendar period holding now
local function quota(i, key, field, limit, cost, now, qs, qe)
  local count = 0
  RAW[i] = ''
  local raw = read(key, field)
  if raw then
    local s, e, c = sunpack('<ddd', raw)
    if e - now > 0 then
      RAW[i] = raw
      seen(key, e)
      if s == qs then count = c end
    end
  end
  local fits = count + cost <= limit
  local retry = 0
  if not fits then
    if cost > limit then retry = INF else retry = qe - now end
  end
  FITS[i], RETRY[i], CROSSED[i] = fits, retry, count <= limit
  NEXT[i], TTL[i], END[i] = spack('<ddd', qs, qe, count + cost), qe - now, qe
  local used = count + cost
  U1[i], R1[i], Z1[i] = used, max(0, limit - used), qe - now
  U0[i], R0[i], Z0[i] = count, max(0, limit - count), qe - now
end

-- sliding-window, state <ddddd> start current previous last previousLast: the counts of this and
-- the previous window, and when each window's most recent charge happened (the previous window
-- stops counting once that is a window old). Returns the state as of now's window.
local function slidingCounts(s, c, p, l, pl, w, now)
  local start = floor(now / w) * w
  local elapsed = now - start
  if s == start then return start, c, p, l, pl, elapsed end
  if s == start - w then return start, 0, c, 0, l, elapsed end
  return start, 0, 0, 0, 0, elapsed
end
local function estimate(current, previous, previousLast, elapsed, w, now)
  if now - w >= previousLast then return current end
  return (previous * (w - elapsed)) / w + current
end
local function slidingFits(s, c, p, l, pl, limit, w, cost, at)
  local _, current, previous, _, previousLast, elapsed = slidingCounts(s, c, p, l, pl, w, at)
  return estimate(current, previous, previousLast, elapsed, w, at) + cost <= limit
end
local function slidingUsed(current, previous, previousLast, elapsed, w, now)
  return max(0, ceil(estimate(current, previous, previousLast, elapsed, w, now) - 1e-9))
end
local function slidingWindow(i, key, field, limit, w, cost, now, monitor)
  local s, c, p, l, pl -- s = nil: no live state
  RAW[i] = ''
  local raw = read(key, field)
  if raw then
    s, c, p, l, pl = sunpack('<ddddd', raw)
    if s + 2 * w - now > 0 then
      RAW[i] = raw
      seen(key, s + 2 * w)
    else
      s = nil
    end
  end
  local start, current, previous, last, previousLast, elapsed = slidingCounts(s, c, p, l, pl, w, now)
  local fits = estimate(current, previous, previousLast, elapsed, w, now) + cost <= limit
  local nextLast = last
  if cost > 0 then nextLast = now end
  local retry = 0
  if not fits then
    if cost > limit then
      retry = INF
    else
      local wait
      if current + cost <= limit then
        local decayed = w - elapsed - ((limit - current - cost) * w) / previous
        wait = min(decayed, previousLast + w - now)
      else
        local decayed = w - ((limit - cost) * w) / current
        wait = w - elapsed + min(decayed, last - start)
      end
      retry = max(1, ceil(wait))
      -- Rounding can land a hair early; step forward until the answer is truthful (as the reference).
      while not slidingFits(s, c, p, l, pl, limit, w, cost, now + retry) do retry = retry + 1 end
    end
  end
  FITS[i], RETRY[i] = fits, retry
  if monitor == 1 and not fits then
    CROSSED[i] = estimate(current, previous, previousLast, elapsed, w, now) + 0 <= limit
  end
  NEXT[i] = spack('<ddddd', start, current + cost, previous, nextLast, previousLast)
  TTL[i], END[i] = start + 2 * w - now, start + 2 * w
  local used = slidingUsed(current + cost, previous, previousLast, elapsed, w, now)
  U1[i], R1[i], Z1[i] = used, max(0, limit - used), start + w - now
  used = slidingUsed(current, previous, previousLast, elapsed, w, now)
  U0[i], R0[i], Z0[i] = used, max(0, limit - used), start + w - now
end

-- sliding-log, state <d> total, then <dd> time cost per charge, oldest first: the exact rolling
-- window. A charge at t counts while t + w > now. Expired charges are the oldest, so only they are
-- unpacked; the live ones are carried over as one substring, and the new charge is appended (or
-- merged into an entry of the same instant), as core's algorithms/sliding-log.ts does.
local function slidingLog(i, key, field, limit, w, cost, now, monitor)
  -- from: byte offset of the first live entry; oldest / newest: the live entries' times (nil: none)
  local total, from, size, oldest, newest = 0, 9, 0, nil, nil
  RAW[i] = ''
  local raw = read(key, field)
  if raw then
    size = #raw
    total = sunpack('<d', raw)
    while from <= size do
      local t, c = sunpack('<dd', raw, from)
      if t + w > now then oldest = t; break end
      total = total - c
      from = from + 16
    end
    if oldest then
      RAW[i] = raw
      newest = sunpack('<d', raw, size - 15)
      seen(key, newest + w)
    end
  end
  local fits = total + cost <= limit
  local retry = 0
  if not fits then
    if cost > limit then
      retry = INF
    else
      -- when enough of the oldest charges have left the window
      local used, at = total, from
      while at <= size do
        local t, c = sunpack('<dd', raw, at)
        used = used - c
        if used + cost <= limit then retry = t + w - now; break end
        at = at + 16
      end
    end
  end
  FITS[i], RETRY[i] = fits, retry
  if monitor == 1 and not fits then CROSSED[i] = total + 0 <= limit end
  U0[i], R0[i] = total, max(0, limit - total)
  local used = total + cost
  U1[i], R1[i] = used, max(0, limit - used)
  if oldest then Z0[i] = oldest + w - now else Z0[i] = 0 end
  -- the state after this charge: live entries, plus this one (merged into one of the same instant)
  local header = spack('<d', used)
  if cost > 0 and newest == now then
    NEXT[i] = header .. string.sub(raw, from, size - 8) .. spack('<d', sunpack('<d', raw, size - 7) + cost)
  elseif cost > 0 then
    if oldest then NEXT[i] = header .. string.sub(raw, from) .. spack('<dd', now, cost)
    else NEXT[i] = header .. spack('<dd', now, cost) end
    newest = now
    oldest = oldest or now
  elseif oldest then
    NEXT[i] = header .. string.sub(raw, from)
  else
    NEXT[i] = header
  end
  if newest then
    TTL[i], END[i], Z1[i] = newest + w - now, newest + w, oldest + w - now
  else
    TTL[i], END[i], Z1[i] = 0, now, 0
  end
end

-- token-bucket (GCRA), state <d> tat (theoretical arrival time); the key expires at tat
local function slack(interval) return min(EPS, interval / 2) end -- core's slackFor
local function tokenFits(tat, cap, interval, cost, now)
  local nextTat = tat + cost * interval
  local allowAt = nextTat - cap * interval
  return allowAt - now <= slack(interval), nextTat, allowAt
end
local function tokenUsed(debt, interval)
  return max(0, ceil((debt - slack(interval)) / interval))
end
local function tokenBucket(i, key, field, limit, w, cap, cost, now, monitor)
  local interval = w / limit
  local tat, debt = now, 0
  RAW[i] = ''
  local raw = read(key, field)
  if raw then
    local t = sunpack('<d', raw)
    if t - now > 0 then
      RAW[i] = raw
      seen(key, t)
      tat, debt = max(t, now), max(0, t - now)
    end
  end
  local fits, nextTat, allowAt = tokenFits(tat, cap, interval, cost, now)
  local retry = 0
  if not fits then
    if cost > cap then retry = INF else retry = allowAt - now end
  end
  FITS[i], RETRY[i] = fits, retry
  if monitor == 1 and not fits then CROSSED[i] = (tokenFits(tat, cap, interval, 0, now)) end
  NEXT[i], TTL[i], END[i] = spack('<d', nextTat), nextTat - now, nextTat
  local after = max(0, nextTat - now)
  local used = tokenUsed(after, interval)
  U1[i], R1[i], Z1[i] = used, max(0, cap - used), after
  used = tokenUsed(debt, interval)
  U0[i], R0[i], Z0[i] = used, max(0, cap - used), debt
end

-- concurrency (leases in a ZSET): rare, so on tables; NEXT holds the lease set to write
local function leases(i, key, limit, w, cost, now, lease, monitor)
  if lease == '' then lease = 'anonymous-' .. fmt(now) end
  local st = C.read(key, now)
  local fits, nxt, retry = C.charge(st, limit, w, cost, now, lease)
  FITS[i], RETRY[i] = fits, retry
  if monitor == 1 and not fits then CROSSED[i] = (C.charge(st, limit, w, 0, now, lease)) end
  NEXT[i], RAW[i] = nxt, ''
  U1[i], R1[i], Z1[i] = C.view(nxt, limit, now)
  U0[i], R0[i], Z0[i] = C.view(st, limit, now)
end
`;

/**
 * Decides a batch of decisions in order, each all-or-nothing exactly as core's evaluateDecision:
 * read every state, evaluate every item, charge all (monitors included) only when every enforced
 * item fits. All keys of one call share a hash slot (or the server is not a cluster).
 *
 * The batch is one packed binary argument (see batch-codec.ts), so the client sends two
 * arguments and Redis builds two strings, whatever the batch size.
 */
export const DECIDE = `${LUA_COMMON}${LUA_LEASES}${LUA_SUBJECT_HASHES}${LUA_EVALUATORS}
-- KEYS: the batch's distinct keys (subject hashes, lease ZSETs); items refer to them by index
local pad = tonumber(ARGV[1])  -- ms added to every TTL (testing clock only; 0 otherwise)
local batch = ARGV[2]          -- per decision <BBHd> charge report n now, then n items (below)
local ALG, MONITOR, KEY, FIELD = {}, {}, {}, {}
local out = {}
local pos = 1                  -- batch cursor
local sharedNow = nil
while pos <= #batch do
  local charge, report, n, now
  charge, report, n, now, pos = sunpack('<BBHd', batch, pos)
  -- charge bit 1: restore. An absent quota counter then stops the decision (missing): the client
  -- rebuilds it from the usage ledger (SEED) and decides again.
  local restore = charge >= 2
  if restore then charge = charge - 2 end
  local missing = false
  if now ~= now then           -- NaN: Redis TIME, read once per batch
    if sharedNow == nil then sharedNow = redisTime() end
    now = sharedNow
  end
  local enforcedFit = true
  for i = 1, n do
    -- <H> the key's index in KEYS, the limit's static part <c1dddB> (alg limit window capacity
    -- monitor, cached per limit by the client), <d> cost, <Hc0> lease id, <Bc0> field in the hash
    local ki, alg, limit, w, cap, monitor, cost, lease, field
    ki, alg, limit, w, cap, monitor, cost, lease, field, pos = sunpack('<Hc1dddBdHc0Bc0', batch, pos)
    local key = KEYS[ki]
    if alg == 'f' then fixedWindow(i, key, field, limit, w, cost, now)
    elseif alg == 't' then tokenBucket(i, key, field, limit, w, cap, cost, now, monitor)
    elseif alg == 's' then slidingWindow(i, key, field, limit, w, cost, now, monitor)
    elseif alg == 'l' then slidingLog(i, key, field, limit, w, cost, now, monitor)
    elseif alg == 'c' then leases(i, key, limit, w, cost, now, lease, monitor)
    else
      -- quota: <dddddd> previous, current and next calendar period around the client's clock
      -- (Lua has no time zones); the one holding the store's now is used
      local s1, e1, s2, e2, s3, e3
      s1, e1, s2, e2, s3, e3, pos = sunpack('<dddddd', batch, pos)
      local qs, qe = s3, e3
      if s2 <= now and now < e2 then qs, qe = s2, e2
      elseif s1 <= now and now < e1 then qs, qe = s1, e1
      elseif not (s3 <= now and now < e3) then
        error('tollgate: quota period bounds do not contain the store time (clock skew above one period?)')
      end
      quota(i, key, field, limit, cost, now, qs, qe)
      if restore and RAW[i] == '' then missing = true end
    end
    ALG[i], MONITOR[i], KEY[i], FIELD[i] = alg, monitor == 1, key, field
    if not FITS[i] and monitor == 0 then enforcedFit = false end
  end
  local charged = charge == 1 and enforcedFit and not missing
  -- The answer is packed little-endian binary (see batch-codec.ts), one string for the whole batch.
  -- Its flag: 1 charged, 2 missing (nothing charged), 0 not charged.
  local flag = 0
  if charged then flag = 1 elseif missing then flag = 2 end
  out[#out + 1] = spack('<dB', now, flag)
  for i = 1, n do
    local fits = FITS[i]
    -- A monitor crosses when this charge goes over and the counter was not over before it.
    local crossed = charged and MONITOR[i] and not fits and CROSSED[i]
    local state = '' -- the state written, for undo
    if charged then
      if ALG[i] == 'c' then C.write(KEY[i], NEXT[i], now, pad)
      else
        stage(KEY[i], FIELD[i], NEXT[i], TTL[i], END[i], pad)
        if TTL[i] > 0 then state = NEXT[i] end
      end
      out[#out + 1] = spack('<BBdddd', fits and 1 or 0, crossed and 1 or 0, U1[i], R1[i], Z1[i], RETRY[i])
    else
      out[#out + 1] = spack('<BBdddd', fits and 1 or 0, 0, U0[i], R0[i], Z0[i], RETRY[i])
    end
    if report == 1 then
      -- multi-slot decisions: the uncharged view and the raw states before and after, for undo
      -- (32-bit lengths: a sliding log holds up to 16 bytes x 10,000 charges)
      out[#out + 1] = spack('<dddI4', U0[i], R0[i], Z0[i], #RAW[i]) .. RAW[i] .. spack('<I4', #state) .. state
    end
  end
end
flush()
return table.concat(out)
`;
