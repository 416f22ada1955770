-- The live members and their records.
-- KEYS[1] the members (ZSET), KEYS[2] their records (HASH)
-- Returns {now in ms, id, expiry, record, id, expiry, record, ...}; a
-- member without a record has false (nil) as its record.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
local out = {now}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = live[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], live[i])
end
return out
