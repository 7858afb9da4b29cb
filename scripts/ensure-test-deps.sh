#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real (README "Development"): the tests
# start a real Prometheus Pushgateway, Prometheus and promtool (test/helpers/pushgateway.ts), a
# real nginx (test/helpers/nginx.ts) and a real node_exporter (test/helpers/node-exporter.ts), and
# open the HTML reports in Debian's chromium (test/helpers/browser.ts, driven by playwright-core),
# and make separate test hosts in network namespaces with iproute2's ip (test/helpers/netns.ts).
# `npm test` runs this first (package.json "pretest").
# Idempotent and silent when everything is present; uses sudo when not root; exits 1 with the
# command to run by hand when it cannot install. LOAD_TEST_SKIP_TEST_DEPS=1 skips it (the tests
# that need a missing binary then fail with their own install hint).
set -euo pipefail

[ "${LOAD_TEST_SKIP_TEST_DEPS:-}" = "1" ] && exit 0

# binary | environment variable the tests honour | Debian path | Debian package
DEPS=(
  "prometheus-pushgateway|PUSHGATEWAY_BIN|/usr/bin/prometheus-pushgateway|prometheus-pushgateway"
  "prometheus|PROMETHEUS_BIN|/usr/bin/prometheus|prometheus"
  "promtool|PROMTOOL_BIN|/usr/bin/promtool|prometheus"
  "nginx|NGINX_BIN|/usr/sbin/nginx|nginx-light"
  "chromium|CHROMIUM_BIN|/usr/bin/chromium|chromium"
  "prometheus-node-exporter|NODE_EXPORTER_BIN|/usr/bin/prometheus-node-exporter|prometheus-node-exporter"
  "ip|IP_BIN|/usr/sbin/ip|iproute2"
)

# Where the test helpers look, in their order: $VAR, the Debian path, then PATH. The Debian paths
# are under $ENSURE_TEST_DEPS_ROOT when set (its own test, test/cli/ensure-test-deps.test.ts).
found() {
  local name=$1 var=$2 path=${ENSURE_TEST_DEPS_ROOT:-}$3
  local override=${!var:-}
  local dir
  runnable "$override" || runnable "$path" && return 0
  IFS=: read -ra dirs <<<"${PATH:-}"
  for dir in "${dirs[@]}"; do runnable "$dir/$name" && return 0; done
  return 1
}

runnable() { [ -n "$1" ] && [ -f "$1" ] && [ -x "$1" ]; }

missing() {
  local entry name var path package
  for entry in "${DEPS[@]}"; do
    IFS='|' read -r name var path package <<<"$entry"
    found "$name" "$var" "$path" || echo "$package"
  done | sort -u
}

mapfile -t need < <(missing)
[ "${#need[@]}" -eq 0 ] && exit 0

hint="apt-get update && apt-get install -y --no-install-recommends ${need[*]}"
echo "ensure-test-deps: the tests need Debian packages that are missing: ${need[*]}; installing them" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: error: no apt-get here; install ${need[*]} (or their binaries, and point PUSHGATEWAY_BIN, PROMETHEUS_BIN, PROMTOOL_BIN, NGINX_BIN, CHROMIUM_BIN, NODE_EXPORTER_BIN, IP_BIN at them), or set LOAD_TEST_SKIP_TEST_DEPS=1 to skip this check" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "ensure-test-deps: error: not root and no sudo; run as root: $hint" >&2
    exit 1
  fi
  sudo=(sudo)
fi
if ! "${sudo[@]}" apt-get update -qq >&2 ||
  ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2; then
  echo "ensure-test-deps: error: apt-get could not install ${need[*]}; run: $hint" >&2
  exit 1
fi
mapfile -t still < <(missing)
if [ "${#still[@]}" -gt 0 ]; then
  echo "ensure-test-deps: error: still missing after apt-get: ${still[*]}; run: $hint" >&2
  exit 1
fi
echo "ensure-test-deps: installed ${need[*]}" >&2
