/**
 * sliding-window in Lua, beside core's algorithms/sliding-window.ts (same evaluation order).
 * State (packed `<ddddd>`): start, current, previous, last, previousLast: the counts of this and
 * the previous window, and when each window's most recent charge happened (the previous window
 * stops counting once that is a window old).
 */
export const LUA_SLIDING_WINDOW = `
local SlidingWindow = {}

-- the state as of now's window (stateStart nil: no live state)
local function slidingCounts(stateStart, current, previous, last, previousLast, windowMs, now)
  local start = floor(now / windowMs) * windowMs
  local elapsed = now - start
  if stateStart == start then return start, current, previous, last, previousLast, elapsed end
  if stateStart == start - windowMs then return start, 0, current, 0, last, elapsed end
  return start, 0, 0, 0, 0, elapsed
end
local function estimate(current, previous, previousLast, elapsed, windowMs, now)
  if now - windowMs >= previousLast then return current end
  return (previous * (windowMs - elapsed)) / windowMs + current
end
local function slidingFits(stateStart, c, p, l, pl, limit, windowMs, cost, at)
  local _, current, previous, _, previousLast, elapsed = slidingCounts(stateStart, c, p, l, pl, windowMs, at)
  return estimate(current, previous, previousLast, elapsed, windowMs, at) + cost <= limit
end
local function slidingUsed(current, previous, previousLast, elapsed, windowMs, now)
  return max(0, ceil(estimate(current, previous, previousLast, elapsed, windowMs, now) - 1e-9))
end

function SlidingWindow.decide(i, key, field, limit, windowMs, cost, now, monitor)
  local s, c, p, l, pl -- the state read: start current previous last previousLast (s nil: none)
  stateRead[i] = ''
  local raw = read(key, field)
  if raw then
    s, c, p, l, pl = sunpack('<ddddd', raw)
    if s + 2 * windowMs - now > 0 then
      stateRead[i] = raw
      seen(key, s + 2 * windowMs)
    else
      s = nil
    end
  end
  local start, current, previous, last, previousLast, elapsed = slidingCounts(s, c, p, l, pl, windowMs, now)
  local fits = estimate(current, previous, previousLast, elapsed, windowMs, now) + cost <= limit
  local nextLast = last
  if cost > 0 then nextLast = now end
  local retry = 0
  if not fits then
    if cost > limit then
      retry = INF
    else
      local wait
      if current + cost <= limit then
        local decayed = windowMs - elapsed - ((limit - current - cost) * windowMs) / previous
        wait = min(decayed, previousLast + windowMs - now)
      else
        local decayed = windowMs - ((limit - cost) * windowMs) / current
        wait = windowMs - elapsed + min(decayed, last - start)
      end
      retry = max(1, ceil(wait))
      -- Rounding can land a hair early; step forward until the answer is truthful (as the reference).
      while not slidingFits(s, c, p, l, pl, limit, windowMs, cost, now + retry) do retry = retry + 1 end
    end
  end
  fitsOf[i], retryOf[i] = fits, retry
  if monitor == 1 and not fits then
    fitBefore[i] = estimate(current, previous, previousLast, elapsed, windowMs, now) + 0 <= limit
  end
  nextState[i] = spack('<ddddd', start, current + cost, previous, nextLast, previousLast)
  nextTtl[i], nextEnd[i] = start + 2 * windowMs - now, start + 2 * windowMs
  local used = slidingUsed(current + cost, previous, previousLast, elapsed, windowMs, now)
  usedIfCharged[i], remainingIfCharged[i], resetIfCharged[i] = used, max(0, limit - used), start + windowMs - now
  used = slidingUsed(current, previous, previousLast, elapsed, windowMs, now)
  usedIfNot[i], remainingIfNot[i], resetIfNot[i] = used, max(0, limit - used), start + windowMs - now
end

function SlidingWindow.decode(raw)
  local start, current, previous, last, previousLast = sunpack('<ddddd', raw)
  return { start = start, current = current, previous = previous, last = last, previousLast = previousLast }
end
function SlidingWindow.encode(state)
  return spack('<ddddd', state.start, state.current, state.previous, state.last, state.previousLast)
end
function SlidingWindow.ttl(state, counter, now) return state.start + 2 * counter.windowMs - now end
function SlidingWindow.adjust(state, counter, delta, now, chargedAt)
  local windowMs = counter.windowMs
  local start = floor(now / windowMs) * windowMs
  local current, previous, last, previousLast = 0, 0, 0, 0
  if state ~= nil and state.start == start then
    current, previous, last, previousLast = state.current, state.previous, state.last, state.previousLast
  elseif state ~= nil and state.start == start - windowMs then
    previous, previousLast = state.current, state.last
  end
  local chargedStart = floor(chargedAt / windowMs) * windowMs
  local function make(c, p, l)
    return { start = start, current = c, previous = p, last = l, previousLast = previousLast }
  end
  if delta >= 0 then return make(current + delta, previous, max(last, now)) end
  if chargedStart == start then return make(max(0, current + delta), previous, last) end
  if chargedStart == start - windowMs then return make(current, max(0, previous + delta), last) end
  return state
end
`;
