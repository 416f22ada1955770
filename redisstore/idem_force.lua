-- Delete an idempotency record while it is in progress, whoever holds it.
-- KEYS[1] the record. Returns 1 when deleted, 0 otherwise.
if redis.call('HGET', KEYS[1], 's') ~= '0' then return 0 end
redis.call('DEL', KEYS[1])
return 1
