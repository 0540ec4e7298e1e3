#!/usr/bin/env bash
# The client library's cached-token hand-out (issue 7): bench/client_cache.c,
# built with the release build as lib/bench_client_cache. 8 threads by default.
#   THREADS=8 SECONDS_PER_CASE=3 bench/client_cache.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
cmake --build "$BUILD" --target bench_client_cache >/dev/null
exec "$BUILD/lib/bench_client_cache" "${THREADS:-8}" "${SECONDS_PER_CASE:-3}"
