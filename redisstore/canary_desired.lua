-- The fenced publish of a canary rollout's desired state.
-- KEYS[1]: the desired-state hash of one config type (fields token, doc).
-- ARGV[1]: the publish's fencing token; ARGV[2]: "1" for a panic restore;
-- ARGV[3]: the Desired, JSON.
-- Returns {1, token stored} or {0, token stored} for a stale token. A
-- panic restore is stored under the fence's height, never lowering it.
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and t ~= 'hash' then
  return redis.error_reply('ERR baldur canary: malformed desired state: ' .. KEYS[1] .. ' is a ' .. t)
end
local tok = tonumber(ARGV[1])
if not tok then return redis.error_reply('ERR baldur canary: bad token') end
local cur = redis.call('HGET', KEYS[1], 'token')
if cur then
  local c = tonumber(cur)
  if not c then return redis.error_reply('ERR baldur canary: malformed desired state token') end
  if tok < c then
    if ARGV[2] ~= '1' then return {0, cur} end
    tok = c
  end
end
local s = string.format('%.0f', tok)
redis.call('HSET', KEYS[1], 'token', s, 'doc', ARGV[3])
return {1, s}
