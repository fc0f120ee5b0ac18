// Command etcd is the stock etcd server, built from go.etcd.io/etcd/server/v3 at the version
// k8s.io/kubernetes pins; scripts/get-kube.sh uses it only where Debian has no etcd-server.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
