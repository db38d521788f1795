-- The sliding window: per key a hash of the window index (w), its count (c)
-- and the previous window's count (p).
-- ARGV: the time in microseconds ('' for the server's), cost, '1' to charge
-- denied requests too, then per key: limit, period (microseconds).
-- Answers {allowed, counted, now, previous and current count per key}.
--
-- The decision is sliding_window.allows(), the same floating-point steps.
-- Within one window a charge is one HINCRBY: the expiry set when the window
-- began (the end of the next window, plus grace) still holds.
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = t[1] * 1000000 + t[2]
else
  now = tonumber(ARGV[1])
end
local cost = tonumber(ARGV[2])
local found, windows, current_window = {}, {}, {}
local allowed = 1
for i, key in ipairs(KEYS) do
  local limit, period = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local elapsed = math.fmod(now, period)
  local w = (now - elapsed) / period
  local stored = redis.call('HMGET', key, 'w', 'c', 'p')
  local sw, previous, current = tonumber(stored[1]), 0, 0
  if sw == w then
    previous, current = tonumber(stored[3]), tonumber(stored[2])
  elseif sw == w - 1 then
    previous = tonumber(stored[2])
  end
  found[2 * i - 1], found[2 * i], windows[i], current_window[i] = previous, current, w, sw == w
  if previous * (period - elapsed) / period + current + cost > limit then allowed = 0 end
end
local counted = 0
if cost > 0 and (allowed == 1 or ARGV[3] == '1') then
  counted = 1
  for i, key in ipairs(KEYS) do
    if current_window[i] then
      redis.call('HINCRBY', key, 'c', cost)
    else
      local period = tonumber(ARGV[3 + 2 * i])
      redis.call('HSET', key, 'w', windows[i], 'c', found[2 * i] + cost, 'p', found[2 * i - 1])
      redis.call('PEXPIRE', key, math.ceil(((windows[i] + 2) * period - now) / 1000) + GRACE_MS)
    end
  end
end
return {allowed, counted, now, unpack(found)}
