//go:build tools

// Package epptools only pins the upstream endpoint picker that scripts/get-epp.sh builds as a
// benchmark peer; it is never compiled into anything of ours.
package epptools

import (
	_ "sigs.k8s.io/gateway-api-inference-extension/cmd/epp"
)
