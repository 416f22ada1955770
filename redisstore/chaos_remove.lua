-- Remove one experiment from the chaos active set. KEYS[2] lease zset,
-- KEYS[3] entries hash; ARGV[1] id.
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
