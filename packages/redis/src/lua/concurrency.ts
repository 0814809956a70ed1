/**
 * concurrency in Lua, beside core's algorithms/concurrency.ts: a ZSET per counter of lease id ->
 * expiry; live leases have expiry > now. Rare, so on tables.
 */
export const LUA_CONCURRENCY = `
local Concurrency = {}

-- the live leases: { ids = {...}, expiries = {...} }
function Concurrency.read(key, now)
  local flat = redis.call('ZRANGEBYSCORE', key, '(' .. fmt(now), '+inf', 'WITHSCORES')
  local leases = { ids = {}, expiries = {} }
  for k = 1, #flat, 2 do
    leases.ids[#leases.ids + 1] = flat[k]
    leases.expiries[#leases.expiries + 1] = tonumber(flat[k + 1])
  end
  return leases
end
function Concurrency.charge(leases, limit, windowMs, cost, now, lease)
  local n = #leases.expiries
  local fits = n + cost <= limit
  local after = { ids = {}, expiries = {} }
  for k = 1, n do
    if cost <= 0 or leases.ids[k] ~= lease then
      after.ids[#after.ids + 1] = leases.ids[k]
      after.expiries[#after.expiries + 1] = leases.expiries[k]
    end
  end
  if cost > 0 then
    after.ids[#after.ids + 1] = lease
    after.expiries[#after.expiries + 1] = now + windowMs
    after.lease, after.expiry = lease, now + windowMs
  end
  local retry = 0
  if not fits then
    if cost > limit then retry = INF else retry = leases.expiries[n + cost - limit] - now end
  end
  return fits, after, retry
end
-- used, remaining, resetMs
function Concurrency.view(leases, limit, now)
  local n = #leases.expiries
  local soonest = now
  for k = 1, n do
    if k == 1 or leases.expiries[k] < soonest then soonest = leases.expiries[k] end
  end
  return n, max(0, limit - n), soonest - now
end
local function expireLeases(key, now, pad)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now))
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #newest == 0 then redis.call('DEL', key); return end
  local ttl = tonumber(newest[2]) - now
  if ttl <= 0 then redis.call('DEL', key); return end
  redis.call('PEXPIRE', key, string.format('%d', ceil(ttl) + pad))
end
function Concurrency.write(key, after, now, pad)
  if after.lease ~= nil then redis.call('ZADD', key, fmt(after.expiry), after.lease) end
  expireLeases(key, now, pad)
end
function Concurrency.release(key, lease, now, pad)
  redis.call('ZREM', key, lease)
  expireLeases(key, now, pad)
end

-- DECIDE: nextState holds the lease set to write
function Concurrency.decide(i, key, limit, windowMs, cost, now, lease, monitor)
  if lease == '' then lease = 'anonymous-' .. fmt(now) end
  local leases = Concurrency.read(key, now)
  local fits, after, retry = Concurrency.charge(leases, limit, windowMs, cost, now, lease)
  fitsOf[i], retryOf[i] = fits, retry
  if monitor == 1 and not fits then fitBefore[i] = (Concurrency.charge(leases, limit, windowMs, 0, now, lease)) end
  nextState[i], stateRead[i] = after, ''
  usedIfCharged[i], remainingIfCharged[i], resetIfCharged[i] = Concurrency.view(after, limit, now)
  usedIfNot[i], remainingIfNot[i], resetIfNot[i] = Concurrency.view(leases, limit, now)
end
`;
