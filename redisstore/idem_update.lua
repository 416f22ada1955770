-- Change an in-progress idempotency record while the claim's token holds it.
-- KEYS[1] the record; ARGV[1] op: 'beat' | 'done' | 'free'; ARGV[2] token;
-- beat: ARGV[3] lease ms; done: ARGV[3] ttl ms, ARGV[4] now ms,
-- ARGV[5] stored bytes, ARGV[6] encoded response ('' : not replayable).
-- Returns 1 when changed, 0 when the token no longer holds the key.
local v = redis.call('HMGET', KEYS[1], 't', 's')
if v[1] ~= ARGV[2] or v[2] ~= '0' then return 0 end
if ARGV[1] == 'beat' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
elseif ARGV[1] == 'done' then
  redis.call('HSET', KEYS[1], 's', '1', 'd', ARGV[4], 'n', ARGV[5])
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'r', ARGV[6]) end
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
elseif ARGV[1] == 'free' then
  redis.call('DEL', KEYS[1])
else
  return redis.error_reply('unknown op')
end
return 1
