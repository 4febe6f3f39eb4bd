//go:build !amd64 || purego

// Command pause holds a pod's namespaces; see package pause.
//
// On linux/amd64 `make bin/pause` links it with an assembly entry point
// (pause.asmentry) instead, and main_amd64.go replaces this file.
package main

import (
	"os"

	"github.com/podbox/podbox/pause/gopause"
)

func main() {
	os.Exit(gopause.Run(os.Args))
}
