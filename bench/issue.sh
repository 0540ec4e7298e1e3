#!/usr/bin/env bash
# Token issuance throughput (issues 2 and 3): tokens/s with wrk over
# keep-alive for RS256, ES256 and opaque tokens, and for each dialect's
# route, printed beside the machine's limits measured in the same run:
# `openssl speed -multi 2` signing rates and nginx's static 200: a static
# file (what issue 2's reference figure measures), and `return 200` both for
# a bare GET and for the token request itself (the same wrk command).
source "$(dirname "$0")/lib.sh"

echo "machine: $(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//')"
echo "wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, keep-alive"
# The limits are measured before and after the runs and averaged: on a
# shared VM they drift by up to 2x within minutes (both figures printed).
start_nginx
# nginx answers three requests: a GET of a static file, the issue's
# reference (its static module refuses a POST with 405, so the token
# request cannot be sent to it); a bare GET of `return 200`; and the token
# request itself (token_issue.lua's POST with a Basic header and a form
# body, credentials of the real shape: a UUID and a 43-character secret),
# answered by `return 200`, as gate.sh does.
limits() {	# -> "rsa ecdsa nginx-bare nginx-same nginx-file"
	local bare same file
	file=$(run_wrk "http://127.0.0.1:$NGINX_PORT/index.html")
	bare=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
	same=$(token_request basic-form "$(cat /proc/sys/kernel/random/uuid)" \
		"$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')" &&
		run_wrk "http://127.0.0.1:$NGINX_PORT/oauth/token" "$BENCH_DIR/token_issue.lua")
	echo "$(openssl_sign_rate rsa2048) $(openssl_sign_rate ecdsap256) $bare $same $file"
}
read -r RSA1 ECDSA1 NGINX1 SAME1 FILE1 <<<"$(limits)"
echo "before: openssl speed -multi 2: rsa2048 sign $RSA1/s, ecdsap256 sign $ECDSA1/s; nginx static 200: $FILE1 req/s (static file), $NGINX1 req/s (return 200, bare GET), $SAME1 req/s (return 200, the token request)"

measure() {	# label alg format route ctype body-kind
	local label=$1 alg=$2 format=$3 route=$4 kind=$5
	local name
	name=$(echo "$label" | tr -c 'A-Za-z0-9\n' '_')
	start_gatehouse "$name" --signing-alg "$alg"
	gh tenant create --id bench >/dev/null
	local c id secret
	c=$(gh client create --tenant bench --name bench --token-format "$format" --max-ttl 100000 --rate-limit 100000000)
	id=$(echo "$c" | json_field client_id)
	secret=$(echo "$c" | json_field client_secret)
	token_request "$kind" "$id" "$secret"
	local rate t0 t1 b0 b1 s0 s1
	t0=$(cpu_ticks "$GH_PID")
	b0=$(write_bytes "$GH_PID")
	s0=$(stat_snapshot)
	rate=$(run_wrk "http://127.0.0.1:$GH_PORT$route" "$BENCH_DIR/token_issue.lua")
	s1=$(stat_snapshot)
	t1=$(cpu_ticks "$GH_PID")
	b1=$(write_bytes "$GH_PID")
	# Where a token's cost goes: the server's CPU and the bytes its store
	# writes (WAL frames and checkpoints) per token; and whether the machine
	# was saturated (its idle share, wrk included).
	echo "$rate $(wrk_p99) $(cpu_per_request "$t0" "$t1") $(kb_per_request "$b0" "$b1") $(idle_pct "$s0" "$s1")"
	stop_gatehouse
}

ROWS=()
row() {	# label alg format route kind limit-kind
	local out
	out=$(measure "$1" "$2" "$3" "$4" "$5")
	local rate p99 cpu kb idle
	read -r rate p99 cpu kb idle <<<"$out"
	ROWS+=("$1|$rate|$p99|$6|$cpu|$kb|$idle")
	printf '%-34s %10.0f %8s %8s us/token %6s KB written/token %5s idle\n' "$1" "$rate" "$p99" "$cpu" \
		"$kb" "$idle"
}
echo
row "RS256 /oauth/token basic+form" RS256 jwt /oauth/token basic-form rsa
row "ES256 /oauth/token basic+form" ES256 jwt /oauth/token basic-form nginx
row "opaque /oauth/token basic+form" RS256 opaque /oauth/token basic-form nginx
row "RS256 /auth/token (000)" RS256 jwt /auth/token m2p rsa
row "RS256 /api/oauth/token (001)" RS256 jwt /api/oauth/token partner rsa
row "RS256 /token (002)" RS256 jwt /token papaya rsa
row "RS256 /v2.01/oauth/token (003)" RS256 jwt /v2.01/oauth/token basic-form rsa
row "ES256 /auth/token (000)" ES256 jwt /auth/token m2p nginx
row "ES256 /token (002)" ES256 jwt /token papaya nginx

read -r RSA2 ECDSA2 NGINX2 SAME2 FILE2 <<<"$(limits)"
echo "after:  openssl speed -multi 2: rsa2048 sign $RSA2/s, ecdsap256 sign $ECDSA2/s; nginx static 200: $FILE2 req/s (static file), $NGINX2 req/s (return 200, bare GET), $SAME2 req/s (return 200, the token request)"
RSA=$(mean "$RSA1" "$RSA2")
NGINX=$(mean "$NGINX1" "$NGINX2")
SAME=$(mean "$SAME1" "$SAME2")
FILE=$(mean "$FILE1" "$FILE2")
printf '\n%-34s %10s %8s %-80s %10s %8s %12s\n' "case" "tokens/s" "p99" "vs limit (mean of before and after)" \
	"CPU us/tok" "KB/tok" "machine idle"
for r in "${ROWS[@]}"; do
	IFS='|' read -r label rate p99 kind cpu kb idle <<<"$r"
	if [ "$kind" = rsa ]; then
		share="$(pct "$rate" "$RSA") of rsa2048 sign $RSA"
	else
		share="$(pct "$rate" "$FILE") of nginx file $FILE ($(pct "$rate" "$NGINX") of return-200 $NGINX, $(pct "$rate" "$SAME") same-request $SAME)"
	fi
	printf '%-34s %10.0f %8s %-80s %10s %8s %12s\n' "$label" "$rate" "$p99" "$share" "$cpu" "$kb" "$idle"
done
