#!/usr/bin/env bash
# PostgreSQL vs SQLite (issue 8): ES256 JWT issuance on /oauth/token with wrk
# over keep-alive, one node on the embedded SQLite store against one node on
# a private PostgreSQL 15 (tests/lib/pg.py, fsync on, synchronous_commit on:
# both stores make every answered token durable), then two and three nodes
# sharing that PostgreSQL, driven at once (one wrk per node, rates summed).
# ES256 keeps signing cheap so that the store's part shows (FORMAT=opaque
# takes signing out altogether). Every node and
# the database share this machine's cores: more nodes cannot add CPU here,
# they show what sharing one database costs.
source "$(dirname "$0")/lib.sh"

ALG=${ALG:-ES256}
FORMAT=${FORMAT:-jwt}	# or opaque
WHAT=$ALG
if [ "$FORMAT" = opaque ]; then WHAT="opaque tokens"; fi
echo "machine: $(nproc) cores; wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s per node, keep-alive; $WHAT"

/usr/bin/python3 "$ROOT/tests/lib/pg.py" serve --fsync >"$WORK/pg.url" 2>"$WORK/pg.err" &
PG_PID=$!
PIDS+=($PG_PID)
for _ in $(seq 1 300); do [ -s "$WORK/pg.url" ] && break; sleep 0.1; done
PG_URL=$(head -1 "$WORK/pg.url")
[ -n "$PG_URL" ] || { echo "bench: PostgreSQL did not start: $(cat "$WORK/pg.err")" >&2; exit 1; }
start_nginx
NGINX=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
echo "nginx static 200: $NGINX req/s (the HTTP limit of this machine)"

# node NAME DB -> starts one gatehouse on DB with the shared master key; port in NODE_PORT
MK="$WORK/master.key"
NODE_PIDS=()
node() {
	local name=$1 db=$2
	NODE_PORT=$(free_port)
	"$BIN" serve --db "$db" --master-key "$MK" --listen "127.0.0.1:$NODE_PORT" \
		--issuer https://bench.test --log-requests false --signing-alg "$ALG" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
	NODE_PIDS+=($!)
	wait_http "http://127.0.0.1:$NODE_PORT/healthz"
}
stop_nodes() {
	for p in "${NODE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	NODE_PIDS=()
}
credentials() {	# db -> exports BENCH_* for token_issue.lua
	"$BIN" tenant create --id bench --db "$1" --master-key "$MK" >/dev/null 2>&1 || true
	local c id secret
	c=$("$BIN" client create --tenant bench --name "bench-$RANDOM" --max-ttl 100000 --token-format "$FORMAT" \
		--rate-limit 100000000 --db "$1" --master-key "$MK")
	id=$(echo "$c" | json_field client_id)
	secret=$(echo "$c" | json_field client_secret)
	export BENCH_CTYPE=application/x-www-form-urlencoded BENCH_BODY="grant_type=client_credentials"
	export BENCH_AUTH="Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)" BENCH_ACCEPT=""
}
# drive PORT... -> one wrk per node at once; prints the summed tokens/s
drive() {
	local i=0 pids=()
	for port in "$@"; do
		wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$BENCH_DIR/token_issue.lua" \
			"http://127.0.0.1:$port/oauth/token" >"$WORK/drive.$i" 2>&1 &
		pids+=($!)
		i=$((i + 1))
	done
	for p in "${pids[@]}"; do wait "$p"; done
	if grep -q "Non-2xx" "$WORK"/drive.*; then
		echo "bench: non-2xx answers:" >&2
		cat "$WORK"/drive.* >&2
		return 1
	fi
	awk '/^Requests\/sec:/ {s += $2} END {printf "%.0f\n", s}' "$WORK"/drive.*
	rm -f "$WORK"/drive.*
}

printf '\n%-40s %10s %12s\n' "case" "tokens/s" "vs nginx"
SQLITE="sqlite:$WORK/bench.db"
node sqlite "$SQLITE"
credentials "$SQLITE"
R=$(drive "$NODE_PORT")
printf '%-40s %10s %12s\n' "1 node, SQLite (WAL, synchronous=FULL)" "$R" "$(pct "$R" "$NGINX")"
stop_nodes

PORTS=()
for n in 1 2 3; do
	node "pg$n" "$PG_URL"
	PORTS+=("$NODE_PORT")
	[ "$n" = 1 ] && credentials "$PG_URL"
	R=$(drive "${PORTS[@]}")
	printf '%-40s %10s %12s\n' "$n node(s), one PostgreSQL 15 (fsync on)" "$R" "$(pct "$R" "$NGINX")"
done
stop_nodes
ROWS=$(/usr/lib/postgresql/*/bin/psql -X -A -t "$PG_URL" -c "SELECT count(*) FROM tokens" 2>/dev/null || echo "?")
echo "tokens recorded in PostgreSQL: $ROWS"
kill "$PG_PID" 2>/dev/null || true
wait "$PG_PID" 2>/dev/null || true
