-- Compare-and-set one entry's status, counting an attempt when asked.
-- ARGV: P, id, from, to, holder ('0' any), lease (µs), expired (0|1),
-- count (0|1), review after (0 never), reset (0|1), now.
-- Returns {code, r, s, a, h, l, u}: code 0 not found, 1 conflict, 2 moved.
local P, id, from, to, holder = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local lease, expired, count, review, reset, now = tonumber(ARGV[6]), ARGV[7] == '1', ARGV[8] == '1', tonumber(ARGV[9]), ARGV[10] == '1', tonumber(ARGV[11])
local k = P .. 'e:' .. id
local f = redis.call('HMGET', k, 'r', 's', 'a', 'h', 'l', 'u', 'd', 'c', 'x')
if not f[1] then return {0} end
local x = tonumber(f[9])
if x > 0 and x <= now then return {0} end
local function current() return {1, f[1], f[2], f[3], f[4], f[5], f[6]} end
if tonumber(f[2]) ~= from then return current() end
if from == 1 then
  if expired then
    if tonumber(f[5]) > now then return current() end
  elseif holder ~= '0' and f[4] ~= holder then
    return current()
  end
end
local att = tonumber(f[3])
if reset then att = 0 end
if count then
  att = att + 1
  if review > 0 and att >= review then to = 3 end
end
-- Numbers go back as integer text: tostring would print large ones in
-- exponent form and lose digits.
local h, l = '0', '0'
if to == 1 then h, l = holder, string.format('%.0f', now + lease) end
local st, at = string.format('%d', to), string.format('%d', att)
redis.call('ZREM', zkey(P, f[7], f[2]), id)
redis.call('ZADD', zkey(P, f[7], st), f[8], id)
redis.call('HSET', k, 's', st, 'a', at, 'h', h, 'l', l, 'u', ARGV[11])
return {2, f[1], st, at, h, l, ARGV[11]}
