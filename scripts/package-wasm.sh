#!/usr/bin/env bash
# Packages the filter for a cluster: builds build/infergate.wasm and the scripts if needed, then
# writes build/deploy/infergate-wasm.configmap.yaml (ConfigMap, binaryData), the wasm OCI image
# layout build/deploy/infergate-wasm-oci/ and its tarball build/deploy/infergate-wasm-oci.tar.
# No docker is needed. Options are passed on (see scripts/package-wasm.ts): --name --namespace
# --tag --out --wasm. Example, for the chart's default release in infergate-system:
#   scripts/package-wasm.sh --namespace infergate-system && kubectl apply --server-side -f build/deploy/infergate-wasm.configmap.yaml
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
make --no-print-directory wasm ts >&2
exec node build/js/scripts/package-wasm.js "$@"
