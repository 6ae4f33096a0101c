-- wrk script of `make bench`: after the run, one JSON line with the counts, the error
-- classes and the latency percentiles (microseconds) — what `wrk --latency` prints, in a
-- form bench/report.py can read.
done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"p50":%d,"p90":%d,"p99":%d,' ..
      '"p999":%d,"max":%d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.mean, latency.stdev, latency:percentile(50),
      latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
