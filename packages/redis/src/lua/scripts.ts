/**
 * The scripts. Each takes KEYS (the call's distinct keys) and one argument, `input`: records of
 * wire.ts, read by the `unpack` lines below into locals named as the records' fields. Every script
 * starts with HEADER (pad, now) and runs on the same prelude: the algorithms, one module each.
 */
import {
  ADJUST_ITEM,
  DECIDE_ITEM,
  DECISION,
  DECISION_RESULT,
  HEADER,
  LIMIT,
  LIMITS,
  OUTCOME,
  PERIODS,
  RELEASE_ITEM,
  REPORT,
  SEED_ITEM,
  UNDO_ITEM,
} from "../wire.js";
import { LUA_COLUMNS, LUA_COMMON, LUA_STATE_IO, LUA_SUBJECT_HASHES } from "./common.js";
import { LUA_CONCURRENCY } from "./concurrency.js";
import { LUA_FIXED_WINDOW } from "./fixed-window.js";
import { LUA_QUOTA } from "./quota.js";
import { LUA_SLIDING_LOG } from "./sliding-log.js";
import { LUA_SLIDING_WINDOW } from "./sliding-window.js";
import { LUA_TOKEN_BUCKET } from "./token-bucket.js";

const PRELUDE = `${LUA_COMMON}${LUA_COLUMNS}${LUA_SUBJECT_HASHES}${LUA_STATE_IO}
${LUA_FIXED_WINDOW}${LUA_QUOTA}${LUA_SLIDING_WINDOW}${LUA_SLIDING_LOG}${LUA_TOKEN_BUCKET}${LUA_CONCURRENCY}
-- the string-state algorithms by LIMIT's algorithm code
local STRING_STATES = { f = FixedWindow, q = Quota, s = SlidingWindow, l = SlidingLog, t = TokenBucket }

local input = ARGV[1]
local pos = 1 -- input cursor
${HEADER.unpack("input")}
`;

/** LIMIT, then PERIODS for quotas, into `counter` (the period holding `now` picked). */
const READ_COUNTER = `
    ${LIMIT.unpack("input")}
    local counter = { limit = limit, windowMs = windowMs, capacity = capacity }
    if algorithm == 'q' then
      ${PERIODS.unpack("input")}
      counter.periodStart, counter.periodEnd =
        pickPeriod(now, previousStart, previousEnd, currentStart, currentEnd, nextStart, nextEnd)
    end`;

/**
 * Decides a batch of decisions in order, each all-or-nothing exactly as core's evaluateDecision:
 * read every state, evaluate every item, charge all (monitors included) only when every enforced
 * item fits. All keys of one call share a hash slot (or the server is not a cluster).
 */
export const DECIDE = `${PRELUDE}
-- the call's limits, by column (LIMITS: each distinct limit once; items name theirs by index)
${LIMITS.unpack("input")}
local algorithmOf, limitOf, windowOf, capacityOf, monitorOf, periodsOf = {}, {}, {}, {}, {}, {}
for l = 1, count do
  ${LIMIT.unpack("input")}
  algorithmOf[l], limitOf[l], windowOf[l], capacityOf[l], monitorOf[l] = algorithm, limit, windowMs, capacity, monitor
  if algorithm == 'q' then
    ${PERIODS.unpack("input")}
    periodsOf[l] = { previousStart, previousEnd, currentStart, currentEnd, nextStart, nextEnd }
  end
end
-- per item of the current decision, what writing its state needs
local keyOf, fieldOf, limitIndexOf = {}, {}, {}
local out = {}
while pos <= #input do
  ${DECISION.unpack("input")}
  now = clockOf(now)
  local charge, restore, report = flags % 2 == 1, flags % 4 >= 2, flags >= 4
  readWholeHash = items > 1
  -- restore: an absent quota counter stops the decision (missing); the client rebuilds it from
  -- the usage ledger (SEED) and decides again
  local missing = false
  local enforcedFit = true
  for i = 1, items do
    ${DECIDE_ITEM.unpack("input")}
    key = KEYS[key]
    keyOf[i], fieldOf[i], limitIndexOf[i] = key, field, limitIndex
    local l = limitIndex
    local algorithm, limit, windowMs, monitor = algorithmOf[l], limitOf[l], windowOf[l], monitorOf[l]
    if algorithm == 'f' then FixedWindow.decide(i, key, field, limit, windowMs, cost, now)
    elseif algorithm == 't' then TokenBucket.decide(i, key, field, limit, windowMs, capacityOf[l], cost, now, monitor)
    elseif algorithm == 's' then SlidingWindow.decide(i, key, field, limit, windowMs, cost, now, monitor)
    elseif algorithm == 'l' then SlidingLog.decide(i, key, field, limit, windowMs, cost, now, monitor)
    elseif algorithm == 'c' then Concurrency.decide(i, key, limit, windowMs, cost, now, lease, monitor)
    else
      local periodStart, periodEnd = pickPeriod(now, unpack(periodsOf[l]))
      Quota.decide(i, key, field, limit, cost, now, periodStart, periodEnd)
      if restore and stateRead[i] == '' then missing = true end
    end
    if not fitsOf[i] and monitor == 0 then enforcedFit = false end
  end
  local charged = charge and enforcedFit and not missing
  local status = 0
  if charged then status = 1 elseif missing then status = 2 end
  out[#out + 1] = spack('${DECISION_RESULT.format}', now, status)
  for i = 1, items do
    local fits = fitsOf[i]
    -- A monitor crosses when this charge goes over and the counter was not over before it.
    local crossed = charged and monitorOf[limitIndexOf[i]] == 1 and not fits and fitBefore[i]
    local stateWritten = '' -- for undo
    local used, remaining, resetMs
    if charged then
      if algorithmOf[limitIndexOf[i]] == 'c' then Concurrency.write(keyOf[i], nextState[i], now, pad)
      else
        stage(keyOf[i], fieldOf[i], nextState[i], nextTtl[i], nextEnd[i], pad)
        if nextTtl[i] > 0 then stateWritten = nextState[i] end
      end
      used, remaining, resetMs = usedIfCharged[i], remainingIfCharged[i], resetIfCharged[i]
    else
      used, remaining, resetMs = usedIfNot[i], remainingIfNot[i], resetIfNot[i]
    end
    out[#out + 1] = spack('${OUTCOME.format}', fits and 1 or 0, crossed and 1 or 0, used, remaining, resetMs, retryOf[i])
    if report then
      -- multi-slot decisions: the view without this charge and the raw states, for undo
      out[#out + 1] = spack('${REPORT.format}', usedIfNot[i], remainingIfNot[i], resetIfNot[i],
        #stateRead[i], stateRead[i], #stateWritten, stateWritten)
    end
  end
end
flush()
return table.concat(out)
`;

/** Settles charges (refund or extra charge) with each algorithm's `adjust`. */
export const ADJUST = `${PRELUDE}
now = clockOf(now)
while pos <= #input do
  ${ADJUST_ITEM.unpack("input")}
  ${READ_COUNTER}
  counter.chargedPeriod = chargedPeriod
  local model = STRING_STATES[algorithm]
  if model then
    local state = readState(model, KEYS[key], field, counter, now)
    local after = model.adjust(state, counter, delta, now, chargedAt)
    if after ~= state then writeState(model, KEYS[key], field, counter, after, now, pad) end
  end
end
flush()
return 1
`;

/**
 * Takes back one slot group's charge when another group of the same decision denied (Redis
 * Cluster). When nobody wrote the counter since, its previous state is restored exactly;
 * otherwise the cost is refunded with the algorithm's adjust, which never over-admits.
 */
export const UNDO = `${PRELUDE}
now = clockOf(now)
while pos <= #input do
  ${UNDO_ITEM.unpack("input")}
  ${READ_COUNTER}
  counter.chargedPeriod = chargedPeriod
  local model = STRING_STATES[algorithm]
  if algorithm == 'c' then
    if lease ~= '' then Concurrency.release(KEYS[key], lease, now, pad) end
  elseif cost > 0 then
    if read(KEYS[key], field) == stateWritten then
      local state = nil
      if stateBefore ~= '' then state = model.decode(stateBefore) end
      writeState(model, KEYS[key], field, counter, state, now, pad)
    else
      local state = readState(model, KEYS[key], field, counter, now)
      local after = model.adjust(state, counter, -cost, now, chargedAt)
      if after ~= state then writeState(model, KEYS[key], field, counter, after, now, pad) end
    end
  end
end
flush()
return 1
`;

/**
 * Seed if absent: sets each quota counter with no live state to the usage the ledger holds for
 * the current period. A counter that exists (seeded or charged by someone else first) is kept,
 * so concurrent first requests after a flush seed it once.
 */
export const SEED = `${PRELUDE}
now = clockOf(now)
while pos <= #input do
  ${SEED_ITEM.unpack("input")}
  ${PERIODS.unpack("input")}
  local counter = {}
  counter.periodStart, counter.periodEnd =
    pickPeriod(now, previousStart, previousEnd, currentStart, currentEnd, nextStart, nextEnd)
  if periodStart == counter.periodStart and readState(Quota, KEYS[key], field, counter, now) == nil then
    writeState(Quota, KEYS[key], field, counter, { start = counter.periodStart, stop = counter.periodEnd, count = count }, now, pad)
  end
end
flush()
return 1
`;

/** Frees concurrency leases. */
export const RELEASE = `${PRELUDE}
now = clockOf(now)
while pos <= #input do
  ${RELEASE_ITEM.unpack("input")}
  Concurrency.release(KEYS[key], lease, now, pad)
end
return 1
`;
