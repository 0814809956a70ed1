/**
 * quota in Lua, beside core's algorithms/quota.ts (same evaluation order). The calendar period
 * [periodStart, periodEnd) holding now comes from the client's PERIODS (Lua has no time zones).
 * State (packed `<ddd>`): start, end, count.
 */
export const LUA_QUOTA = `
local Quota = {}

function Quota.decide(i, key, field, limit, cost, now, periodStart, periodEnd)
  local count = 0
  stateRead[i] = ''
  local raw = read(key, field)
  if raw then
    local stateStart, stateEnd, stateCount = sunpack('<ddd', raw)
    if stateEnd - now > 0 then
      stateRead[i] = raw
      seen(key, stateEnd)
      if stateStart == periodStart then count = stateCount end
    end
  end
  local fits = count + cost <= limit
  local retry = 0
  if not fits then
    if cost > limit then retry = INF else retry = periodEnd - now end
  end
  fitsOf[i], retryOf[i], fitBefore[i] = fits, retry, count <= limit
  nextState[i], nextTtl[i], nextEnd[i] = spack('<ddd', periodStart, periodEnd, count + cost), periodEnd - now, periodEnd
  local used = count + cost
  usedIfCharged[i], remainingIfCharged[i], resetIfCharged[i] = used, max(0, limit - used), periodEnd - now
  usedIfNot[i], remainingIfNot[i], resetIfNot[i] = count, max(0, limit - count), periodEnd - now
end

function Quota.decode(raw)
  local start, stop, count = sunpack('<ddd', raw)
  return { start = start, stop = stop, count = count }
end
function Quota.encode(state) return spack('<ddd', state.start, state.stop, state.count) end
function Quota.ttl(state, counter, now) return state.stop - now end
function Quota.adjust(state, counter, delta, now, chargedAt)
  local count = 0
  if state ~= nil and state.start == counter.periodStart then count = state.count end
  if delta < 0 then
    if counter.chargedPeriod ~= counter.periodStart or count == 0 then return state end
    return { start = counter.periodStart, stop = counter.periodEnd, count = max(0, count + delta) }
  end
  return { start = counter.periodStart, stop = counter.periodEnd, count = count + delta }
end
`;
