-- The sliding log: per key a list of the admitted requests' times in
-- microseconds, oldest first. Runs after clock.lua (``now``).
-- ARGV: the time in microseconds ('' for the server's), cost, '1' to charge
-- denied requests too, then per key: limit, period (microseconds).
-- Answers {allowed, counted, now, then per key: entries left, the newest
-- (0: none), the entry blocking the next request uncharged and charged}.
--
-- The decision and the reply are sliding_log.found_in(), in the same integers.
local cost = tonumber(ARGV[2])
local next_cost = math.max(cost, 1)
local reply, counts = {1, 0, now}, {}

local function entry(key, index, count)
  if index < 0 or index >= count then return 0 end
  return tonumber(redis.call('LINDEX', key, index))
end

for i, key in ipairs(KEYS) do
  local limit, period = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local cutoff = now - period
  local newest = redis.call('LINDEX', key, -1)
  if not newest then
    newest = 0
  elseif tonumber(newest) <= cutoff then
    redis.call('DEL', key)  -- all of it has expired
    newest = 0
  else
    newest = tonumber(newest)
    while tonumber(redis.call('LINDEX', key, 0)) <= cutoff do redis.call('LPOP', key) end
  end
  local count = redis.call('LLEN', key)
  counts[i] = count
  local base = 4 * i
  reply[base], reply[base + 1] = count, newest
  reply[base + 2] = entry(key, count + next_cost - limit - 1, count)
  reply[base + 3] = entry(key, count + cost + next_cost - limit - 1, count)
  if count + cost > limit then reply[1] = 0 end
end
if cost > 0 and (reply[1] == 1 or ARGV[3] == '1') then
  reply[2] = 1
  for i, key in ipairs(KEYS) do
    local limit, period = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
    local at = math.max(now, reply[4 * i + 1])
    for _ = 1, cost do redis.call('RPUSH', key, at) end
    if counts[i] + cost > limit then redis.call('LTRIM', key, -limit, -1) end
    if limit == 0 then redis.call('DEL', key) end
    redis.call('PEXPIRE', key, math.ceil(period / 1000) + GRACE_MS)
  end
end
return reply
