#!/usr/bin/env bash
# Installs llm-d-inference-sim (a third-party vLLM simulator, used to cross-check ours) into
# .tools/bin (git-ignored) and prints its path. Its module has no replace directives, so it builds
# straight from the Go module proxy; CGO_ENABLED=0 leaves out its optional tokenizer C bindings.
# GOFLAGS=-p=1 and nice keep the build to one low-priority compile job (the machine is shared).
# Progress goes to stderr, the path alone to stdout: LLMD=$(scripts/get-llm-d-sim.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${LLMD_SIM_VERSION:-v0.10.2}"
mod="github.com/llm-d/llm-d-inference-sim"
bin="$root/.tools/bin/llm-d-inference-sim"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
command -v go >/dev/null 2>&1 || { echo "get-llm-d-sim: no go toolchain on PATH" >&2; exit 1; }
mkdir -p "$root/.tools/bin"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-p=1"

echo "get-llm-d-sim: go install $mod/cmd/llm-d-inference-sim@$version" >&2
if GOBIN="$root/.tools/bin" nice -n 10 go install "$mod/cmd/llm-d-inference-sim@$version" >&2; then
  echo "$bin"; exit 0
fi
# `go install pkg@version` also reads the module's version list (to look for a deprecation notice);
# some proxies/mirrors refuse list requests while serving the exact version. Fall back to building
# the downloaded module in a scratch copy with its own go.mod/go.sum (only exact versions fetched).
echo "get-llm-d-sim: go install failed; building from the downloaded module instead" >&2
dir=$(go mod download -json "$mod@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || { echo "get-llm-d-sim: could not download $mod@$version" >&2; exit 1; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$dir"/. "$work"/ && chmod -R u+w "$work"
(cd "$work" && nice -n 10 go build -o "$bin" ./cmd/llm-d-inference-sim) >&2
echo "$bin"
