-- wrk script of the overhead scenario (bench/lib/wrk.ts): POSTs the file named by $WRK_BODY_FILE as
-- JSON on every request and prints one machine-readable line (WRK_JSON {...}, latencies in µs) at the end.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
local f = io.open(os.getenv("WRK_BODY_FILE"), "rb")
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  io.write(string.format('WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
