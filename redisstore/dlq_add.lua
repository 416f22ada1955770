-- Add entries whose IDs are new, after purging the expired, applying the
-- capacity (drop the domain's oldest, then the queue's, or reject).
-- ARGV: P, now, capacity, reject (0|1), n, then per entry 9 values:
-- id, domain, domain capacity, created, expiry, status, attempts, record,
-- key TTL in ms (0 none). Returns {statuses, evicted domains, expired
-- domains}; a status is 0 stored, 1 duplicate, 2 rejected, 3 stale.
local P, now, capacity, reject, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1', tonumber(ARGV[5])
local all = P .. 'all'
local evicted, expired = {}, {}
purge(P, now, expired)

local function domainCount(d)
  local c = 0
  for s = 0, 3 do c = c + redis.call('ZCARD', zkey(P, d, s)) end
  return c
end

local function domainOldest(d)
  local best, bestScore
  for s = 0, 3 do
    local h = redis.call('ZRANGE', zkey(P, d, s), 0, 0, 'WITHSCORES')
    if h[1] then
      local sc = tonumber(h[2])
      if not best or sc < bestScore or (sc == bestScore and h[1] < best) then best, bestScore = h[1], sc end
    end
  end
  return best
end

local out = {}
for i = 0, n - 1 do
  local b = 6 + i * 9
  local id, d, dcap, created, exp = ARGV[b], ARGV[b + 1], tonumber(ARGV[b + 2]), ARGV[b + 3], tonumber(ARGV[b + 4])
  local st, att, rec, ttl = ARGV[b + 5], ARGV[b + 6], ARGV[b + 7], tonumber(ARGV[b + 8])
  local k = P .. 'e:' .. id
  if redis.call('EXISTS', k) == 1 then
    out[i + 1] = 1
  elseif exp > 0 and exp <= now then
    out[i + 1] = 3
  else
    local ok = true
    if domainCount(d) >= dcap then
      if reject then ok = false else remove(P, domainOldest(d), evicted) end
    end
    if ok and redis.call('ZCARD', all) >= capacity then
      if reject then ok = false else remove(P, redis.call('ZRANGE', all, 0, 0)[1], evicted) end
    end
    if ok then
      redis.call('HSET', k, 'r', rec, 's', st, 'a', att, 'h', '0', 'l', '0', 'u', ARGV[2], 'c', created, 'x', ARGV[b + 4], 'd', d)
      if ttl > 0 then redis.call('PEXPIRE', k, ttl) end
      redis.call('ZADD', zkey(P, d, st), created, id)
      local score = exp
      if exp == 0 then score = '+inf' end
      redis.call('ZADD', all, score, id)
      redis.call('SADD', P .. 'domains', d)
      out[i + 1] = 0
    else
      out[i + 1] = 2
    end
  end
end
return {out, evicted, expired}
