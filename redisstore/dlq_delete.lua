-- Delete entries. ARGV: P, ids... Returns how many existed.
local P = ARGV[1]
local n = 0
for i = 2, #ARGV do
  if redis.call('EXISTS', P .. 'e:' .. ARGV[i]) == 1 then n = n + 1 end
  remove(P, ARGV[i], nil)
end
return n
