#!/usr/bin/env bash
# Prints (stdout, one line) the path of a Helm 3 binary for the chart tests, installing it first
# when missing: `go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION` from the Go module proxy into
# <repo>/.tools/bin (git-ignored). Incremental: skipped when .tools/bin/helm exists and the version
# recorded beside it (helm.inputs: helm version + go version) matches. Measured cold on 2 shared
# cores: ~2-3 min (module download + build); warm: milliseconds. Progress goes to stderr.
#
# Also (once) the Envoy Gateway CRDs for the chart tests' envoy-gateway/ manifests:
#   .tools/envoy-gateway/<version>/crds.yaml   rendered with this helm from the Go module
#   github.com/envoyproxy/gateway (charts/gateway-crds-helm, crds.envoyGateway.enabled=true);
#   skipped with a message when the module cannot be had (the tests then say what they skipped).
#
# Environment: HELM_BIN (use this binary, no install), HELM_VERSION (default below), EG_VERSION
# (default: scripts/envoy-gateway-version).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin="$root/.tools/bin"
version="${HELM_VERSION:-v3.22.0}"
# The Envoy Gateway release the envoy-gateway/ manifests are written and tested against (one place).
eg_version="${EG_VERSION:-$(cat "$here/envoy-gateway-version")}"

log() { echo "get-helm: $*" >&2; }

eg_crds() { # eg_crds HELM
  local out="$root/.tools/envoy-gateway/$eg_version" dir scratch
  [[ -s "$out/crds.yaml" ]] && return 0
  command -v go >/dev/null 2>&1 || { log "no go: Envoy Gateway CRDs skipped"; return 0; }
  scratch="$(mktemp -d)"
  dir="$(cd "$scratch" && GOFLAGS=-mod=mod go mod download -json "github.com/envoyproxy/gateway@$eg_version" 2>/dev/null \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || true
  rmdir "$scratch"
  if [[ -z "$dir" || ! -d "$dir/charts/gateway-crds-helm" ]]; then
    log "could not get github.com/envoyproxy/gateway@$eg_version; Envoy Gateway CRDs skipped"; return 0
  fi
  mkdir -p "$out"
  "$1" template eg-crds "$dir/charts/gateway-crds-helm" --set crds.envoyGateway.enabled=true \
    --set crds.gatewayAPI.enabled=false >"$out/crds.yaml.tmp"
  mv "$out/crds.yaml.tmp" "$out/crds.yaml"
  log "Envoy Gateway $eg_version CRDs in $out/crds.yaml"
}

if [[ -n "${HELM_BIN:-}" ]]; then
  "$HELM_BIN" version --short >/dev/null 2>&1 || { log "HELM_BIN=$HELM_BIN does not run"; exit 1; }
  eg_crds "$HELM_BIN"
  echo "$HELM_BIN"; exit 0
fi

mkdir -p "$bin"
command -v go >/dev/null 2>&1 || { log "go is not on PATH; it is needed to install helm from the Go module proxy"; exit 1; }

# One installer at a time (test suites may call this concurrently).
exec 9>"$bin/.helm.lock"
flock 9

export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
want="$version $(go version)"
if [[ -x "$bin/helm" && -f "$bin/helm.inputs" && "$(cat "$bin/helm.inputs")" == "$want" ]]; then
  eg_crds "$bin/helm"
  echo "$bin/helm"; exit 0
fi

proxy="$(go env GOPROXY)"
if [[ -z "$proxy" || "$proxy" == "off" ]]; then
  log "go env GOPROXY is '$proxy': the Go module proxy is needed to install helm"; exit 1
fi
start=$(date +%s)
log "installing helm.sh/helm/v3/cmd/helm@$version (GOPROXY=$proxy; a cold build takes minutes)"
# Outside any module: go install pkg@version uses the module's own go.mod, nothing of ours.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && GOBIN="$tmp" GOFLAGS="-p=${HELM_GO_PARALLEL:-2} -trimpath" \
  go install -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version" "helm.sh/helm/v3/cmd/helm@$version") >&2
mv -f "$tmp/helm" "$bin/helm"
echo "$want" >"$bin/helm.inputs"
log "installed $("$bin/helm" version --short) in $(($(date +%s) - start))s"
eg_crds "$bin/helm"
echo "$bin/helm"
