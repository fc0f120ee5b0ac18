#!/usr/bin/env bash
# Prints (stdout, one line) the directory holding `kube-apiserver`, `etcd` and `kubectl` for the
# Kubernetes-mode tests, building or installing what is missing first. Everything goes under
# <repo>/.tools (git-ignored):
#   .tools/bin/kube-apiserver, kubectl   go build of k8s.io/kubernetes (module in scripts/kube/)
#   .tools/bin/etcd                      Debian's etcd-server when apt has one, else a go build of
#                                        go.etcd.io/etcd/server/v3/etcdmain (scripts/kube/cmd/etcd)
#   .tools/gateway-api/<version>/        the Gateway API standard CRDs, from the Go module
#                                        sigs.k8s.io/gateway-api (what the tests install for the
#                                        seed's GatewayClass / Gateway / HTTPRoute documents)
# A build is skipped when the binary exists and the hash recorded beside it (<bin>.inputs: go
# version + scripts/kube/go.mod + go.sum + cmd sources + build flags) matches: a run with
# everything built takes milliseconds. Measured cold (empty Go build and module caches, 2 shared
# cores): modules ~30 s, kube-apiserver ~260 s, kubectl ~30 s more, etcd (Go build) ~16 s more.
# Progress goes to stderr. Needs ~3 GB of disk for the Go caches.
#
# Environment: KUBE_GO_PARALLEL (default 2) caps `go build -p`; KUBE_ETCD=go forces the Go build of
# etcd even where Debian has one.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
mod="$here/kube"
tools="$root/.tools"
bin="$tools/bin"
gateway_api_version="v1.3.0"
mkdir -p "$bin"

log() { echo "get-kube: $*" >&2; }

command -v go >/dev/null 2>&1 || { log "go is not on PATH; it is needed to build kube-apiserver"; exit 1; }

# One builder at a time (two test suites may call this concurrently).
exec 9>"$bin/.lock"
flock 9

parallel="${KUBE_GO_PARALLEL:-2}"
export GOFLAGS="${GOFLAGS:-} -p=$parallel -trimpath"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# Bump when the way binaries are built changes (flags below), to force a rebuild.
recipe="2:-trimpath -ldflags=-s -w -X version"
inputs_hash() {
  { echo "$recipe"; go version; cat "$mod/go.mod" "$mod/go.sum"; find "$mod/cmd" -type f -name '*.go' -print0 | sort -z | xargs -0 cat; } \
    | sha256sum | cut -d' ' -f1
}
hash="$(inputs_hash)"

up_to_date() { [[ -x "$bin/$1" && -f "$bin/$1.inputs" && "$(cat "$bin/$1.inputs")" == "$hash" ]]; }

proxy_checked=0
check_proxy() {
  ((proxy_checked)) && return 0
  local proxy
  proxy="$(go env GOPROXY)"
  if [[ -z "$proxy" || "$proxy" == "off" ]]; then
    log "go env GOPROXY is '$proxy': the Go module proxy is needed to build the Kubernetes tools"
    exit 1
  fi
  log "GOPROXY=$proxy; downloading modules (go mod download)"
  (cd "$mod" && go mod download) >&2
  proxy_checked=1
}

# Version stamps, as the Kubernetes release build sets them (else /version says v0.0.0-master and
# kubectl warns about version skew).
kube_version_ldflags() {
  local v major minor
  v="$(cd "$mod" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
  major="${v#v}"; major="${major%%.*}"
  minor="${v#v*.}"; minor="${minor%%.*}"
  local x
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "$x"
}

build() { # build NAME PACKAGE
  local name="$1" pkg="$2" start
  if up_to_date "$name"; then return 0; fi
  check_proxy
  start=$(date +%s)
  log "building $name from $pkg (go build -p=$parallel -trimpath; a cold build takes minutes)"
  (cd "$mod" && go build -ldflags="-s -w $(kube_version_ldflags)" -o "$bin/$name.tmp" "$pkg") >&2
  mv -f "$bin/$name.tmp" "$bin/$name"
  echo "$hash" >"$bin/$name.inputs"
  log "built $name in $(($(date +%s) - start))s ($(du -h "$bin/$name" | cut -f1))"
}

build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kubectl k8s.io/kubernetes/cmd/kubectl

# etcd: Debian's package where there is one (installing it when we are root), else the Go build.
debian_etcd() {
  [[ "${KUBE_ETCD:-}" == "go" ]] && return 1
  command -v apt-cache >/dev/null 2>&1 || return 1
  if [[ -x /usr/bin/etcd ]]; then return 0; fi
  [[ "$(id -u)" == 0 ]] || return 1
  local candidate
  candidate="$(apt-cache policy etcd-server 2>/dev/null | awk '/Candidate:/ {print $2}')"
  if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then
    log "apt has no etcd-server candidate; running apt-get update"
    apt-get update -qq >&2 || return 1
    candidate="$(apt-cache policy etcd-server 2>/dev/null | awk '/Candidate:/ {print $2}')"
  fi
  if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then return 1; fi
  log "installing Debian etcd-server $candidate"
  # No service start inside containers / CI: policy-rc.d 101 keeps the package from starting a
  # system etcd on the default ports.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [[ ! -e "$policy" ]]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >&2 || {
    ((created_policy)) && rm -f "$policy"; return 1; }
  ((created_policy)) && rm -f "$policy"
  [[ -x /usr/bin/etcd ]]
}

if debian_etcd; then
  if [[ "$(readlink "$bin/etcd" 2>/dev/null || true)" != /usr/bin/etcd ]]; then
    rm -f "$bin/etcd" "$bin/etcd.inputs"
    ln -s /usr/bin/etcd "$bin/etcd"
    log "etcd: Debian's $(/usr/bin/etcd --version 2>/dev/null | head -1)"
  fi
else
  [[ -L "$bin/etcd" ]] && rm -f "$bin/etcd"
  build etcd ./cmd/etcd
fi

# Gateway API CRDs (GatewayClass, Gateway, HTTPRoute, ...) from the Go module that ships them.
gw="$tools/gateway-api/$gateway_api_version"
if [[ ! -f "$gw/gateway.networking.k8s.io_httproutes.yaml" ]]; then
  check_proxy
  # Outside any module, so that scripts/kube/go.sum (part of the build hash) is left alone.
  scratch="$(mktemp -d)"
  dir="$(cd "$scratch" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@$gateway_api_version" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || true
  rmdir "$scratch"
  if [[ -n "$dir" && -d "$dir/config/crd/standard" ]]; then
    mkdir -p "$gw"
    cp "$dir"/config/crd/standard/*.yaml "$gw/"
    chmod u+w "$gw"/*.yaml
    log "Gateway API $gateway_api_version CRDs in $gw"
  else
    log "could not get sigs.k8s.io/gateway-api@$gateway_api_version; Gateway API documents will be skipped"
  fi
fi

echo "$bin"
