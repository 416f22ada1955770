-- Fleet error budget sync: flush this replica's counts, trim what left the
-- window, and read the buckets changed since the last read, in one call.
--
-- KEYS[1]  meta hash: epoch (set once; a change means the data was lost),
--          seq (raised by one for every bucket written)
-- KEYS[2]  log zset: member period, score the seq of its last write
-- KEYS[3]  periods zset: member period, score period (to trim by age)
-- ARGV[1]  epoch to set when there is none
-- ARGV[2]  this replica's field ("<replica>#<incarnation>")
-- ARGV[3]  bucket key lifetime, ms (the window plus a slack)
-- ARGV[4]  first period of the window: older periods leave the logs
-- ARGV[5]  read the log after this seq
-- ARGV[6]  read at most this many periods
-- ARGV[7]  bucket key prefix (the bucket of period p is prefix .. p)
-- ARGV[8]  n, then n pairs: period, "<total>:<failed>" (absolute counts)
--
-- The bucket of a period is a hash: field per replica incarnation, value
-- its absolute counts in that period. HSET of an absolute value is
-- idempotent, so a flush whose reply was lost is simply sent again.
--
-- Reply: {epoch, seq, skipped, then per period read: period, seq, HGETALL}.
-- skipped counts bucket keys of another type, neither written nor read.
local meta, log, periods = KEYS[1], KEYS[2], KEYS[3]

local function kind(k) return redis.call('TYPE', k)['ok'] end

local want = {'hash', 'zset', 'zset'}
for i, k in ipairs(KEYS) do
  local t = kind(k)
  if t ~= 'none' and t ~= want[i] then
    return redis.error_reply('malformed: ' .. k .. ' is a ' .. t)
  end
end

local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  redis.call('HSET', meta, 'epoch', ARGV[1])
  epoch = ARGV[1]
end

local skipped = 0
local n = tonumber(ARGV[8])
if n > 0 then
  local last = redis.call('HINCRBY', meta, 'seq', n)
  for i = 1, n do
    local p, v = ARGV[7 + 2 * i], ARGV[8 + 2 * i]
    local k = ARGV[7] .. p
    local t = kind(k)
    if t == 'hash' or t == 'none' then
      redis.call('HSET', k, ARGV[2], v)
      redis.call('PEXPIRE', k, ARGV[3])
      redis.call('ZADD', log, last - n + i, p)
      redis.call('ZADD', periods, p, p)
    else
      skipped = skipped + 1
    end
  end
end

local old = redis.call('ZRANGEBYSCORE', periods, '-inf', '(' .. ARGV[4], 'LIMIT', 0, 1024)
for _, p in ipairs(old) do
  redis.call('ZREM', log, p)
  redis.call('ZREM', periods, p)
end

local out = {epoch, redis.call('HGET', meta, 'seq') or '0', 0}
local ch = redis.call('ZRANGEBYSCORE', log, '(' .. ARGV[5], '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[6]))
for i = 1, #ch, 2 do
  local k = ARGV[7] .. ch[i]
  local t = kind(k)
  local fields = {}
  if t == 'hash' then
    fields = redis.call('HGETALL', k)
  elseif t ~= 'none' then
    skipped = skipped + 1
  end
  out[#out + 1] = ch[i]
  out[#out + 1] = ch[i + 1]
  out[#out + 1] = fields
end
out[3] = skipped
return out
