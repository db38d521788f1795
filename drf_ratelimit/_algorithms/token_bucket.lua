-- The token bucket (GCRA): per key the theoretical arrival time (TAT), in
-- microseconds.
-- ARGV: the time in microseconds ('' for the server's), cost, '1' to charge
-- denied requests too, then per key: emission interval (microseconds), burst.
-- Answers {allowed, counted, now, TAT before this request per key (0: none)}.
--
-- The decision is token_bucket.allows(), in the same integers.
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = t[1] * 1000000 + t[2]
else
  now = tonumber(ARGV[1])
end
local cost = tonumber(ARGV[2])
local tats, allowed = {}, 1
for i, key in ipairs(KEYS) do
  local interval, burst = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  tats[i] = tonumber(redis.call('GET', key) or '0')
  if math.max(tats[i], now) + cost * interval - now > burst * interval then allowed = 0 end
end
local counted = 0
if cost > 0 and (allowed == 1 or ARGV[3] == '1') then
  counted = 1
  for i, key in ipairs(KEYS) do
    local tat = math.max(tats[i], now) + cost * tonumber(ARGV[2 + 2 * i])
    redis.call('SET', key, tat, 'PX', math.ceil((tat - now) / 1000) + GRACE_MS)
  end
end
return {allowed, counted, now, unpack(tats)}
