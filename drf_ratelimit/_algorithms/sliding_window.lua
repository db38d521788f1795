-- The sliding window: per key a hash of the window index (w), its count (c)
-- and the previous window's count (p). Runs after clock.lua (``now``).
-- ARGV: the time in microseconds ('' for the server's), cost, '1' to charge
-- denied requests too, then per key: limit, period (microseconds).
-- Answers {allowed, counted, now, previous and current count per key}.
--
-- The decision is sliding_window.allows(), the same floating-point steps.
-- Within one window a charge is one HINCRBY: the expiry set when the window
-- began (the end of the next window, plus grace) still holds.
local cost = tonumber(ARGV[2])
local reply, windows, current_window = {1, 0, now}, {}, {}
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
  reply[2 + 2 * i], reply[3 + 2 * i] = previous, current
  windows[i], current_window[i] = w, sw == w
  if previous * (period - elapsed) / period + current + cost > limit then reply[1] = 0 end
end
if cost > 0 and (reply[1] == 1 or ARGV[3] == '1') then
  reply[2] = 1
  for i, key in ipairs(KEYS) do
    if current_window[i] then
      redis.call('HINCRBY', key, 'c', cost)
    else
      local period = tonumber(ARGV[3 + 2 * i])
      redis.call('HSET', key, 'w', windows[i], 'c', reply[3 + 2 * i] + cost, 'p', reply[2 + 2 * i])
      redis.call('PEXPIRE', key, math.ceil(((windows[i] + 2) * period - now) / 1000) + GRACE_MS)
    end
  end
end
return reply
