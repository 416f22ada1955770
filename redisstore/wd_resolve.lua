-- Resolve a watchdog incident, behind the check's fence.
-- KEYS[1] the check's incidents, KEYS[2] the check's fence
-- ARGV[1] token ('0': unfenced), ARGV[2] subject
-- Returns {1, 0} resolved, {0, 0} not open, {-1, highest} stale token.
local t = tonumber(ARGV[1])
if t and t > 0 then
  local h = tonumber(redis.call('GET', KEYS[2]) or '0')
  if not h then return redis.error_reply('malformed watchdog fence') end
  if t < h then return {-1, h} end
  if t > h then redis.call('SET', KEYS[2], ARGV[1]) end
end
return {redis.call('HDEL', KEYS[1], ARGV[2]), 0}
