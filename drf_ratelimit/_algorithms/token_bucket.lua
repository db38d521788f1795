-- The token bucket (GCRA): per key the theoretical arrival time (TAT), in
-- microseconds. Runs after clock.lua (``now``).
-- ARGV: the time in microseconds ('' for the server's), cost, '1' to charge
-- denied requests too, then per key: emission interval (microseconds), burst.
-- Answers {allowed, counted, now, TAT before this request per key (0: none)}.
--
-- The decision is token_bucket.allows(), in the same integers.
local cost = tonumber(ARGV[2])
local reply = {1, 0, now}
for i, key in ipairs(KEYS) do
  local interval, burst = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local tat = tonumber(redis.call('GET', key) or '0')
  reply[3 + i] = tat
  if math.max(tat, now) + cost * interval - now > burst * interval then reply[1] = 0 end
end
if cost > 0 and (reply[1] == 1 or ARGV[3] == '1') then
  reply[2] = 1
  for i, key in ipairs(KEYS) do
    local tat = math.max(reply[3 + i], now) + cost * tonumber(ARGV[2 + 2 * i])
    redis.call('SET', key, tat, 'PX', math.ceil((tat - now) / 1000) + GRACE_MS)
  end
end
return reply
