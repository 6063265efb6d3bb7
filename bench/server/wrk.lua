-- bench/server/wrk.lua: POSTs one prepared body (BODY_FILE; binary when HEADER_LENGTH is set) and
-- prints wrk's summary as one JSON line: requests, duration, errors, latency percentiles in µs.
local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
local headerLength = os.getenv("HEADER_LENGTH")
if headerLength ~= nil and headerLength ~= "" then
  wrk.headers["Content-Type"] = "application/octet-stream"
  wrk.headers["Inference-Header-Content-Length"] = headerLength
else
  wrk.headers["Content-Type"] = "application/json"
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"durationUs":%d,"socketErrors":%d,"non2xx":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
