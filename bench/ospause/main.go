// Command ospause is the reference for bench/pause.sh: the straightforward Go
// pause, os/signal and nothing else. It is not shipped.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	<-c
}
