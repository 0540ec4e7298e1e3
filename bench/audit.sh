#!/usr/bin/env bash
# Issue 6, Speed: token issuance with the audit trail on vs off. Each token
# is a token.issued event, committed in the same group-commit transaction as
# the token's record (no extra fsync); a batch's events of one client share
# one hash-chained row (src/store/audit_group.h). Rounds alternate
# off/on on fresh stores so that load from other processes hits both alike;
# the nginx static 200 of the same run is the machine's ceiling.
# Target: "on" within 10% of "off".
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
echo "machine: $(nproc) cores; wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, keep-alive; $ROUNDS rounds"
start_nginx
NGINX=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
echo "nginx static 200: $NGINX req/s"

measure() {	# name alg format audit -> "rate p99 rows cpu-us-per-token"
	local name=$1 alg=$2 format=$3 audit=$4 c id secret rate p99 rows t0 t1 cpu
	start_gatehouse "$name" --signing-alg "$alg" --audit "$audit"
	gh tenant create --id bench >/dev/null
	c=$(gh client create --tenant bench --name bench --token-format "$format" --max-ttl 100000 --rate-limit 100000000)
	id=$(echo "$c" | json_field client_id)
	secret=$(echo "$c" | json_field client_secret)
	token_request basic-form "$id" "$secret"
	DURATION=1 run_wrk "http://127.0.0.1:$GH_PORT/oauth/token" "$BENCH_DIR/token_issue.lua" >/dev/null
	t0=$(cpu_ticks "$GH_PID")
	rate=$(run_wrk "http://127.0.0.1:$GH_PORT/oauth/token" "$BENCH_DIR/token_issue.lua")
	t1=$(cpu_ticks "$GH_PID")
	p99=$(wrk_p99)
	cpu=$(cpu_per_request "$t0" "$t1")
	stop_gatehouse
	# Proof that the trail was (or was not) written, and that it verifies.
	# events/rows: a batch's tokens of one client share a row (audit_group.h).
	rows=$(/usr/bin/python3 -c '
import json, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("select request_id, detail from audit where action=\"token.issued\"").fetchall()
ev = sum(len(json.loads(d)["events"]) if r == "" else 1 for r, d in rows)
print("%d/%d" % (ev, len(rows)))' "${GH_DB#sqlite:}")
	if [ "$audit" = on ]; then
		gh audit verify >/dev/null || { echo "bench: audit verify failed" >&2; exit 1; }
	fi
	echo "$rate $p99 $rows $cpu"
}

printf '\n%-8s %-5s %5s %10s %9s %13s %12s\n' "case" "audit" "round" "tokens/s" "p99" "events/rows" "CPU us/tok"
for spec in "ES256 jwt" "RS256 opaque"; do
	set -- $spec
	alg=$1 format=$2 label=$([ "$format" = opaque ] && echo opaque || echo "$alg")
	off=() on=() off_cpu=() on_cpu=()
	for r in $(seq 1 "$ROUNDS"); do
		# Odd rounds off first, even rounds on first: drift favours neither.
		order="off on"
		[ $((r % 2)) = 0 ] && order="on off"
		for audit in $order; do
			out=$(measure "${label}_${audit}_$r" "$alg" "$format" "$audit")
			set -- $out
			printf '%-8s %-5s %5d %10.0f %9s %13s %12s\n' "$label" "$audit" "$r" "$1" "$2" "$3" "$4"
			if [ "$audit" = on ]; then on+=("$1"); on_cpu+=("$4"); else off+=("$1"); off_cpu+=("$4"); fi
		done
	done
	m_off=$(printf '%s\n' "${off[@]}" | median)
	m_on=$(printf '%s\n' "${on[@]}" | median)
	c_off=$(printf '%s\n' "${off_cpu[@]}" | median)
	c_on=$(printf '%s\n' "${on_cpu[@]}" | median)
	printf '%-8s median: off %.0f/s, on %.0f/s: on = %s of off (target >= 90%%); nginx %s/s\n' \
		"$label" "$m_off" "$m_on" "$(pct "$m_on" "$m_off")" "$NGINX"
	printf '%-8s server CPU per token (median): off %s us, on %s us: the trail costs %s\n' \
		"$label" "$c_off" "$c_on" "$(awk -v a="$c_on" -v b="$c_off" 'BEGIN { printf "%.1f%%", 100 * (a - b) / b }')"
done
