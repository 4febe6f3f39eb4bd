package namespaces

import (
	"fmt"
	"os"
	"runtime"
	"sort"

	"golang.org/x/sys/unix"
)

// kinds are the namespaces Enter can join with a plain setns(2): mount and
// user namespaces need more (an unshared fs, a single thread).
var kinds = map[string]int{"net": unix.CLONE_NEWNET, "ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS}

// Enter runs fn on a thread that has joined the namespaces at paths, by
// kind ("net", "ipc", "uts"), then brings the thread back to its own: a
// fresh goroutine on a locked OS thread, as CNI's ns.Do. A process fn
// starts is born in the joined namespaces. fn must not start goroutines
// that expect to be in them. A thread whose namespaces could not be
// restored is never unlocked, so the runtime ends it instead of reusing it
// in the wrong namespace.
//
// Equivalent to: nsenter --net=P --ipc=P --uts=P CMD
func Enter(paths map[string]string, fn func() error) error {
	order := make([]string, 0, len(paths))
	for kind := range paths {
		if _, ok := kinds[kind]; !ok {
			return fmt.Errorf("enter namespaces: %q is not a kind Enter joins (net, ipc, uts)", kind)
		}
		order = append(order, kind)
	}
	sort.Strings(order)
	var targets, selves []*os.File
	defer func() {
		for _, f := range append(targets, selves...) {
			f.Close()
		}
	}()
	for _, kind := range order {
		f, err := os.Open(paths[kind])
		if err != nil {
			return fmt.Errorf("open %s namespace: %w", kind, err)
		}
		targets = append(targets, f)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		for _, kind := range order {
			f, err := os.Open("/proc/thread-self/ns/" + kind)
			if err != nil {
				runtime.UnlockOSThread() // nothing joined yet
				errc <- fmt.Errorf("open own %s namespace: %w", kind, err)
				return
			}
			selves = append(selves, f)
		}
		joined := 0
		var err error
		for i, kind := range order {
			if err = unix.Setns(int(targets[i].Fd()), kinds[kind]); err != nil {
				err = fmt.Errorf("join %s namespace %q: %w", kind, paths[kind], err)
				break
			}
			joined++
		}
		if err == nil {
			err = fn()
		}
		for i := range joined {
			if rerr := unix.Setns(int(selves[i].Fd()), kinds[order[i]]); rerr != nil {
				// Stay locked: the goroutine ends, the thread with it.
				errc <- fmt.Errorf("return from %s namespace: %w (after: %v)", order[i], rerr, err)
				return
			}
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}
