#!/usr/bin/env bash
# Lockout and rate-limit bookkeeping (issue 5), two measurements, each beside
# nginx's static 200 measured in the same run with the same wrk settings:
#
# 1. Overhead on issuance: tokens/s with the lockout and the rate limiter on
#    (the defaults; the client's limit set high enough never to refuse) and
#    off (`--lockout off --rate-limit 0`, the client on the server default).
#    Both servers stay up; runs alternate on/off ROUNDS times and the medians
#    are compared, so that load from other processes hits both alike.
# 2. Brute force: a legitimate client's tokens/s alone, and while an attacker
#    sends bad secrets (half for the victim's id, half for unknown ids) from
#    BENCH_ADDRS addresses through X-Forwarded-For, paced to ATTACK_RATE/s.
#    Each attack run uses a fresh address range, so it starts with no locks
#    and makes its own (pair and address locks, each written to the store).
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
ALG=${ALG:-ES256}
ATTACK_CONNS=${ATTACK_CONNS:-4}
ATTACK_RATE=${ATTACK_RATE:-500}
export BENCH_ADDRS=${BENCH_ADDRS:-200}


echo "machine: $(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//')"
echo "wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, keep-alive; $ALG tokens; $ROUNDS alternating rounds, medians"
start_nginx
NGINX=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
echo "nginx static 200: $NGINX req/s"

# new_client NAME RATE -> exports BENCH_* for token_issue.lua, sets CLIENT_ID
new_client() {
	gh tenant create --id bench >/dev/null 2>&1 || true
	local c secret
	c=$(gh client create --tenant bench --name "$1" --max-ttl 100000 --rate-limit "$2")
	CLIENT_ID=$(echo "$c" | json_field client_id)
	secret=$(echo "$c" | json_field client_secret)
	export BENCH_CTYPE=application/x-www-form-urlencoded BENCH_BODY="grant_type=client_credentials"
	export BENCH_AUTH="Basic $(printf '%s:%s' "$CLIENT_ID" "$secret" | base64 -w0)" BENCH_ACCEPT=""
}

# -- 1. bookkeeping overhead ---------------------------------------------------
if [ -z "${SKIP_OVERHEAD:-}" ]; then
# A fresh server and store for every run: two long-lived instances were
# seen to differ by 10% with identical settings on this VM.
run_case() {	# on|off round -> tokens/s
	if [ "$1" = on ]; then
		start_gatehouse "on$2" --signing-alg "$ALG"
		new_client on 100000000
	else
		start_gatehouse "off$2" --signing-alg "$ALG" --lockout off --rate-limit 0
		new_client off 0
	fi
	# A discarded warm-up (caches, allocator, SQLite pages), then the run.
	DURATION=1 run_wrk "http://127.0.0.1:$GH_PORT/oauth/token" "$BENCH_DIR/token_issue.lua" >/dev/null
	local t0 t1 rate reqs
	t0=$(cpu_ticks "$GH_PID")
	rate=$(run_wrk "http://127.0.0.1:$GH_PORT/oauth/token" "$BENCH_DIR/token_issue.lua")
	t1=$(cpu_ticks "$GH_PID")
	reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk.last")
	# The server's CPU time per token: far steadier than tokens/s when
	# other processes share the cores.
	echo "$rate $(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$reqs" \
		'BEGIN { printf "%.1f", 1e6 * d / hz / n }')"
	stop_gatehouse
	sync	# the stopped server's writes must not land in the next run
	sleep 1
}
: >"$WORK/on.rates"
: >"$WORK/off.rates"
: >"$WORK/overhead.ratios"
: >"$WORK/on.cpu"
: >"$WORK/off.cpu"
for r in $(seq 1 "$ROUNDS"); do
	# Odd rounds measure on first, even rounds off first: a drift in the
	# machine's load over a round then favours neither.
	if [ $((r % 2)) = 1 ]; then
		a=$(run_case on "$r"); b=$(run_case off "$r")
	else
		b=$(run_case off "$r"); a=$(run_case on "$r")
	fi
	on=${a% *} off=${b% *}
	echo "$on" >>"$WORK/on.rates"
	echo "$off" >>"$WORK/off.rates"
	echo "${a#* }" >>"$WORK/on.cpu"
	echo "${b#* }" >>"$WORK/off.cpu"
	awk -v a="$on" -v b="$off" 'BEGIN { print a / b }' >>"$WORK/overhead.ratios"
	printf 'round %d: on %.0f tokens/s %s us CPU/token, off %.0f tokens/s %s us CPU/token\n' \
		"$r" "$on" "${a#* }" "$off" "${b#* }"
done
ON=$(median <"$WORK/on.rates")
OFF=$(median <"$WORK/off.rates")
ON_CPU=$(median <"$WORK/on.cpu")
OFF_CPU=$(median <"$WORK/off.cpu")
else
	ON=0 OFF=0 ON_CPU=0 OFF_CPU=1
fi

# -- 2. brute force ---------------------------------------------------------------
# shellcheck disable=SC2086
start_gatehouse brute --signing-alg "$ALG" --trusted-proxies 127.0.0.1 ${BRUTE_FLAGS:-}
new_client legit 100000000
LEGIT_AUTH=$BENCH_AUTH
new_client victim 100000000
export BENCH_VICTIM=$CLIENT_ID
export BENCH_AUTH=$LEGIT_AUTH
export BENCH_DELAY_MS=$(awk -v c="$ATTACK_CONNS" -v r="$ATTACK_RATE" 'BEGIN { printf "%.3f", 1000 * c / r }')

: >"$WORK/alone.rates"
: >"$WORK/brute.ratios"
: >"$WORK/attacked.rates"
run_alone() { run_wrk "http://127.0.0.1:$GH_PORT/oauth/token" "$BENCH_DIR/token_issue.lua"; }
run_attacked() {	# round
	BENCH_ROUND=$1 wrk -t1 -c"$ATTACK_CONNS" -d"$((DURATION + 1))s" -s "$BENCH_DIR/brute.lua" \
		"http://127.0.0.1:$GH_PORT/oauth/token" >"$WORK/attack.$1" 2>&1 &
	local apid=$!
	sleep 0.5
	run_wrk "http://127.0.0.1:$GH_PORT/oauth/token" "$BENCH_DIR/token_issue.lua"
	wait "$apid"
}
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		alone=$(run_alone); attacked=$(run_attacked "$r")
	else
		attacked=$(run_attacked "$r"); alone=$(run_alone)
	fi
	echo "$alone" >>"$WORK/alone.rates"
	echo "$attacked" >>"$WORK/attacked.rates"
	awk -v a="$attacked" -v b="$alone" 'BEGIN { print a / b }' >>"$WORK/brute.ratios"
	printf 'round %d: alone %.0f tokens/s, under attack %.0f tokens/s; %s\n' "$r" "$alone" "$attacked" \
		"$(grep '^attack:' "$WORK/attack.$r")"
done
ALONE=$(median <"$WORK/alone.rates")
ATTACKED=$(median <"$WORK/attacked.rates")
LOCKS=$(curl -s "http://127.0.0.1:$GH_PORT/metrics" | awk '/^gatehouse_lockouts_total/ {printf "%s %s  ", $1, $2}')
stop_gatehouse

printf '\n%-52s %10s %12s\n' "case" "tokens/s" "vs nginx"
printf '%-52s %10.0f %12s\n' "nginx static 200" "$NGINX" "100%"
printf '%-52s %10.0f %12s\n' "$ALG issuance, lockout + rate limit off" "$OFF" "$(pct "$OFF" "$NGINX")"
printf '%-52s %10.0f %12s\n' "$ALG issuance, lockout + rate limit on" "$ON" "$(pct "$ON" "$NGINX")"
printf 'server CPU per token (median): on %s us, off %s us; bookkeeping overhead by CPU: %s (target < 5%%)\n' \
	"$ON_CPU" "$OFF_CPU" "$(awk -v a="$ON_CPU" -v b="$OFF_CPU" 'BEGIN { printf "%.1f%%", 100 * (a - b) / b }')"
printf 'bookkeeping overhead by tokens/s: %s of the medians, %s median of the rounds (target < 5%%)\n' \
	"$(awk -v a="$ON" -v b="$OFF" 'BEGIN { printf "%.1f%%", 100 * (b - a) / b }')" \
	"$(median <"$WORK/overhead.ratios" | awk '{ printf "%.1f%%", 100 * (1 - $1) }')"
printf '%-52s %10.0f %12s\n' "legitimate client alone" "$ALONE" "$(pct "$ALONE" "$NGINX")"
printf '%-52s %10.0f %12s\n' "legitimate client under brute force" "$ATTACKED" "$(pct "$ATTACKED" "$NGINX")"
printf 'slowdown under brute force: %s of the medians, %s median of the rounds (target <= 10%%)\n' \
	"$(awk -v a="$ATTACKED" -v b="$ALONE" 'BEGIN { printf "%.1f%%", 100 * (b - a) / b }')" \
	"$(median <"$WORK/brute.ratios" | awk '{ printf "%.1f%%", 100 * (1 - $1) }')"
printf 'locks made: %s\n' "$LOCKS"
