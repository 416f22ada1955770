-- Load the chaos active set: the generation, then the JSON of every entry
-- whose lease holds on the server's clock.
-- KEYS[1] generation, KEYS[2] lease zset, KEYS[3] entries hash.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = { tonumber(redis.call('GET', KEYS[1]) or '1') }
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
if #ids > 0 then
  local vals = redis.call('HMGET', KEYS[3], unpack(ids))
  for i = 1, #ids do
    if vals[i] then
      out[#out + 1] = vals[i]
    end
  end
end
return out
