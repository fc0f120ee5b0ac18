#!/usr/bin/env bash
# Installs the benchmark's peer gateways and third-party load generators into a project-local
# virtualenv (.venv-bench/, git-ignored). Each package is installed on its own so one failure does
# not hide the others; the outcome of each (ok + version, or the exact pip error) is written to
# .venv-bench/peers.json, which the bench reads and reports. Never fails as a whole: a peer that
# cannot be installed is reported, not silently dropped.
#
# inference-perf needs Python >= 3.12. The interpreter is, in order: $PYTHON; the newest 3.12+
# that pyenv has (`pyenv root`/versions); python3.13 / python3.12 on PATH; python3. The venv is
# rebuilt when the package list or the interpreter changes (recorded in .venv-bench/inputs).
# Usage: bench/setup-peers.sh [--force]
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-bench"
status="$venv/peers.json"
force="${1:-}"
# smg: the SGLang Model Gateway, successor of sglang-router (both kept, side by side).
packages=(sglang-router vllm-router smg guidellm inference-perf tokenizers)
log() { echo "setup-peers: $*" >&2; }
# One installer at a time (a bench run and a by-hand run must not pip into the same venv at once).
mkdir -p "$venv"
exec 9>"$venv/.lock"
flock 9

pick_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  local best="" pyroot
  if command -v pyenv >/dev/null 2>&1 && pyroot="$(pyenv root 2>/dev/null)" && [ -d "$pyroot/versions" ]; then
    # newest 3.12+ CPython that pyenv has built (names like 3.12.1, 3.13.0)
    best="$(ls -1 "$pyroot/versions" | grep -E '^3\.(1[2-9]|[2-9][0-9])\.[0-9]+$' | sort -V | tail -1)"
    if [ -n "$best" ] && [ -x "$pyroot/versions/$best/bin/python3" ]; then echo "$pyroot/versions/$best/bin/python3"; return; fi
  fi
  for c in python3.13 python3.12; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return; fi
  done
  command -v python3
}
py="$(pick_python)"
pyver="$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || echo "?")"
inputs="$(printf '%s\n' "3" "$pyver" "${packages[@]}" | sha256sum | cut -d' ' -f1)"

if [ -f "$status" ] && [ "$force" != "--force" ] && [ "$(cat "$venv/inputs" 2>/dev/null)" == "$inputs" ]; then
  log "$status is up to date (pass --force to retry the installs)"
  exit 0
fi
if [ -x "$venv/bin/python" ] && [ "$("$venv/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')" != "$pyver" ]; then
  log "interpreter changed to $pyver: recreating $venv"
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv with $py ($pyver)"
  "$py" -m venv "$venv" >&2 || { log "cannot create a virtualenv with $py"; mkdir -p "$venv"; echo '[{"package":"venv","ok":false,"error":"python -m venv failed"}]' > "$status"; exit 0; }
  "$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip >&2 || true
fi
tmp="$(mktemp -d)"
entries=()
for p in "${packages[@]}"; do
  log "pip install $p"
  plog="$tmp/$p.log"
  if timeout 900 "$venv/bin/pip" install --disable-pip-version-check "$p" >"$plog" 2>&1; then
    v=$("$venv/bin/pip" show "$p" 2>/dev/null | awk '/^Version:/{print $2}')
    entries+=("$("$venv/bin/python" -c 'import json,sys; print(json.dumps({"package":sys.argv[1],"ok":True,"version":sys.argv[2],"python":sys.argv[3]}))' "$p" "$v" "$pyver")")
    log "  ok $p $v"
  else
    rc=$?
    # the exact error: pip's ERROR lines, else the tail of its output
    err=$(grep -E '^(ERROR|error)' "$plog" | head -20)
    [ -n "$err" ] || err=$(tail -20 "$plog")
    entries+=("$("$venv/bin/python" -c 'import json,sys; print(json.dumps({"package":sys.argv[1],"ok":False,"exitCode":int(sys.argv[2]),"error":sys.argv[3],"python":sys.argv[4]}))' "$p" "$rc" "$err" "$pyver")")
    log "  FAILED $p (exit $rc): $(echo "$err" | head -3)"
  fi
done
{ echo "["; (IFS=,; echo "${entries[*]}"); echo "]"; } > "$status"
echo "$inputs" > "$venv/inputs"
"$venv/bin/pip" freeze > "$venv/freeze.txt" 2>/dev/null || true
rm -rf "$tmp"
log "wrote $status"
