-- Governance read: one part of the state with the data epoch and the
-- version, atomically.
--
-- KEYS[1] the part (the kill-switch HASH, or a STRING record)
-- KEYS[2] version
-- KEYS[3] data epoch
-- ARGV[1] 'hash' or 'string': the part's type
--
-- Reply: {epoch or '', version or '0', data}: data is the HGETALL list for
-- a hash, the record or '' for a string.
local function malformed(what)
  return redis.error_reply('ERR baldur gov: malformed ' .. what)
end
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'none' and t ~= ARGV[1] then return malformed(KEYS[1] .. ' (' .. t .. ')') end
for i = 2, 3 do
  local u = redis.call('TYPE', KEYS[i])['ok']
  if u ~= 'none' and u ~= 'string' then return malformed(KEYS[i] .. ' (' .. u .. ')') end
end
local epoch = redis.call('GET', KEYS[3]) or ''
local ver = redis.call('GET', KEYS[2]) or '0'
local data = ''
if ARGV[1] == 'hash' then
  data = redis.call('HGETALL', KEYS[1])
else
  data = redis.call('GET', KEYS[1]) or ''
end
return {epoch, ver, data}
