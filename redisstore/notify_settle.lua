-- Settle a claim while its token holds it: extend it to the cooldown
-- (ARGV[2] > 0, ms) or delete it (ARGV[2] = 0).
-- KEYS[1] the claim; ARGV[1] token
-- Returns 1 when the token held the claim, 0 otherwise (expired, cleared,
-- or another holder's).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
