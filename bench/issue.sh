#!/usr/bin/env bash
# Token issuance throughput (issues 2 and 3): tokens/s with wrk over
# keep-alive for RS256, ES256 and opaque tokens, and for each dialect's
# route, printed beside the machine's limits measured in the same run:
# `openssl speed -multi 2` signing rates and nginx's static 200.
source "$(dirname "$0")/lib.sh"

echo "machine: $(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//')"
echo "wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, keep-alive"
RSA=$(openssl_sign_rate rsa2048)
ECDSA=$(openssl_sign_rate ecdsap256)
echo "openssl speed -multi 2: rsa2048 sign $RSA/s, ecdsap256 sign $ECDSA/s"
start_nginx
NGINX=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
echo "nginx static 200: $NGINX req/s"

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
	local rate
	rate=$(run_wrk "http://127.0.0.1:$GH_PORT$route" "$BENCH_DIR/token_issue.lua")
	echo "$rate $(wrk_p99)"
	stop_gatehouse
}

printf '\n%-34s %10s %8s %28s\n' "case" "tokens/s" "p99" "vs limit"
row() {	# label alg format route kind limit-name limit
	local out rate p99
	out=$(measure "$1" "$2" "$3" "$4" "$5")
	rate=${out% *}
	p99=${out#* }
	printf '%-34s %10.0f %8s %28s\n' "$1" "$rate" "$p99" "$(pct "$rate" "$7") of $6 $7"
	eval "RATE_$(echo "$1" | tr -c 'A-Za-z0-9\n' '_')=$rate"
}
row "RS256 /oauth/token basic+form" RS256 jwt /oauth/token basic-form "rsa2048 sign" "$RSA"
row "ES256 /oauth/token basic+form" ES256 jwt /oauth/token basic-form "nginx" "$NGINX"
row "opaque /oauth/token basic+form" RS256 opaque /oauth/token basic-form "nginx" "$NGINX"
row "RS256 /auth/token (000)" RS256 jwt /auth/token m2p "rsa2048 sign" "$RSA"
row "RS256 /api/oauth/token (001)" RS256 jwt /api/oauth/token partner "rsa2048 sign" "$RSA"
row "RS256 /token (002)" RS256 jwt /token papaya "rsa2048 sign" "$RSA"
row "RS256 /v2.01/oauth/token (003)" RS256 jwt /v2.01/oauth/token basic-form "rsa2048 sign" "$RSA"
row "ES256 /auth/token (000)" ES256 jwt /auth/token m2p "nginx" "$NGINX"
row "ES256 /token (002)" ES256 jwt /token papaya "nginx" "$NGINX"
