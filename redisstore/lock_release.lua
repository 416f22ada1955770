-- Release (compare-and-delete) a lock the session holds.
-- KEYS[1] the lock; ARGV[1] session, ARGV[2] token ('0': any)
-- Returns 1 when deleted, 0 when the session does not hold it.
if redis.call('HGET', KEYS[1], 'o') ~= ARGV[1] then return 0 end
if ARGV[2] ~= '0' and redis.call('HGET', KEYS[1], 'f') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1
