-- The fixed window: one counter per window; KEYS are this check's windows.
-- ARGV: (unused: the time is in the keys), cost, '1' to charge denied
-- requests too, then per key: limit, timeout (s).
-- Answers {allowed, counted, 0, count before this request per key}.
--
-- The increment comes first and is taken back when the check is denied, so
-- the steady state is one command per key; a new key gets its expiry here,
-- in the same atomic step, so no counter is ever left without one.
local cost = tonumber(ARGV[2])
local found, allowed = {}, 1
if cost == 0 then
  for i, key in ipairs(KEYS) do
    found[i] = tonumber(redis.call('GET', key) or '0')
    if found[i] > tonumber(ARGV[2 + 2 * i]) then allowed = 0 end
  end
  return {allowed, 0, 0, unpack(found)}
end
for i, key in ipairs(KEYS) do
  local count = redis.call('INCRBY', key, cost)
  if count == cost then redis.call('EXPIRE', key, ARGV[3 + 2 * i]) end
  found[i] = count - cost
  if count > tonumber(ARGV[2 + 2 * i]) then allowed = 0 end
end
if allowed == 0 and ARGV[3] ~= '1' then
  for _, key in ipairs(KEYS) do redis.call('DECRBY', key, cost) end
  return {0, 0, 0, unpack(found)}
end
return {allowed, 1, 0, unpack(found)}
