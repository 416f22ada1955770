-- Exact arithmetic on nanosecond values for the fleet scripts (prepended
-- to gcra.lua, lease.lua and refund.lua), and the readers of their now and
-- bucket. Lua numbers are doubles, exact
-- only up to 2^53, while ns since the epoch reach 2^61: every value is a
-- pair {s, n} = s*1e9 + n with 0 <= n < 1e9, on which add, subtract,
-- compare and multiply by a small integer are exact.
local E = 1000000000

local function num(v)
  if type(v) ~= 'string' or #v == 0 or #v > 19 or not string.match(v, '^%d+$') then
    return nil
  end
  if #v <= 9 then return {0, tonumber(v)} end
  return {tonumber(string.sub(v, 1, -10)), tonumber(string.sub(v, -9))}
end

local function add(a, b)
  local s, n = a[1] + b[1], a[2] + b[2]
  if n >= E then return {s + 1, n - E} end
  return {s, n}
end

local function sub(a, b)
  local s, n = a[1] - b[1], a[2] - b[2]
  if n < 0 then return {s - 1, n + E} end
  return {s, n}
end

local function gt(a, b)
  return a[1] > b[1] or (a[1] == b[1] and a[2] > b[2])
end

-- mul returns a * k for a pair a and an integer 0 <= k <= 2^20: n * k stays
-- below 2^50 and s * k below 2^53 for every value Decide accepts.
local function mul(a, k)
  local n = a[2] * k
  local carry = math.floor(n / E)
  return {a[1] * k + carry, n - carry * E}
end

local function str(a)
  if a[1] == 0 then return string.format('%d', a[2]) end
  return string.format('%d%09d', a[1], a[2])
end

-- now_of returns the now a script was given, a decimal ns string, or the
-- server's TIME for ''; nil when the string is not a decimal ns value.
local function now_of(arg)
  if arg == '' then
    local t = redis.call('TIME')
    return {tonumber(t[1]), tonumber(t[2]) * 1000}
  end
  return num(arg)
end

-- bucket_start reads a bucket: its stored value (nil for a fresh bucket),
-- and the later of its TAT and now, where a take starts. The start is nil
-- when the stored value is not a TAT.
local function bucket_start(key, now)
  local v = redis.call('GET', key)
  if not v then return nil, now end
  local tat = num(v)
  if not tat then return v, nil end
  if gt(tat, now) then return v, tat end
  return v, now
end
