#!/usr/bin/env bash
# The dialect layer's cost (issue 3): each seed route's request, as its seed
# document shows it, against `/oauth/token` with Basic + form, same
# algorithm, same client settings. ES256 by default: its signature is
# cheap, so what the routes add shows most (under RS256 it vanishes in the
# signing). Every run gets a fresh server and store; the routes' order
# rotates each round and the medians are compared, by tokens/s and by the
# server's CPU time per token (steadier when other processes share the
# cores). nginx's static 200 of the same run is printed as the ceiling.
# Target: each route within 5% of /oauth/token.
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
ALG=${ALG:-ES256}
ROUTES=("oauth /oauth/token basic-form" "000 /auth/token m2p" "001 /api/oauth/token partner"
	"002 /token papaya" "003 /v2.01/oauth/token basic-form")

echo "machine: $(nproc) cores; wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, keep-alive; $ALG; $ROUNDS rounds"
start_nginx
NGINX=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
echo "nginx static 200: $NGINX req/s"

run_route() {	# label path kind round -> "rate cpu"
	local label=$1 path=$2 kind=$3 c id secret t0 t1 rate
	start_gatehouse "$label$4" --signing-alg "$ALG"
	gh tenant create --id bench >/dev/null
	c=$(gh client create --tenant bench --name bench --max-ttl 100000 --rate-limit 100000000)
	id=$(echo "$c" | json_field client_id)
	secret=$(echo "$c" | json_field client_secret)
	token_request "$kind" "$id" "$secret"
	DURATION=1 run_wrk "http://127.0.0.1:$GH_PORT$path" "$BENCH_DIR/token_issue.lua" >/dev/null
	t0=$(cpu_ticks "$GH_PID")
	rate=$(run_wrk "http://127.0.0.1:$GH_PORT$path" "$BENCH_DIR/token_issue.lua")
	t1=$(cpu_ticks "$GH_PID")
	echo "$rate $(cpu_per_request "$t0" "$t1")"
	stop_gatehouse
	sync
	sleep 1
}

n=${#ROUTES[@]}
for r in $(seq 1 "$ROUNDS"); do
	for k in $(seq 0 $((n - 1))); do
		set -- ${ROUTES[$(((k + r - 1) % n))]}
		out=$(run_route "$1" "$2" "$3" "$r")
		echo "${out% *}" >>"$WORK/rate.$1"
		echo "${out#* }" >>"$WORK/cpu.$1"
		printf 'round %d %-5s %-22s %8.0f tokens/s %7s us CPU/token\n' "$r" "$1" "$2" "${out% *}" "${out#* }"
	done
done

BASE_RATE=$(median <"$WORK/rate.oauth")
BASE_CPU=$(median <"$WORK/cpu.oauth")
printf '\n%-5s %-22s %10s %10s %12s %14s\n' "seed" "route" "tokens/s" "vs nginx" "CPU us/tok" "cost vs oauth"
for spec in "${ROUTES[@]}"; do
	set -- $spec
	rate=$(median <"$WORK/rate.$1")
	cpu=$(median <"$WORK/cpu.$1")
	printf '%-5s %-22s %10.0f %10s %12s %14s\n' "$1" "$2" "$rate" "$(pct "$rate" "$NGINX")" "$cpu" \
		"$(awk -v a="$cpu" -v b="$BASE_CPU" 'BEGIN { printf "%+.1f%%", 100 * (a - b) / b }')"
done
echo "(target: each route's cost within 5% of /oauth/token; medians of $ROUNDS rounds)"
