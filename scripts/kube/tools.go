//go:build tools

// Package kubetools only pins the commands that scripts/get-kube.sh builds; it is never compiled
// into anything of ours.
package kubetools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
