-- wrk script: one gate check (nginx auth_request style); set by env BENCH_*
-- from gate.sh. With BENCH_DELAY_MS each connection waits that long between
-- calls, which paces the run to a chosen rate for the latency figure.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["X-TENANT-ID"] = os.getenv("BENCH_TENANT")
wrk.headers["X-Original-Method"] = "GET"
wrk.headers["X-Original-URI"] = "/v1/products/p-1"
local d = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if d ~= nil and d > 0 then
	function delay()
		return d
	end
end
