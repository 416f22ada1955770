-- GCRA refund: gives back one call of `cost` to one bucket (TAT moves
-- back), as throttle.Memory's refund does; a bucket that becomes full is
-- deleted, a missing bucket is left alone.
--
-- KEYS[1]  the bucket
-- ARGV[1]  cost, ns (>= 1)
-- ARGV[2]  now, ns, or '' for the server's TIME
-- ARGV[3]  extra key lifetime, ms (>= 0)
--
-- Reply: 1 when the bucket moved, 0 when it was missing or already full.
-- nsmath.lua is prepended: num, sub, gt, str, E, now_of.
local cost, extra = num(ARGV[1]), tonumber(ARGV[3])
if not (cost and extra) then
  return redis.error_reply('ERR baldur refund: bad arguments')
end
local now = now_of(ARGV[2])
if not now then return redis.error_reply('ERR baldur refund: bad now') end

local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local tat = num(v)
if not tat then return redis.error_reply('ERR baldur refund: malformed bucket state') end
local back = cost
if not gt(tat, now) then return 0 end
local ahead = sub(tat, now)
if not gt(ahead, back) then
  redis.call('DEL', KEYS[1])
  return 1
end
local nxt = sub(tat, back)
local after = sub(nxt, now)
local ms = after[1] * 1000 + math.floor(after[2] / 1000000) + 1 + extra
redis.call('SET', KEYS[1], str(nxt), 'PX', string.format('%d', ms))
return 1
