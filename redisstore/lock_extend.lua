-- Extend a lock the session holds. A lock that expired is gone, so it is
-- never resurrected.
-- KEYS[1] the lock; ARGV[1] session, ARGV[2] ttl in ms, ARGV[3] token ('0': any)
-- Returns 1 when extended, 0 when the session does not hold it.
if redis.call('HGET', KEYS[1], 'o') ~= ARGV[1] then return 0 end
if ARGV[3] ~= '0' and redis.call('HGET', KEYS[1], 'f') ~= ARGV[3] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
