#!/usr/bin/env bash
# Gate throughput (issue 4): /gate checks per second with a reused token,
# cached and with the cache off (every call verifies the RS256 signature),
# beside nginx's static 200 measured in the same run with the same wrk
# settings (before and after the gate's runs; the shares are of the mean);
# and p99 latency with the load paced to half the cached maximum.
# nginx is measured two ways: with the gate's own request (gate.lua: the
# same wrk command but for the address, with its ~1 KB Authorization
# header), the target's reference; and with a bare GET, the stricter figure
# earlier sessions used (parsing the gate's headers costs nginx ~25%).
source "$(dirname "$0")/lib.sh"

echo "machine: $(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//')"
echo "wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, keep-alive"
echo "openssl speed -multi 2: rsa2048 verify $(SPEED_SECONDS=3 openssl speed -multi 2 -seconds 3 rsa2048 2>&1 |
	awk -F: '/^Got: \+F2/ {s += $6} END {printf "%.0f", s}')/s"
start_nginx
cat >"$WORK/gate.policy" <<'POLICY'
GET /v1/products/** role=viewer env=any
POLICY

start_gatehouse cached --signing-alg RS256 --policy "$WORK/gate.policy"
gate_token
# nginx before and after the gate's runs, as issue.sh does: the shares are of
# the mean, so that the VM drifting during the run moves both sides alike.
NGINX_BEFORE=$(run_wrk "http://127.0.0.1:$NGINX_PORT/" "$BENCH_DIR/gate.lua")
NGINX_P99=$(wrk_p99)
BARE_BEFORE=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
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
gate_token
UNCACHED=$(run_wrk "http://127.0.0.1:$GH_PORT/gate" "$BENCH_DIR/gate.lua")
UNCACHED_P99=$(wrk_p99)
stop_gatehouse

NGINX_AFTER=$(run_wrk "http://127.0.0.1:$NGINX_PORT/" "$BENCH_DIR/gate.lua")
BARE_AFTER=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
NGINX=$(mean "$NGINX_BEFORE" "$NGINX_AFTER")
BARE=$(mean "$BARE_BEFORE" "$BARE_AFTER")
shares() { echo "$(pct "$1" "$NGINX") ($(pct "$1" "$BARE") of bare)"; }
printf '\n%-44s %10s %8s %22s\n' "case" "checks/s" "p99" "vs nginx"
printf '%-44s %10.0f %8s %22s\n' "nginx static 200, the gate's request (mean)" "$NGINX" "$NGINX_P99" "100%"
printf '  (before %.0f/s, after %.0f/s)\n' "$NGINX_BEFORE" "$NGINX_AFTER"
printf '%-44s %10.0f %8s %22s\n' "nginx static 200, a bare GET (mean)" "$BARE" "" "$(pct "$BARE" "$NGINX")"
printf '  (before %.0f/s, after %.0f/s)\n' "$BARE_BEFORE" "$BARE_AFTER"
printf '%-44s %10.0f %8s %22s\n' "gate, cached token (RS256)" "$CACHED" "$CACHED_P99" "$(shares "$CACHED")"
printf '%-44s %10.0f %8s %22s\n' "gate, cached, paced to ~$HALF/s" "$PACED" "$PACED_P99" "p99 target < 2ms"
printf '%-44s %10.0f %8s %22s\n' "gate, cache off (RS256 verify each)" "$UNCACHED" "$UNCACHED_P99" "$(shares "$UNCACHED")"
echo
echo "targets: cached >= 70% of nginx, cache off >= 50%, paced p99 < 2 ms"
