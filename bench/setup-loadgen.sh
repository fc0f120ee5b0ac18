#!/usr/bin/env bash
# Installs the native HTTP load generator the overhead scenario drives (wrk, from Debian's
# packages): a Node client is itself the bottleneck on two cores. Prints the path of wrk on stdout;
# progress and errors on stderr. Needs root for apt-get (CI and these machines run as root).
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then command -v wrk; exit 0; fi
command -v apt-get >/dev/null 2>&1 || { echo "setup-loadgen: no wrk and no apt-get to install it" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "setup-loadgen: wrk is missing; installing it needs root (apt-get install wrk)" >&2; exit 1; }
if [ -z "$(apt-cache policy wrk 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}')" ]; then
  echo "setup-loadgen: apt-get update" >&2
  apt-get update -qq >&2
fi
echo "setup-loadgen: apt-get install wrk" >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >&2
command -v wrk
