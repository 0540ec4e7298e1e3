#!/usr/bin/env bash
# All benchmarks, one after another. See BENCHMARKS.md for the figures.
set -euo pipefail
cd "$(dirname "$0")"
for b in issue.sh dialects.sh dialects_ir.sh gate.sh gate_ir.sh http_floor.sh client_cache.sh lockout.sh audit.sh pg.sh; do
	[ -x "$b" ] || continue
	echo "== $b"
	./"$b"
done
