/**
 * token-bucket (GCRA) in Lua, beside core's algorithms/token-bucket.ts (same evaluation order).
 * State (packed `<d>`): tat, the theoretical arrival time; the state ends at tat.
 */
export const LUA_TOKEN_BUCKET = `
local TokenBucket = {}

local function slack(interval) return min(EPS, interval / 2) end -- core's slackFor
local function tokenFits(tat, capacity, interval, cost, now)
  local nextTat = tat + cost * interval
  local allowAt = nextTat - capacity * interval
  return allowAt - now <= slack(interval), nextTat, allowAt
end
local function tokensUsed(debt, interval)
  return max(0, ceil((debt - slack(interval)) / interval))
end

function TokenBucket.decide(i, key, field, limit, windowMs, capacity, cost, now, monitor)
  local interval = windowMs / limit
  local tat, debt = now, 0
  stateRead[i] = ''
  local raw = read(key, field)
  if raw then
    local stateTat = sunpack('<d', raw)
    if stateTat - now > 0 then
      stateRead[i] = raw
      seen(key, stateTat)
      tat, debt = max(stateTat, now), max(0, stateTat - now)
    end
  end
  local fits, nextTat, allowAt = tokenFits(tat, capacity, interval, cost, now)
  local retry = 0
  if not fits then
    if cost > capacity then retry = INF else retry = allowAt - now end
  end
  fitsOf[i], retryOf[i] = fits, retry
  if monitor == 1 and not fits then fitBefore[i] = (tokenFits(tat, capacity, interval, 0, now)) end
  nextState[i], nextTtl[i], nextEnd[i] = spack('<d', nextTat), nextTat - now, nextTat
  local after = max(0, nextTat - now)
  local used = tokensUsed(after, interval)
  usedIfCharged[i], remainingIfCharged[i], resetIfCharged[i] = used, max(0, capacity - used), after
  used = tokensUsed(debt, interval)
  usedIfNot[i], remainingIfNot[i], resetIfNot[i] = used, max(0, capacity - used), debt
end

function TokenBucket.decode(raw) return { tat = (sunpack('<d', raw)) } end
function TokenBucket.encode(state) return spack('<d', state.tat) end
function TokenBucket.ttl(state, counter, now) return state.tat - now end
function TokenBucket.adjust(state, counter, delta, now)
  local interval = counter.windowMs / counter.limit
  if delta >= 0 then
    local tat = now
    if state ~= nil then tat = max(state.tat, now) end
    return { tat = tat + delta * interval }
  end
  if state == nil or state.tat <= now then return state end
  return { tat = max(now, state.tat + delta * interval) }
end
`;
