-- Claim a notification key for a sending lease, or say how long its
-- holder's claim has left.
-- KEYS[1] the claim (string: the holder's token)
-- ARGV[1] token, ARGV[2] lease ms
-- Returns {1, lease} granted, {0, pttl} held by another.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, tonumber(ARGV[2])}
end
return {0, redis.call('PTTL', KEYS[1])}
