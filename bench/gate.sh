#!/usr/bin/env bash
# Gate throughput (issue 4): /gate checks per second with a reused token,
# cached and with the cache off (every call verifies the RS256 signature),
# beside nginx's static 200 measured in the same run with the same wrk
# settings (before and after the gate's runs; the shares are of the mean);
# and p99 latency with the load paced to half the cached maximum.
source "$(dirname "$0")/lib.sh"

echo "machine: $(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//')"
echo "wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, keep-alive"
echo "openssl speed -multi 2: rsa2048 verify $(SPEED_SECONDS=3 openssl speed -multi 2 -seconds 3 rsa2048 2>&1 |
	awk -F: '/^Got: \+F2/ {s += $6} END {printf "%.0f", s}')/s"
start_nginx
# nginx before and after the gate's runs, as issue.sh does: the shares are of
# the mean, so that the VM drifting during the run moves both sides alike.
NGINX_BEFORE=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
NGINX_P99=$(wrk_p99)

cat >"$WORK/gate.policy" <<'POLICY'
GET /v1/products/** role=viewer env=any
POLICY

token_for() {	# -> sets BENCH_TOKEN, BENCH_TENANT for a fresh client
	gh tenant create --id bench >/dev/null
	local c id secret
	c=$(gh client create --tenant bench --name bench --env production --allow-ip 127.0.0.1/32 --rate-limit 100000000)
	id=$(echo "$c" | json_field client_id)
	secret=$(echo "$c" | json_field client_secret)
	BENCH_TOKEN=$(curl -s -u "$id:$secret" -d grant_type=client_credentials \
		"http://127.0.0.1:$GH_PORT/oauth/token" | json_field access_token)
	export BENCH_TOKEN BENCH_TENANT=bench
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BENCH_TOKEN" \
		-H "X-TENANT-ID: bench" -H "X-Original-Method: GET" \
		-H "X-Original-URI: /v1/products/p-1" "http://127.0.0.1:$GH_PORT/gate")
	[ "$code" = 200 ] || { echo "bench: the gate answered $code, not 200" >&2; exit 1; }
}

start_gatehouse cached --signing-alg RS256 --policy "$WORK/gate.policy"
token_for
CACHED=$(run_wrk "http://127.0.0.1:$GH_PORT/gate" "$BENCH_DIR/gate.lua")
CACHED_P99=$(wrk_p99)

# Half the cached maximum: each of CONNS connections waits CONNS/rate.
HALF=$(awk -v r="$CACHED" 'BEGIN { printf "%.0f", r / 2 }')
export BENCH_DELAY_MS=$(awk -v c="$CONNS" -v r="$HALF" 'BEGIN { printf "%.3f", 1000 * c / r }')
PACED=$(run_wrk "http://127.0.0.1:$GH_PORT/gate" "$BENCH_DIR/gate.lua")
PACED_P99=$(wrk_p99)
unset BENCH_DELAY_MS
stop_gatehouse

start_gatehouse uncached --signing-alg RS256 --policy "$WORK/gate.policy" --gate-cache false
token_for
UNCACHED=$(run_wrk "http://127.0.0.1:$GH_PORT/gate" "$BENCH_DIR/gate.lua")
UNCACHED_P99=$(wrk_p99)
stop_gatehouse

NGINX_AFTER=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
NGINX=$(awk -v a="$NGINX_BEFORE" -v b="$NGINX_AFTER" 'BEGIN { printf "%.0f", (a + b) / 2 }')
printf '\n%-40s %10s %8s %16s\n' "case" "checks/s" "p99" "vs nginx"
printf '%-40s %10.0f %8s %16s\n' "nginx static 200 (mean of before, after)" "$NGINX" "$NGINX_P99" "100%"
printf '  (before %.0f/s, after %.0f/s)\n' "$NGINX_BEFORE" "$NGINX_AFTER"
printf '%-40s %10.0f %8s %16s\n' "gate, cached token (RS256)" "$CACHED" "$CACHED_P99" "$(pct "$CACHED" "$NGINX")"
printf '%-40s %10.0f %8s %16s\n' "gate, cached, paced to ~$HALF/s" "$PACED" "$PACED_P99" "p99 target < 2ms"
printf '%-40s %10.0f %8s %16s\n' "gate, cache off (RS256 verify each)" "$UNCACHED" "$UNCACHED_P99" "$(pct "$UNCACHED" "$NGINX")"
echo
echo "targets: cached >= 70% of nginx, cache off >= 50%, paced p99 < 2 ms"
