#!/usr/bin/env bash
# Installs Prometheus from Debian's packages (the dashboard test evaluates every Grafana query
# through a real Prometheus) and prints the path of its binary. Only the binary is used: the
# package's own service is not started by the tests (they run their own instance on loopback,
# with their own config and data directory).
# Progress goes to stderr, the path alone to stdout: PROMETHEUS=$(scripts/get-prometheus.sh).
set -euo pipefail
bin="${PROMETHEUS_BIN:-/usr/bin/prometheus}"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
command -v apt-get >/dev/null 2>&1 || { echo "get-prometheus: no apt-get here; install Prometheus and set PROMETHEUS_BIN" >&2; exit 1; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "get-prometheus: apt-get install prometheus" >&2
# policy-rc.d refusing (101) keeps the package's postinst from starting its own server.
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy" && added_policy=1
fi
trap '[ -n "$added_policy" ] && $sudo rm -f "$policy"' EXIT
$sudo apt-get update -qq >&2 || true
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >&2
[ -x /usr/bin/prometheus ] || { echo "get-prometheus: /usr/bin/prometheus missing after install" >&2; exit 1; }
echo /usr/bin/prometheus
