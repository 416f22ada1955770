-- Helpers of the DLQ scripts (prepended to each). Keys, under the prefix P:
--   P..'e:'..id          hash: r record, s status, a attempts, h holder,
--                        l lease end (µs), u updated (µs), c created (µs),
--                        x expiry (µs, 0 never), d domain
--   P..'z:'..d..':'..s   zset of a domain's entries in status s, by created
--   P..'all'             zset of every entry, by expiry (+inf for never)
--   P..'domains'         set of the domains with entries
-- Times are integer microseconds, exact in doubles until the year 2255.
local function zkey(P, d, s) return P .. 'z:' .. d .. ':' .. s end

-- remove deletes entry id, appending its domain to list.
local function remove(P, id, list)
  local k = P .. 'e:' .. id
  local f = redis.call('HMGET', k, 'd', 's')
  if f[1] then
    redis.call('ZREM', zkey(P, f[1], f[2]), id)
    if list then table.insert(list, f[1]) end
  end
  redis.call('DEL', k)
  redis.call('ZREM', P .. 'all', id)
end

-- purge removes up to 1000 entries expired at now (expiry on write).
local function purge(P, now, list)
  local old = redis.call('ZRANGEBYSCORE', P .. 'all', '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(old) do remove(P, id, list) end
end
