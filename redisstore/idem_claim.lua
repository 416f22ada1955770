-- Claim an idempotency record, or report what holds it.
-- KEYS[1] the record (hash: t token, f fingerprint, s status 0|1,
--   c claimed ms, d completed ms, n stored bytes, r encoded response)
-- ARGV[1] token, ARGV[2] fingerprint, ARGV[3] lease ms, ARGV[4] now ms,
-- ARGV[5] '1' to claim when free ('0': look up only)
-- Returns {code, status, claimed, completed, stored, pttl, fingerprint,
-- response}: code 1 claimed, 2 busy, 3 done, 4 mismatch, 0 absent (look-up).
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[5] ~= '1' then return {0, '', '', '', '', -2, '', ''} end
  redis.call('HSET', KEYS[1], 't', ARGV[1], 'f', ARGV[2], 's', '0', 'c', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, '0', ARGV[4], '', '', tonumber(ARGV[3]), ARGV[2], ''}
end
local v = redis.call('HMGET', KEYS[1], 't', 'f', 's', 'c', 'd', 'n', 'r')
if not v[1] or not v[2] or (v[3] ~= '0' and v[3] ~= '1') then
  return redis.error_reply('malformed idempotency record')
end
local pttl = redis.call('PTTL', KEYS[1])
local code = 3
if ARGV[5] == '1' and v[2] ~= ARGV[2] then code = 4 elseif v[3] == '0' then code = 2 end
local resp = ''
if code == 3 and ARGV[5] == '1' then resp = v[7] or '' end
return {code, v[3], v[4] or '', v[5] or '', v[6] or '', pttl, v[2], resp}
