-- Heartbeat of one replica.
-- KEYS[1] the members (ZSET: id -> expiry, ms of server time)
-- KEYS[2] their records (HASH: id -> record)
-- ARGV[1] id, ARGV[2] ttl in ms, ARGV[3] record
-- Drops the members whose expiry passed, records this one until now + ttl,
-- keeps both keys until the last member expires, and returns
-- {live members, now in ms}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 1, #dead do redis.call('HDEL', KEYS[2], dead[i]) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
redis.call('PEXPIREAT', KEYS[2], last[2])
return {redis.call('ZCARD', KEYS[1]), now}
