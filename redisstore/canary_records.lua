-- Compare-and-set of one canary rollout record.
-- KEYS[1]: the records hash (fields v:<id>, the version; r:<id>, the record).
-- ARGV[1]: rollout id; ARGV[2]: the version the caller read (0: none);
-- ARGV[3]: the new version; ARGV[4]: the record, JSON.
-- Returns {1} when stored, {0, stored version} when the version moved.
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and t ~= 'hash' then
  return redis.error_reply('ERR baldur canary: malformed records: ' .. KEYS[1] .. ' is a ' .. t)
end
local cur = redis.call('HGET', KEYS[1], 'v:' .. ARGV[1]) or '0'
if cur ~= ARGV[2] then return {0, cur} end
redis.call('HSET', KEYS[1], 'v:' .. ARGV[1], ARGV[3], 'r:' .. ARGV[1], ARGV[4])
return {1}
