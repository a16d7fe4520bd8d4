-- wrk script: each request is one forced durable record write (POST /api) to one of 4,096 records.
-- wrk -t1 -c256 -d8s -s test/load/record_writes.lua http://127.0.0.1:8080/   (wrk: apt-get install wrk)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/api", nil, '{"body":[{"topic":"record","action":"write","recordName":"w' .. (n % 4096) .. '","data":{"n":1}}]}')
end
