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
local E = 1000000000

local function num(v)
  if type(v) ~= 'string' or #v == 0 or #v > 19 or not string.match(v, '^%d+$') then
    return nil
  end
  if #v <= 9 then return {0, tonumber(v)} end
  return {tonumber(string.sub(v, 1, -10)), tonumber(string.sub(v, -9))}
end

local function sub(a, b)
  local s, n = a[1] - b[1], a[2] - b[2]
  if n < 0 then return {s - 1, n + E} end
  return {s, n}
end

local function gt(a, b)
  return a[1] > b[1] or (a[1] == b[1] and a[2] > b[2])
end

local function str(a)
  if a[1] == 0 then return string.format('%d', a[2]) end
  return string.format('%d%09d', a[1], a[2])
end

local cost, extra = num(ARGV[1]), tonumber(ARGV[3])
if not (cost and extra) then
  return redis.error_reply('ERR baldur refund: bad arguments')
end
local now
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now = {tonumber(t[1]), tonumber(t[2]) * 1000}
else
  now = num(ARGV[2])
  if not now then return redis.error_reply('ERR baldur refund: bad now') end
end

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
