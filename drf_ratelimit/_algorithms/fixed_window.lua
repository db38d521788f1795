-- The fixed window: one counter per window; KEYS are this check's windows.
-- ARGV: (unused: the time is in the keys), cost, '1' to charge denied
-- requests too, then per key: limit, timeout (s).
-- Answers {allowed, counted, 0, count before this request per key}.
--
-- The increment comes first and is taken back when the check is denied, so
-- the steady state is one command per key; a new key gets its expiry here,
-- in the same atomic step, so no counter is ever left without one.
local cost = tonumber(ARGV[2])
local reply = {1, 1, 0}
if cost == 0 then
  reply[2] = 0
  for i, key in ipairs(KEYS) do
    local found = tonumber(redis.call('GET', key) or '0')
    reply[3 + i] = found
    if found > tonumber(ARGV[2 + 2 * i]) then reply[1] = 0 end
  end
  return reply
end
for i, key in ipairs(KEYS) do
  local count = redis.call('INCRBY', key, cost)
  if count == cost then redis.call('EXPIRE', key, ARGV[3 + 2 * i]) end
  reply[3 + i] = count - cost
  if count > tonumber(ARGV[2 + 2 * i]) then reply[1] = 0 end
end
if reply[1] == 0 and ARGV[3] ~= '1' then
  for _, key in ipairs(KEYS) do redis.call('DECRBY', key, cost) end
  reply[2] = 0
end
return reply
