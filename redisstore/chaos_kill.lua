-- Kill-all: delete the chaos active set and move the generation, so no
-- owner can refresh a lease again. KEYS as chaos_load.lua.
-- Returns {entries deleted (live ones), new generation}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')
redis.call('DEL', KEYS[2], KEYS[3])
local gen = tonumber(redis.call('GET', KEYS[1]) or '1') + 1
redis.call('SET', KEYS[1], gen)
return { live, gen }
