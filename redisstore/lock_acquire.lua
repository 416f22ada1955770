-- Acquire a fenced lock.
-- KEYS[1] the lock (HASH: o = owner session, f = fencing token; PEXPIRE ttl)
-- KEYS[2] the namespace's token counter (STRING, no TTL)
-- ARGV[1] session, ARGV[2] ttl in ms
-- Returns {1, token} when granted (a re-acquire by the owner keeps its
-- token and pushes the expiry), {0, pttl} when another session holds it.
local o = redis.call('HGET', KEYS[1], 'o')
if o == ARGV[1] then
  local f = tonumber(redis.call('HGET', KEYS[1], 'f'))
  if not f then return redis.error_reply('malformed lock: token') end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, f}
end
if o then return {0, redis.call('PTTL', KEYS[1])} end
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('malformed lock: no owner') end
-- The token is the counter's next value, floored at the server's clock in
-- microseconds: a server that lost the counter (restart without
-- persistence) still hands out larger tokens than before. 2^53 µs is in
-- the year 2255, so the double holds it exactly.
local t = redis.call('TIME')
local floor = tonumber(t[1]) * 1000000 + tonumber(t[2])
local f = redis.call('INCR', KEYS[2])
if f < floor then
  f = floor
  redis.call('SET', KEYS[2], string.format('%d', f))
end
redis.call('HSET', KEYS[1], 'o', ARGV[1], 'f', string.format('%d', f))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, f}
