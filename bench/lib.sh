# Shared helpers for the benchmarks: free ports, a private nginx, a private
# gatehouse, wrk parsing. Sourced by the bench/*.sh scripts.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BIN=${GATEHOUSE_BIN:-$ROOT/build/gatehouse}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-1}
WORK=$(mktemp -d /tmp/gh-bench.XXXXXX)
chmod 700 "$WORK"
PIDS=()

cleanup() {
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() {	# url
	for _ in $(seq 1 200); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.05
	done
	echo "bench: $1 did not come up" >&2
	return 1
}

# wrk URL [lua script] -> prints requests/s; full output kept in $WORK/wrk.last
run_wrk() {
	local url=$1 script=${2:-}
	local args=(-t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency)
	[ -n "$script" ] && args+=(-s "$script")
	wrk "${args[@]}" "$url" >"$WORK/wrk.last" 2>&1
	if grep -q "Non-2xx" "$WORK/wrk.last"; then
		echo "bench: non-2xx answers during the run:" >&2
		cat "$WORK/wrk.last" >&2
		return 1
	fi
	awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.last"
}

wrk_p99() {
	awk '$1 == "99%" {print $2}' "$WORK/wrk.last"
}

# nginx answers in two ways: `return 200` from its configuration at any path,
# and, at /index.html, a static file served as Debian's default site serves
# it (its 615-byte welcome page, sendfile). The file is what issue 2's
# reference figure measures (58,000-63,000/s "on this kind of machine";
# ~60,000-65,000 here, where `return 200` gives ~110,000).
start_nginx() {	# -> sets NGINX_PORT
	NGINX_PORT=$(free_port)
	mkdir -p "$WORK/nginx/logs" "$WORK/nginx/html"
	# Started as root, nginx's workers run as nobody: they must reach the
	# file through the private work directory (search, not list).
	chmod 711 "$WORK" "$WORK/nginx"
	chmod 755 "$WORK/nginx/html"
	if [ -r /usr/share/nginx/html/index.html ]; then
		cp /usr/share/nginx/html/index.html "$WORK/nginx/html/index.html"
	else
		head -c 615 /dev/zero | tr '\0' 'x' >"$WORK/nginx/html/index.html"
	fi
	cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 2;
error_log $WORK/nginx/logs/error.log;
pid $WORK/nginx/nginx.pid;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $WORK/nginx/body;
	proxy_temp_path $WORK/nginx/proxy;
	fastcgi_temp_path $WORK/nginx/fastcgi;
	uwsgi_temp_path $WORK/nginx/uwsgi;
	scgi_temp_path $WORK/nginx/scgi;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $WORK/nginx/html;
		location = /index.html { sendfile on; tcp_nopush on; }
		location / { default_type application/json; return 200 '{"ok":true}'; }
	}
}
CONF
	/usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
	PIDS+=($!)
	wait_http "http://127.0.0.1:$NGINX_PORT/"
}

# start_gatehouse NAME [serve flags...] -> sets GH_PORT, GH_DB, GH_MK
start_gatehouse() {
	local name=$1
	shift
	GH_PORT=$(free_port)
	GH_DB="sqlite:$WORK/$name.db"
	GH_MK="$WORK/$name.key"
	"$BIN" serve --db "$GH_DB" --master-key "$GH_MK" --listen "127.0.0.1:$GH_PORT" \
		--log-requests false "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
	GH_PID=$!
	wait_http "http://127.0.0.1:$GH_PORT/healthz"
}

stop_gatehouse() {
	kill "$GH_PID" 2>/dev/null || true
	wait "$GH_PID" 2>/dev/null || true
}

gh() {
	"$BIN" "$@" --db "$GH_DB" --master-key "$GH_MK"
}

json_field() {	# field < json
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# Sums the per-process "+F" lines of openssl speed -multi (OpenSSL 3.0's
# summary table mis-adds RSA under -multi). $1: rsa2048 | ecdsap256 | ed25519
openssl_sign_rate() {
	local alg=$1 field
	case "$alg" in
		rsa2048) field=4 ;;	# +F2:n:bits:sign/s:verify/s
		ecdsap256) field=4 ;;	# +F4:n:bits:sign/s:verify/s
		ed25519) field=4 ;;	# +F6:n:bits:sign/s:verify/s
	esac
	openssl speed -multi 2 -seconds "${SPEED_SECONDS:-5}" "$alg" 2>&1 |
		awk -F: -v f="$field" '/^Got: \+F/ {sub(/^Got: /, ""); s += $f} END {printf "%.0f\n", s}'
}

mean() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (a + b) / 2 }'; }	# of a before and an after run

pct() {	# a b -> a/b in percent
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }	# utime + stime of a pid
# Bytes a pid has caused to be written to storage (its WAL, checkpoints).
write_bytes() { awk '/^write_bytes:/ {print $2}' "/proc/$1/io"; }
# The machine's idle share (idle + iowait of both cores) between two
# stat_snapshot outputs: near 0 the run was CPU-bound; well above, something
# serial held it back (issuance: the store writer's commit cycle).
stat_snapshot() { awk '/^cpu / {t = 0; for (i = 2; i <= 9; i++) t += $i; print $5 + $6, t}' /proc/stat; }
idle_pct() {	# "idle0 total0" "idle1 total1"
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
		printf "%.0f%%", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0 }'
}
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# gate_token: a fresh production client of tenant bench in the running
# gatehouse; exports BENCH_TOKEN and BENCH_TENANT for gate.lua, and checks
# that the gate (its policy allowing GET /v1/products/**) answers 200.
gate_token() {
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

# token_request KIND ID SECRET: exports BENCH_* for token_issue.lua, the
# request each route's seed document shows.
token_request() {
	local kind=$1 id=$2 secret=$3
	export BENCH_AUTH="" BENCH_ACCEPT=""
	case "$kind" in
		basic-form) export BENCH_CTYPE=application/x-www-form-urlencoded BENCH_BODY="grant_type=client_credentials"
			BENCH_AUTH="Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)" ;;
		m2p) export BENCH_CTYPE=application/json BENCH_BODY="{\"clientId\":\"$id\",\"clientSecret\":\"$secret\",\"grantType\":\"client_credentials\"}" ;;
		partner) export BENCH_CTYPE=application/json BENCH_ACCEPT=application/json BENCH_BODY="{\"grant_type\":\"client_credentials\",\"client_id\":\"$id\",\"client_secret\":\"$secret\"}" ;;
		papaya) export BENCH_CTYPE=application/json BENCH_BODY="{\"api_key\":\"$id\",\"client_secret\":\"$secret\",\"expiration\":3600}" ;;
		*) echo "bench: unknown request kind $kind" >&2; return 1 ;;
	esac
}

# Server CPU per request over the last run_wrk, in microseconds: TICKS0
# TICKS1 (cpu_ticks before and after).
cpu_per_request() {
	local reqs
	reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk.last")
	awk -v d=$(($2 - $1)) -v hz="$(getconf CLK_TCK)" -v n="$reqs" 'BEGIN { printf "%.1f", 1e6 * d / hz / n }'
}

# Storage bytes per request over the last run_wrk, in KB: BYTES0 BYTES1.
kb_per_request() {
	local reqs
	reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk.last")
	awk -v d=$(($2 - $1)) -v n="$reqs" 'BEGIN { printf "%.1f", d / 1024 / n }'
}
