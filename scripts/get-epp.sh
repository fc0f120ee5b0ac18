#!/usr/bin/env bash
# Prints (stdout, one line) the path of the upstream endpoint picker (EPP) of the Gateway API
# Inference Extension, a benchmark peer of infergate (bench/contenders/epp.ts), building it first
# when missing. It is a `go build` of sigs.k8s.io/gateway-api-inference-extension/cmd/epp at the
# version pinned in scripts/epp/go.mod (v1.5.0, the last release that ships the EPP), from the Go
# module proxy, into <repo>/.tools/bin/epp (git-ignored). No fetched source is kept in the repo.
# Also copies the module's InferencePool CRD (config/crd) beside the binary, for the bench's
# kube-apiserver.
# A build is skipped when the binary exists and the hash recorded beside it (epp.inputs: go version
# + scripts/epp/go.mod + go.sum + build flags) matches: with everything built this takes
# milliseconds. Measured cold on 2 shared cores: modules ~40 s, build ~5 min. Progress to stderr.
# Environment: EPP_GO_PARALLEL (default 2) caps `go build -p`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
mod="$here/epp"
bin="$root/.tools/bin"
mkdir -p "$bin"
log() { echo "get-epp: $*" >&2; }
command -v go >/dev/null 2>&1 || { log "go is not on PATH; it is needed to build the endpoint picker"; exit 1; }

exec 9>"$bin/.epp.lock"
flock 9

export GOFLAGS="${GOFLAGS:-} -p=${EPP_GO_PARALLEL:-2} -trimpath -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
pkg="sigs.k8s.io/gateway-api-inference-extension"
recipe="1:-trimpath -ldflags=-s -w -X version"
hash="$({ echo "$recipe"; go version; cat "$mod/go.mod" "$mod/go.sum"; } | sha256sum | cut -d' ' -f1)"

version="$(cd "$mod" && go list -m -f '{{.Version}}' "$pkg")"
if [[ ! -x "$bin/epp" || ! -f "$bin/epp.inputs" || "$(cat "$bin/epp.inputs")" != "$hash" ]]; then
  log "GOPROXY=$(go env GOPROXY); downloading modules (go mod download)"
  (cd "$mod" && go mod download) >&2
  start=$(date +%s)
  log "building epp $version ($pkg/cmd/epp; a cold build takes minutes)"
  (cd "$mod" && nice -n 10 go build -ldflags="-s -w -X $pkg/version.BuildRef=$version" -o "$bin/epp.tmp" "$pkg/cmd/epp") >&2
  mv -f "$bin/epp.tmp" "$bin/epp"
  echo "$hash" >"$bin/epp.inputs"
  log "built epp in $(($(date +%s) - start))s ($(du -h "$bin/epp" | cut -f1))"
fi

# The InferencePool CRD (inference.networking.k8s.io/v1) of the same module version.
crds="$root/.tools/epp-crds/$version"
if [[ ! -f "$crds/inference.networking.k8s.io_inferencepools.yaml" ]]; then
  dir="$(cd "$mod" && go list -m -f '{{.Dir}}' "$pkg")"
  mkdir -p "$crds"
  cp "$dir"/config/crd/bases/*.yaml "$crds/"
  chmod u+w "$crds"/*.yaml
  log "CRDs of $pkg $version in $crds"
fi
echo "$bin/epp"
