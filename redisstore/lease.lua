-- GCRA lease take: up to `want` conforming tokens from one bucket in one
-- atomic step, in exact integer nanoseconds. With want = 1 it is gcra.lua:
-- throttle.Decide applied to the bucket.
--
-- KEYS[1]  the bucket; its value is the TAT, decimal ns on the clock used.
-- ARGV[1]  cost, ns (>= 1)
-- ARGV[2]  tolerance, ns (>= 0)
-- ARGV[3]  max wait, ns (>= 0); must be 0 when want > 1
-- ARGV[4]  now, ns (>= 0), or '' for the server's TIME
-- ARGV[5]  extra key lifetime, ms (>= 0), added to the time until full
-- ARGV[6]  want: tokens asked for (1 .. 1048576)
--
-- Reply: {allowed (0|1), wait, retry_after, reset, tat, now, granted}, the
-- numbers as decimal ns strings as in gcra.lua; granted is an integer, the
-- tokens charged to the bucket (0 when denied). A grant of n is n calls of
-- Decide at the same now, stopped at the first that does not conform.
-- nsmath.lua is prepended: num, add, sub, gt, mul, str, E, now_of, bucket_start.
local cost, tol, maxw = num(ARGV[1]), num(ARGV[2]), num(ARGV[3])
local extra, want = tonumber(ARGV[5]), tonumber(ARGV[6])
if not (cost and tol and maxw and extra and want) or want < 1 or want > 1048576
    or want ~= math.floor(want) or (want > 1 and (maxw[1] > 0 or maxw[2] > 0)) then
  return redis.error_reply('ERR baldur lease: bad arguments')
end

local now = now_of(ARGV[4])
if not now then return redis.error_reply('ERR baldur lease: bad now') end

local v, start = bucket_start(KEYS[1], now)
if not start then return redis.error_reply('ERR baldur lease: malformed bucket state') end

local ahead = sub(start, now)
if gt(ahead, add(tol, maxw)) then
  -- Denied: the state is left as it is.
  return {0, '0', str(sub(ahead, tol)), str(ahead), v or '', str(now), 0}
end

-- The k-th token conforms when ahead + (k-1)*cost <= tol: the largest such
-- k up to want, by bisection on exact products (the first always conforms
-- here).
local n = 1
if want > 1 then
  local lo, hi = 1, want
  while lo < hi do
    local mid = math.floor((lo + hi + 1) / 2)
    if gt(add(ahead, mul(cost, mid - 1)), tol) then hi = mid - 1 else lo = mid end
  end
  n = lo
end

local nxt = add(start, mul(cost, n))
local after = sub(nxt, now)
local wait = {0, 0}
if gt(ahead, tol) then wait = sub(ahead, tol) end
local ms = after[1] * 1000 + math.floor(after[2] / 1000000) + 1 + extra
redis.call('SET', KEYS[1], str(nxt), 'PX', string.format('%d', ms))
return {1, str(wait), '0', str(after), str(nxt), str(now), n}
