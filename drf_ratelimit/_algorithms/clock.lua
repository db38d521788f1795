-- Shared by the scripts that decide with timestamps (prepended to them):
-- the time of the decision in microseconds, ARGV[1], or the server's own
-- clock when ARGV[1] is '' (so app servers with skewed clocks still agree).
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = t[1] * 1000000 + t[2]
else
  now = tonumber(ARGV[1])
end
