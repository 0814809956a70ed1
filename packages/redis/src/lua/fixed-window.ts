/**
 * fixed-window in Lua, beside core's algorithms/fixed-window.ts (same evaluation order).
 * State (packed `<dd>`): start, count. It ends with its window.
 */
export const LUA_FIXED_WINDOW = `
local FixedWindow = {}

function FixedWindow.decide(i, key, field, limit, windowMs, cost, now)
  local start = floor(now / windowMs) * windowMs
  local count = 0
  stateRead[i] = ''
  local raw = read(key, field)
  if raw then
    local stateStart, stateCount = sunpack('<dd', raw)
    if stateStart + windowMs - now > 0 then
      stateRead[i] = raw
      seen(key, stateStart + windowMs)
      if stateStart == start then count = stateCount end
    end
  end
  local fits = count + cost <= limit
  local reset = start + windowMs - now
  local retry = 0
  if not fits then
    if cost > limit then retry = INF else retry = start + windowMs - now end
  end
  fitsOf[i], retryOf[i], fitBefore[i] = fits, retry, count <= limit
  nextState[i], nextTtl[i], nextEnd[i] = spack('<dd', start, count + cost), start + windowMs - now, start + windowMs
  local used = count + cost
  usedIfCharged[i], remainingIfCharged[i], resetIfCharged[i] = used, max(0, limit - used), reset
  usedIfNot[i], remainingIfNot[i], resetIfNot[i] = count, max(0, limit - count), reset
end

function FixedWindow.decode(raw) local start, count = sunpack('<dd', raw); return { start = start, count = count } end
function FixedWindow.encode(state) return spack('<dd', state.start, state.count) end
function FixedWindow.ttl(state, counter, now) return state.start + counter.windowMs - now end
function FixedWindow.adjust(state, counter, delta, now, chargedAt)
  local windowMs = counter.windowMs
  local start = floor(now / windowMs) * windowMs
  local count = 0
  if state ~= nil and state.start == start then count = state.count end
  if delta < 0 then
    if floor(chargedAt / windowMs) * windowMs ~= start or count == 0 then return state end
    return { start = start, count = max(0, count + delta) }
  end
  return { start = start, count = count + delta }
end
`;
