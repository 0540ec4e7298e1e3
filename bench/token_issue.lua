-- wrk script: POSTs one token request; set by env BENCH_* from issue.sh.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = os.getenv("BENCH_CTYPE")
local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then
	wrk.headers["Authorization"] = auth
end
local accept = os.getenv("BENCH_ACCEPT")
if accept ~= nil and accept ~= "" then
	wrk.headers["Accept"] = accept
end
