#!/usr/bin/env bash
# The dialect layer's cost (issue 3) in instructions, which this shared VM
# cannot blur: the server runs under callgrind, and for each route N token
# requests (after a warm-up) are counted between `callgrind_control -z` and
# `-d`. Reported per token: the instructions of the HTTP worker threads
# (parsing, client authentication, signing, the answer: where the dialects
# differ) and of the whole process (adding the store writer, one commit
# per token here since the requests come one after another). One server,
# one client; the routes take turns, ROUNDS times. Compared with
# `/oauth/token` Basic + form; target: within 5%.
source "$(dirname "$0")/lib.sh"

N=${N:-200}
ROUNDS=${ROUNDS:-2}
ALG=${ALG:-ES256}
ROUTES=(${ROUTES_ONLY:-oauth 000 001 002 003})
command -v callgrind_control >/dev/null || { echo "bench: valgrind is not installed" >&2; exit 1; }

GH_PORT=$(free_port)
GH_DB="sqlite:$WORK/ir.db"
GH_MK="$WORK/ir.key"
valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$WORK/cg.out" \
	"$BIN" serve --db "$GH_DB" --master-key "$GH_MK" --listen "127.0.0.1:$GH_PORT" \
	--log-requests false --signing-alg "$ALG" >"$WORK/ir.out" 2>"$WORK/ir.err" &
VG_PID=$!
PIDS+=("$VG_PID")
for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$GH_PORT/healthz" && break; sleep 0.1; done
gh tenant create --id bench >/dev/null
gh client create --tenant bench --name bench --max-ttl 100000 --rate-limit 100000000 >"$WORK/client.json"

count() {	# route -> "worker-Ir total-Ir" per token
	/usr/bin/python3 "$BENCH_DIR/dialect_requests.py" "$WORK/client.json" "$GH_PORT" "$1" 20
	rm -f "$WORK"/cg.out.*
	callgrind_control -z "$VG_PID" >/dev/null 2>&1
	/usr/bin/python3 "$BENCH_DIR/dialect_requests.py" "$WORK/client.json" "$GH_PORT" "$1" "$N"
	callgrind_control -d "$VG_PID" >/dev/null 2>&1
	local worker=0 total=0 ir
	for f in "$WORK"/cg.out.*; do
		ir=$(awk '/^summary:/ {print $2}' "$f")
		total=$((total + ir))
		grep -q 'access_handler' "$f" && worker=$((worker + ir))
		[ -n "${KEEP:-}" ] && cp "$f" "$KEEP.$1.$(basename "$f")"
	done
	echo "$((worker / N)) $((total / N))"
}

echo "callgrind, $ALG, $N tokens per route per round, $ROUNDS rounds"
for r in $(seq 1 "$ROUNDS"); do
	for route in "${ROUTES[@]}"; do
		out=$(count "$route")
		echo "${out% *}" >>"$WORK/w.$route"
		echo "${out#* }" >>"$WORK/t.$route"
		printf 'round %d %-5s worker %9s Ir/token, process %9s Ir/token\n' "$r" "$route" "${out% *}" "${out#* }"
	done
done
BW=$(median <"$WORK/w.oauth")
BT=$(median <"$WORK/t.oauth")
printf '\n%-6s %18s %10s %18s %10s\n' "route" "worker Ir/token" "vs oauth" "process Ir/token" "vs oauth"
for route in "${ROUTES[@]}"; do
	w=$(median <"$WORK/w.$route")
	t=$(median <"$WORK/t.$route")
	printf '%-6s %18.0f %10s %18.0f %10s\n' "$route" "$w" \
		"$(awk -v a="$w" -v b="$BW" 'BEGIN { printf "%+.1f%%", 100 * (a - b) / b }')" "$t" \
		"$(awk -v a="$t" -v b="$BT" 'BEGIN { printf "%+.1f%%", 100 * (a - b) / b }')"
done
echo "(target: each route within 5% of /oauth/token)"
