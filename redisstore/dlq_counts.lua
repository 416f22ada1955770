-- Counts per domain after purging the expired. ARGV: P, now. Returns a
-- flat list: domain, pending, replaying, resolved, requires_review,
-- oldest pending created (µs, '' when none), ...
local P, now = ARGV[1], tonumber(ARGV[2])
purge(P, now, nil)
local out = {}
for _, d in ipairs(redis.call('SMEMBERS', P .. 'domains')) do
  local c, total = {}, 0
  for s = 0, 3 do
    c[s] = redis.call('ZCARD', zkey(P, d, s))
    total = total + c[s]
  end
  if total == 0 then
    redis.call('SREM', P .. 'domains', d)
  else
    local h = redis.call('ZRANGE', zkey(P, d, 0), 0, 0, 'WITHSCORES')
    local oldest = ''
    if h[1] then oldest = h[2] end
    for _, v in ipairs({d, c[0], c[1], c[2], c[3], oldest}) do table.insert(out, v) end
  end
end
return out
