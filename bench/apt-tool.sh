#!/usr/bin/env bash
# Installs one of the bench's native tools from Debian's packages when it is missing (the package
# and the command share the name: wrk, valgrind) and prints its path on stdout; progress and errors
# on stderr. Needs root for apt-get (CI and these machines run as root).
set -euo pipefail
tool=${1:?usage: bench/apt-tool.sh TOOL}
if command -v "$tool" >/dev/null 2>&1; then command -v "$tool"; exit 0; fi
command -v apt-get >/dev/null 2>&1 || { echo "apt-tool: no $tool and no apt-get to install it" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "apt-tool: $tool is missing; installing it needs root (apt-get install $tool)" >&2; exit 1; }
if [ -z "$(apt-cache policy "$tool" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}')" ]; then
  echo "apt-tool: apt-get update" >&2
  apt-get update -qq >&2
fi
echo "apt-tool: apt-get install $tool" >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$tool" >&2
command -v "$tool"
