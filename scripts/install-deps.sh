#!/usr/bin/env bash
# Install the Debian packages dnevnik needs, and only the missing ones.
#
#   scripts/install-deps.sh [run|test|bench]...     (default: run)
#
#   run    build + runtime: compiler, meson/ninja, the -dev libraries, sqlite3, Node.js (web UI build)
#   test   run + Criterion, PostgreSQL 15, promtool, Node.js/npm, curl, chromium (browser tests),
#          clang-14 with libFuzzer (fuzz suite)
#   bench  run + wrk, nginx, curl
#
# Idempotent: every package is checked with dpkg-query first; when all are
# present nothing touches apt at all (no `apt-get update`, no root needed).
# While installing, a temporary /usr/sbin/policy-rc.d keeps packages such as
# postgresql-15, nginx-light and prometheus from starting system services we
# never use (our tests start their own throwaway instances). It is removed
# again afterwards, and only created when none existed before.
# Set DN_DEPS_DRY_RUN=1 to print what would be installed and do nothing.
set -euo pipefail

RUN_PKGS=(make gcc libc6-dev pkg-config meson ninja-build python3
  libh2o-evloop-dev libssl-dev libsqlite3-dev libpq-dev libjansson-dev
  libsodium-dev libjwt-dev zlib1g-dev libbrotli-dev libcurl4-openssl-dev
  libhiredis-dev libxxhash-dev sqlite3)
TEST_PKGS=(libcriterion-dev postgresql-15 postgresql-client-15 prometheus curl chromium
  patroni etcd-server etcd-client haproxy redis-server python3-psycopg2 iproute2
  clang-14 libclang-rt-14-dev)  # clang-14 + libclang-rt-14-dev: libFuzzer, tests/suites/20-fuzz.sh
BENCH_PKGS=(wrk nginx-light curl)

usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
}

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(run)

wanted=()
want_node=0
for g in "${groups[@]}"; do
  case "$g" in
    run) wanted+=("${RUN_PKGS[@]}"); want_node=1 ;; # node builds the web UI (tools/build-web.mjs)
    test) wanted+=("${RUN_PKGS[@]}" "${TEST_PKGS[@]}"); want_node=1 ;;
    bench) wanted+=("${RUN_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-deps: unknown group '$g' (expected run, test or bench)" >&2; exit 2 ;;
  esac
done

is_installed() {
  local status
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) || return 1
  [[ "$status" == ii* ]]
}

missing=()
declare -A seen=()
for p in "${wanted[@]}"; do
  [ -n "${seen[$p]:-}" ] && continue
  seen[$p]=1
  is_installed "$p" || missing+=("$p")
done

# Node.js: any `node`/`npm` on PATH will do (machines often carry Node 20
# from elsewhere, whose bundled npm conflicts with Debian's npm package).
# Only when a command is absent do we fall back to Debian's packages.
if [ "$want_node" = 1 ]; then
  command -v node >/dev/null 2>&1 || is_installed nodejs || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || is_installed npm || missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages for '${groups[*]}' are present"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [ "${DN_DEPS_DRY_RUN:-0}" = 1 ]; then
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install-deps: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

POLICY=/usr/sbin/policy-rc.d
policy_created=0
cleanup() {
  if [ "$policy_created" = 1 ]; then
    "${SUDO[@]}" rm -f "$POLICY"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -e "$POLICY" ]; then
  # 101 = "action forbidden": invoke-rc.d then leaves services stopped.
  printf '#!/bin/sh\n# temporary, written by dnevnik scripts/install-deps.sh\nexit 101\n' |
    "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  policy_created=1
fi

export DEBIAN_FRONTEND=noninteractive
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300)

echo "install-deps: apt-get update"
"${APT[@]}" update
echo "install-deps: apt-get install ${missing[*]}"
"${APT[@]}" install --no-install-recommends "${missing[@]}" </dev/null

still=()
for p in "${missing[@]}"; do
  is_installed "$p" || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
  echo "install-deps: still missing after install: ${still[*]}" >&2
  exit 1
fi
echo "install-deps: installed ${#missing[@]} package(s)"
