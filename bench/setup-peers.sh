#!/usr/bin/env bash
# Installs the benchmark's peer gateways and third-party load generators into a project-local
# virtualenv (.venv-bench/, git-ignored). Each package is installed on its own so one failure does
# not hide the others; the outcome of each (ok + version, or the exact pip error) is written to
# .venv-bench/peers.json, which the bench reads and reports. Never fails as a whole: a peer that
# cannot be installed is reported, not silently dropped.
# Usage: bench/setup-peers.sh [--force]
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-bench"
status="$venv/peers.json"
force="${1:-}"
packages=(sglang-router vllm-router guidellm inference-perf tokenizers)

if [ -f "$status" ] && [ "$force" != "--force" ]; then
  echo "setup-peers: $status exists (pass --force to retry the installs)" >&2
  exit 0
fi
py="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "setup-peers: creating $venv" >&2
  "$py" -m venv "$venv" >&2 || { echo "setup-peers: cannot create a virtualenv with $py" >&2; mkdir -p "$venv"; echo '{"error":"python3 -m venv failed"}' > "$status"; exit 0; }
  "$venv/bin/pip" install -q --upgrade pip >&2 || true
fi
tmp="$(mktemp -d)"
entries=()
for p in "${packages[@]}"; do
  echo "setup-peers: pip install $p" >&2
  log="$tmp/$p.log"
  if timeout 900 "$venv/bin/pip" install --disable-pip-version-check "$p" >"$log" 2>&1; then
    v=$("$venv/bin/pip" show "$p" 2>/dev/null | awk '/^Version:/{print $2}')
    entries+=("$("$venv/bin/python" -c 'import json,sys; print(json.dumps({"package":sys.argv[1],"ok":True,"version":sys.argv[2]}))' "$p" "$v")")
    echo "setup-peers:   ok $p $v" >&2
  else
    rc=$?
    # the exact error: pip's ERROR lines, else the tail of its output
    err=$(grep -E '^(ERROR|error)' "$log" | head -20)
    [ -n "$err" ] || err=$(tail -20 "$log")
    entries+=("$("$venv/bin/python" -c 'import json,sys; print(json.dumps({"package":sys.argv[1],"ok":False,"exitCode":int(sys.argv[2]),"error":sys.argv[3]}))' "$p" "$rc" "$err")")
    echo "setup-peers:   FAILED $p (exit $rc): $(echo "$err" | head -3)" >&2
  fi
done
{ echo "["; (IFS=,; echo "${entries[*]}"); echo "]"; } > "$status"
"$venv/bin/pip" freeze > "$venv/freeze.txt" 2>/dev/null || true
rm -rf "$tmp"
echo "setup-peers: wrote $status" >&2
