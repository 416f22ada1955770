-- Governance write: one mutation of the shared governance state, the data
-- epoch created if missing, the version raised and published, atomically.
--
-- KEYS[1] kill switches (HASH field -> record)
-- KEYS[2] emergency state (STRING record)
-- KEYS[3] break glass (STRING record)
-- KEYS[4] version (STRING integer)
-- KEYS[5] data epoch (STRING, set once with NX, never expires)
-- ARGV[1] op: ks_put field rec | ks_del field | ks_purge (field rec)... |
--             em_cas epoch version rec | bg_put rec | epoch
-- ARGV[2] epoch candidate (a fresh random id)
-- ARGV[3] change channel
-- ARGV[4..] the op's arguments
--
-- Reply: {epoch, version, result}: result is 1 for a write that changed
-- the state; ks_del 0 (no such switch) and ks_purge 0 write nothing; em_cas
-- 0 is a conflict (the state changed since the caller read epoch and
-- version), which writes nothing.
local function malformed(what)
  return redis.error_reply('ERR baldur gov: malformed ' .. what)
end
-- Everything is checked before the first write: a script error does not
-- roll back what ran before it.
local want = {'hash', 'string', 'string', 'string', 'string'}
for i = 1, 5 do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'none' and t ~= want[i] then return malformed(KEYS[i] .. ' (' .. t .. ')') end
end
local ver = redis.call('GET', KEYS[4])
if ver and not string.match(ver, '^%d+$') then return malformed(KEYS[4]) end
local before = redis.call('GET', KEYS[5]) or ''

local op = ARGV[1]
local changed = 1
if op == 'ks_put' then
  redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
elseif op == 'ks_del' then
  changed = redis.call('HDEL', KEYS[1], ARGV[4])
elseif op == 'ks_purge' then
  -- Delete each field only if it still holds the expired record the
  -- caller read: a switch replaced since stays.
  changed = 0
  for i = 4, #ARGV, 2 do
    if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
      changed = changed + redis.call('HDEL', KEYS[1], ARGV[i])
    end
  end
elseif op == 'em_cas' then
  if before ~= ARGV[4] or (ver or '0') ~= ARGV[5] then
    return {before, ver or '0', 0}
  end
  redis.call('SET', KEYS[2], ARGV[6])
elseif op == 'bg_put' then
  redis.call('SET', KEYS[3], ARGV[4])
elseif op == 'epoch' then
  changed = 0
else
  return redis.error_reply('ERR baldur gov: unknown op ' .. op)
end

redis.call('SET', KEYS[5], ARGV[2], 'NX')
local epoch = redis.call('GET', KEYS[5])
if changed == 0 then return {epoch, ver or '0', 0} end
ver = redis.call('INCR', KEYS[4])
redis.call('PUBLISH', ARGV[3], ver)
return {epoch, tostring(ver), changed}
