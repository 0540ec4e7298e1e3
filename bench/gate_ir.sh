#!/usr/bin/env bash
# A gate check's cost in instructions (issue 4), which this shared VM cannot
# blur: the server runs under callgrind, and N checks with one RS256 token
# over one keep-alive connection are counted between `callgrind_control -z`
# and `-d`, cached and with the cache off: the difference is what a check
# pays for verifying instead of looking the token up.
# KEEP=PREFIX keeps the callgrind files for callgrind_annotate.
source "$(dirname "$0")/lib.sh"

N=${N:-300}
command -v callgrind_control >/dev/null || { echo "bench: valgrind is not installed" >&2; exit 1; }

cat >"$WORK/gate.policy" <<'POLICY'
GET /v1/products/** role=viewer env=any
POLICY

checks() {	# port token n: n gate checks on one connection
	/usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import http.client, sys
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
h = {"Authorization": "Bearer " + token, "X-TENANT-ID": "bench",
     "X-Original-Method": "GET", "X-Original-URI": "/v1/products/p-1"}
for _ in range(n):
    c.request("GET", "/gate", headers=h)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("the gate answered %d" % r.status)
PY
}

measure() {	# name [serve flags] -> worker Ir per check
	local name=$1 c id secret token ir worker=0
	shift
	GH_PORT=$(free_port)
	GH_DB="sqlite:$WORK/$name.db"
	GH_MK="$WORK/$name.key"
	valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$WORK/$name.cg" \
		"$BIN" serve --db "$GH_DB" --master-key "$GH_MK" --listen "127.0.0.1:$GH_PORT" \
		--log-requests false --signing-alg RS256 --policy "$WORK/gate.policy" "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" &
	local vg=$!
	PIDS+=("$vg")
	for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$GH_PORT/healthz" && break; sleep 0.1; done
	gh tenant create --id bench >/dev/null
	c=$(gh client create --tenant bench --name bench --rate-limit 100000000)
	id=$(echo "$c" | json_field client_id)
	secret=$(echo "$c" | json_field client_secret)
	token=$(curl -s -u "$id:$secret" -d grant_type=client_credentials \
		"http://127.0.0.1:$GH_PORT/oauth/token" | json_field access_token)
	checks "$GH_PORT" "$token" 20 || exit 1
	rm -f "$WORK/$name.cg".*
	callgrind_control -z "$vg" >/dev/null 2>&1
	checks "$GH_PORT" "$token" "$N" || exit 1
	callgrind_control -d "$vg" >/dev/null 2>&1
	for f in "$WORK/$name.cg".*; do
		ir=$(awk '/^summary:/ {print $2}' "$f")
		grep -q 'access_handler' "$f" && worker=$((worker + ir))
		[ -n "${KEEP:-}" ] && cp "$f" "$KEEP.$name.$(basename "$f")"
	done
	kill "$vg" 2>/dev/null
	wait "$vg" 2>/dev/null
	echo $((worker / N))
}

echo "callgrind, RS256, $N checks per case on one keep-alive connection"
CACHED=$(measure cached)
UNCACHED=$(measure uncached --gate-cache false)
printf '%-34s %14s\n' "case" "worker Ir/check"
printf '%-34s %14s\n' "gate, cached token" "$CACHED"
printf '%-34s %14s\n' "gate, cache off (RS256 verify)" "$UNCACHED"
printf '%-34s %14s\n' "the verification alone (difference)" "$((UNCACHED - CACHED))"
