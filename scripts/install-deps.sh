#!/usr/bin/env bash
# Installs the Debian packages gatehouse needs, and only those missing.
#   scripts/install-deps.sh          build and run dependencies
#   scripts/install-deps.sh --test   also what the test suite and benchmarks use
#   scripts/install-deps.sh --fuzz   also clang's libFuzzer runtime (scripts/fuzz.sh)
# Runs apt-get through sudo when not root. Exits 0 at once when nothing is missing.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libgnutls28-dev libjansson-dev
            libsqlite3-dev libssl-dev libcurl4-openssl-dev libpq-dev openssl curl)
test_pkgs=(libcmocka-dev python3 python3-jwt python3-authlib python3-requests python3-yaml
           nginx-light wrk postgresql valgrind clang)

fuzz_pkgs=(libclang-rt-14-dev)

want=("${build_pkgs[@]}")
case "${1:-}" in
  "") ;;
  --test) want+=("${test_pkgs[@]}") ;;
  --fuzz) want+=("${test_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
  *) echo "install-deps: unknown option ${1}; use --test or --fuzz" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing+=("$p") ;;
  esac
done
# The interop tests run Node clients (tests/interop/node). Checked by command,
# not package: a machine may have Node.js from elsewhere (NodeSource).
if [ -n "${1:-}" ] && ! { command -v node && command -v npm; } >/dev/null; then
  missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps the packages' own services (nginx, postgresql) from starting:
# tests start private instances on free ports and stop them by PID.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
