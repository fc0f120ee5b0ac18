#!/usr/bin/env bash
# Prints (stdout, one line) the path of eg-translate, building it first when missing or stale:
# scripts/eg-translate/main.go (our driver of Envoy Gateway's own translators, see its header) built
# inside a copy of the Go module github.com/envoyproxy/gateway@$EG_VERSION, because it imports the
# module's internal/ packages, which Go allows only from inside that module. Installed into
# <repo>/.tools/bin (git-ignored). Incremental: skipped when .tools/bin/eg-translate exists and the
# inputs recorded beside it (eg-translate.inputs: EG version, go version, sha256 of the driver)
# match. Measured on 2 shared cores: 3m09s from empty Go caches (680 MB of modules downloaded),
# 2m35s with the modules cached, 8 s with the build cache warm too; up to date: milliseconds.
# Progress goes to stderr.
#
# Environment: EG_VERSION (default: scripts/envoy-gateway-version, as scripts/get-helm.sh for the CRDs).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin="$root/.tools/bin"
# The Envoy Gateway release the envoy-gateway/ manifests are written and tested against (one place).
eg_version="${EG_VERSION:-$(cat "$here/envoy-gateway-version")}"
src="$here/eg-translate/main.go"
mod="github.com/envoyproxy/gateway"

log() { echo "get-eg-translate: $*" >&2; }

command -v go >/dev/null 2>&1 || { log "go is not on PATH; it is needed to build eg-translate against $mod@$eg_version"; exit 1; }
[[ -f "$src" ]] || { log "$src is missing"; exit 1; }
mkdir -p "$bin"

# One installer at a time (test suites may call this concurrently).
exec 9>"$bin/.eg-translate.lock"
flock 9

export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
want="$eg_version $(go version) $(sha256sum "$src" | cut -d' ' -f1)"
if [[ -x "$bin/eg-translate" && -f "$bin/eg-translate.inputs" && "$(cat "$bin/eg-translate.inputs")" == "$want" ]]; then
  echo "$bin/eg-translate"; exit 0
fi

start=$(date +%s)
scratch="$(mktemp -d)"
trap 'chmod -R u+w "$scratch" 2>/dev/null; rm -rf "$scratch"' EXIT
# Outside any module (GOFLAGS=-mod=mod: the caller's GOFLAGS may say otherwise).
dl_err="$scratch/download.err"
dir="$(cd "$scratch" && GOFLAGS=-mod=mod go mod download -json "$mod@$eg_version" 2>"$dl_err" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || true
if [[ -z "$dir" || ! -f "$dir/go.mod" ]]; then
  log "could not get the Go module $mod@$eg_version (GOPROXY=$(go env GOPROXY)); eg-translate needs it."
  log "go mod download said: $(cat "$dl_err" 2>/dev/null; cd "$scratch" && GOFLAGS=-mod=mod go mod download -json "$mod@$eg_version" 2>/dev/null | sed -n 's/^[[:space:]]*"Error": //p')"
  exit 1
fi
log "building eg-translate against $mod@$eg_version ($dir; a cold build takes minutes)"
work="$scratch/gateway"
cp -r "$dir" "$work"
chmod -R u+w "$work"
mkdir -p "$work/cmd/infergate-translate"
# Without the first line (//go:build ignore): it keeps the file out of any Go tooling in our repo.
grep -v '^//go:build ignore$' "$src" >"$work/cmd/infergate-translate/main.go"
(cd "$work" && GOFLAGS="-mod=mod -trimpath" nice -n 10 go build -ldflags="-s -w" -o "$scratch/eg-translate" ./cmd/infergate-translate) >&2 \
  || { log "go build of eg-translate against $mod@$eg_version failed (above)"; exit 1; }
mv -f "$scratch/eg-translate" "$bin/eg-translate"
echo "$want" >"$bin/eg-translate.inputs"
log "installed $bin/eg-translate in $(($(date +%s) - start))s"
echo "$bin/eg-translate"
