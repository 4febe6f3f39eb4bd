//go:build !purego

// Command pause holds a pod's namespaces; see package pause.
//
// On linux/amd64 the program starts at pause.asmentry, without the Go runtime:
// `make bin/pause` links it with
// -ldflags=-E=github.com/podbox/podbox/pause.asmentry. This package imports
// nothing else, so that the linker keeps no other package's init functions.
package main

import _ "github.com/podbox/podbox/pause" // the entry point

func main() {
	panic("pause: linux/amd64 builds start at pause.asmentry: " +
		"link with -ldflags=-E=github.com/podbox/podbox/pause.asmentry (make bin/pause), or build with -tags purego")
}
