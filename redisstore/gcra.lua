-- GCRA take: throttle.Decide applied atomically to one bucket, in exact
-- integer nanoseconds.
--
-- KEYS[1]  the bucket; its value is the TAT, decimal ns on the clock used.
-- ARGV[1]  cost, ns (>= 1)
-- ARGV[2]  tolerance, ns (>= 0)
-- ARGV[3]  max wait, ns (>= 0)
-- ARGV[4]  now, ns (>= 0), or '' for the server's TIME
-- ARGV[5]  extra key lifetime, ms (>= 0), added to the time until full
--
-- Reply: {allowed (0|1), wait, retry_after, reset, tat, now}, the numbers
-- as decimal ns strings; tat is '' for a fresh bucket that stayed fresh.
--
-- The exact arithmetic on nanosecond pairs (num, add, sub, gt, str) is
-- nsmath.lua, prepended to this script.

local cost, tol, maxw = num(ARGV[1]), num(ARGV[2]), num(ARGV[3])
local extra = tonumber(ARGV[5])
if not (cost and tol and maxw and extra) then
  return redis.error_reply('ERR baldur gcra: bad arguments')
end

local now = now_of(ARGV[4])
if not now then return redis.error_reply('ERR baldur gcra: bad now') end

local v, start = bucket_start(KEYS[1], now)
if not start then return redis.error_reply('ERR baldur gcra: malformed bucket state') end

local ahead = sub(start, now)
if gt(ahead, add(tol, maxw)) then
  -- Denied: the state is left as it is.
  return {0, '0', str(sub(ahead, tol)), str(ahead), v or '', str(now)}
end

local nxt = add(start, cost)
local after = sub(nxt, now)
local wait = {0, 0}
if gt(ahead, tol) then wait = sub(ahead, tol) end
-- The key lives until the bucket is full again (rounded up to the next
-- millisecond), then a missing key reads as the full bucket it would be.
local ms = after[1] * 1000 + math.floor(after[2] / 1000000) + 1 + extra
redis.call('SET', KEYS[1], str(nxt), 'PX', string.format('%d', ms))
return {1, str(wait), '0', str(after), str(nxt), str(now)}
