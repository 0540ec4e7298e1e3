#!/usr/bin/env bash
# Where the cached gate's distance from nginx lies (issue 4): nginx's static
# 200, libmicrohttpd alone set up as gatehouse sets it up (bench/http_floor.c:
# a 200 with the gate's eight header fields, no work of its own), and the
# gate with a reused RS256 token. Same wrk settings and the same request
# (gate.lua) for all three, in alternating rounds; each row gives the median
# rate, its share of nginx's, and the server's CPU per request (utime+stime
# from /proc over the run; wrk's own is not in it).
#   ROUNDS=3 DURATION=5 bench/http_floor.sh
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
BUILD=${BUILD:-$ROOT/build}
cmake --build "$BUILD" --target bench_http_floor >/dev/null
FLOOR_BIN=$BUILD/bench_http_floor

echo "machine: $(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//')"
echo "wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, keep-alive, $ROUNDS alternating rounds"

start_nginx
NGINX_PIDS=$(pgrep -d ' ' -P "${PIDS[-1]}")	# its workers, which serve
FLOOR_PORT=$(free_port)
"$FLOOR_BIN" "$FLOOR_PORT" &
PIDS+=($!)
FLOOR_PID=$!
wait_http "http://127.0.0.1:$FLOOR_PORT/"
echo 'GET /v1/products/** role=viewer env=any' >"$WORK/gate.policy"
start_gatehouse cached --signing-alg RS256 --policy "$WORK/gate.policy"
gate_token

ticks() { local t=0 p; for p in "$@"; do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
# measure NAME URL PID... -> appends "rate us_per_request" to $WORK/rates.NAME
measure() {
	local name=$1 url=$2 t0 t1 rate n
	shift 2
	t0=$(ticks "$@")
	rate=$(run_wrk "$url" "$BENCH_DIR/gate.lua")
	t1=$(ticks "$@")
	n=$(awk '/requests in/ {print $1}' "$WORK/wrk.last")
	echo "$rate $(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }')" >>"$WORK/rates.$name"
}
for _ in $(seq 1 "$ROUNDS"); do
	# shellcheck disable=SC2086 # the nginx workers' pids, one word each
	measure nginx "http://127.0.0.1:$NGINX_PORT/" $NGINX_PIDS
	measure floor "http://127.0.0.1:$FLOOR_PORT/gate" "$FLOOR_PID"
	measure gate "http://127.0.0.1:$GH_PORT/gate" "$GH_PID"
done

NGINX=$(awk '{print $1}' "$WORK/rates.nginx" | median)
printf '\n%-44s %10s %9s %14s\n' "case (median of $ROUNDS)" "requests/s" "vs nginx" "server µs/req"
row() {	# title file
	local rate us
	rate=$(awk '{print $1}' "$WORK/rates.$2" | median)
	us=$(awk '{print $2}' "$WORK/rates.$2" | median)
	printf '%-44s %10.0f %9s %14s\n' "$1" "$rate" "$(pct "$rate" "$NGINX")" "$us"
}
row "nginx static 200" nginx
row "libmicrohttpd alone (bench/http_floor.c)" floor
row "gate, cached token (RS256)" gate
echo
for f in nginx floor gate; do printf '  %-6s %s\n' "$f" "$(awk '{printf "%.0f/s %sµs  ", $1, $2}' "$WORK/rates.$f")"; done
