-- Put (or refresh) one experiment of the chaos active set.
-- KEYS[1] generation, KEYS[2] lease zset (member id, score expiry ms),
-- KEYS[3] entries hash (field id, value the entry's JSON).
-- ARGV[1] generation the caller runs under, ARGV[2] id, ARGV[3] entry
-- JSON, ARGV[4] lease ms, ARGV[5] "1" to create an absent entry.
-- Returns 1 (written), -1 (generation moved: killed), -2 (absent, not
-- created: gone). Time is the server's, so replicas' clocks do not matter.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gen = tonumber(redis.call('GET', KEYS[1]) or '1')
if gen ~= tonumber(ARGV[1]) then
  return -1
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('HDEL', KEYS[3], id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if ARGV[5] ~= '1' and not redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  return -2
end
local lease = tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], now + lease, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
-- The set as a whole dies with its longest lease.
redis.call('PEXPIRE', KEYS[2], lease)
redis.call('PEXPIRE', KEYS[3], lease)
return 1
