/**
 * sliding-log in Lua, beside core's algorithms/sliding-log.ts (same evaluation order): the exact
 * rolling window. State (packed): `<d>` total, then `<dd>` time cost per charge, oldest first
 * (16 bytes a charge). A charge at t counts while t + windowMs > now.
 */
export const LUA_SLIDING_LOG = `
local SlidingLog = {}

-- Expired charges are the oldest, so only they are unpacked; the live ones are carried over as
-- one substring, and the new charge is appended (or merged into an entry of the same instant).
function SlidingLog.decide(i, key, field, limit, windowMs, cost, now, monitor)
  -- from: byte offset of the first live entry; oldest / newest: the live entries' times (nil: none)
  local total, from, size, oldest, newest = 0, 9, 0, nil, nil
  stateRead[i] = ''
  local raw = read(key, field)
  if raw then
    size = #raw
    total = sunpack('<d', raw)
    while from <= size do
      local t, c = sunpack('<dd', raw, from)
      if t + windowMs > now then oldest = t; break end
      total = total - c
      from = from + 16
    end
    if oldest then
      stateRead[i] = raw
      newest = sunpack('<d', raw, size - 15)
      seen(key, newest + windowMs)
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
        if used + cost <= limit then retry = t + windowMs - now; break end
        at = at + 16
      end
    end
  end
  fitsOf[i], retryOf[i] = fits, retry
  if monitor == 1 and not fits then fitBefore[i] = total + 0 <= limit end
  usedIfNot[i], remainingIfNot[i] = total, max(0, limit - total)
  local used = total + cost
  usedIfCharged[i], remainingIfCharged[i] = used, max(0, limit - used)
  if oldest then resetIfNot[i] = oldest + windowMs - now else resetIfNot[i] = 0 end
  -- the state after this charge: live entries, plus this one (merged into one of the same instant)
  local header = spack('<d', used)
  if cost > 0 and newest == now then
    nextState[i] = header .. string.sub(raw, from, size - 8) .. spack('<d', sunpack('<d', raw, size - 7) + cost)
  elseif cost > 0 then
    if oldest then nextState[i] = header .. string.sub(raw, from) .. spack('<dd', now, cost)
    else nextState[i] = header .. spack('<dd', now, cost) end
    newest = now
    oldest = oldest or now
  elseif oldest then
    nextState[i] = header .. string.sub(raw, from)
  else
    nextState[i] = header
  end
  if newest then
    nextTtl[i], nextEnd[i], resetIfCharged[i] = newest + windowMs - now, newest + windowMs, oldest + windowMs - now
  else
    nextTtl[i], nextEnd[i], resetIfCharged[i] = 0, now, 0
  end
end

-- decoded as { total, log = { t1, c1, t2, c2, ... } }
function SlidingLog.decode(raw)
  local state = { total = sunpack('<d', raw), log = {} }
  for at = 9, #raw, 16 do
    local t, c = sunpack('<dd', raw, at)
    state.log[#state.log + 1] = t
    state.log[#state.log + 1] = c
  end
  return state
end
function SlidingLog.encode(state)
  local parts = { spack('<d', state.total) }
  for k = 1, #state.log, 2 do parts[#parts + 1] = spack('<dd', state.log[k], state.log[k + 1]) end
  return table.concat(parts)
end
function SlidingLog.ttl(state, counter, now)
  local n = #state.log
  if n == 0 then return 0 end
  return state.log[n - 1] + counter.windowMs - now
end
-- the index of the first live charge and what the live charges add up to
local function logLive(state, windowMs, now)
  if state == nil then return 1, 0 end
  local used, from = state.total, 1
  while from <= #state.log and not (state.log[from] + windowMs > now) do
    used = used - state.log[from + 1]
    from = from + 2
  end
  return from, used
end
function SlidingLog.adjust(state, counter, delta, now, chargedAt)
  local from, used = logLive(state, counter.windowMs, now)
  local log = {}
  if state ~= nil then log = state.log end
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
      local taken = min(cost, -delta)
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
  return state
end
`;
