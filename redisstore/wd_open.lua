-- Open a watchdog incident unless it is open, behind the check's fence.
-- KEYS[1] the check's incidents (HASH: subject -> JSON record)
-- KEYS[2] the check's fence (STRING: the largest token admitted)
-- ARGV[1] token ('0': unfenced), ARGV[2] subject, ARGV[3] record
-- Returns {1, 0} opened, {0, 0} already open, {-1, highest} stale token.
local t = tonumber(ARGV[1])
if t and t > 0 then
  local h = tonumber(redis.call('GET', KEYS[2]) or '0')
  if not h then return redis.error_reply('malformed watchdog fence') end
  if t < h then return {-1, h} end
  if t > h then redis.call('SET', KEYS[2], ARGV[1]) end
end
return {redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]), 0}
