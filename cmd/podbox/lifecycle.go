package main

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/podbox/podbox/sandbox"
)

var stopCommand = &cli.Command{
	Name:      "stop",
	Usage:     "stop a pod: SIGTERM, the grace period, then SIGKILL",
	ArgsUsage: "POD",
	Description: `Stops every container (sidecars last), waiting up to the grace period
(--time, else the pod's terminationGracePeriodSeconds, default 30) before
SIGKILL. While it waits longer than a second it says for which containers;
then it prints how long the stop took and which containers had to be killed.
The pod stays listed, Stopped, until podbox rm; its containers are reported
terminated with reason Stopped.

Example:
   podbox stop web
   podbox stop --time 0 web     # SIGKILL at once`,
	Flags: []cli.Flag{&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Usage: "grace period in seconds",
		DefaultText: "the pod's terminationGracePeriodSeconds, else 30"}},
	Action: func(c *cli.Context) error {
		name, m, err := podManager(c)
		if err != nil {
			return err
		}
		st, err := m.Status(c.Context, name)
		if err != nil {
			return err
		}
		grace := st.Config.GracePeriod()
		if c.IsSet("time") {
			if c.Int("time") < 0 {
				return fmt.Errorf("stop: --time %d: want 0 or more seconds", c.Int("time"))
			}
			grace = sandbox.CapSeconds(int64(c.Int("time")), sandbox.MaxGracePeriod)
		}
		start := time.Now()
		// Say what is waited for once the stop is not immediate: the
		// containers still running a second after they were told to stop
		// (a pod's lifecycle may first have to be started by its shim),
		// and never after the stop ended.
		var mu sync.Mutex
		stopped := false
		var slow *time.Timer
		var check func()
		check = func() {
			now, err := m.Status(c.Context, name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || stopped {
				return
			}
			since := now.StoppingSince
			if since.IsZero() && time.Since(start) < 5*time.Second || !since.IsZero() && time.Since(since) < time.Second {
				slow = time.AfterFunc(100*time.Millisecond, check) // not told yet (a podbox before StoppingSince: 5 s)
				return
			}
			if left := runningContainers(now); len(left) > 0 {
				fmt.Fprintf(c.App.ErrWriter, "waiting up to %s for %s to exit; --time 0 to kill now\n", grace, joinNames(left))
			}
		}
		mu.Lock()
		slow = time.AfterFunc(time.Second, check)
		mu.Unlock()
		err = m.Stop(c.Context, name, grace)
		mu.Lock()
		stopped = true
		slow.Stop()
		mu.Unlock()
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("pod %q stopped in %.1fs", name, time.Since(start).Seconds())
		if now, err := m.Status(c.Context, name); err == nil {
			if killed := killedContainers(now); len(killed) > 0 {
				msg += fmt.Sprintf(" (killed after the %s grace period: %s)", grace, joinNames(killed))
			}
		}
		fmt.Fprintln(c.App.Writer, msg)
		return nil
	},
}

// runningContainers names the pod's running containers.
func runningContainers(st *sandbox.PodStatus) []string {
	var names []string
	for _, list := range [][]sandbox.ContainerStatus{st.InitContainers, st.Containers} {
		for _, cs := range list {
			if cs.State == sandbox.StateRunning {
				names = append(names, cs.Name)
			}
		}
	}
	return names
}

// killedContainers names the containers the stop had to SIGKILL.
func killedContainers(st *sandbox.PodStatus) []string {
	var names []string
	for _, list := range [][]sandbox.ContainerStatus{st.InitContainers, st.Containers} {
		for _, cs := range list {
			if cs.State == sandbox.StateTerminated && cs.Reason == sandbox.ReasonStopped && cs.ExitCode == 137 {
				names = append(names, cs.Name)
			}
		}
	}
	return names
}

var rmCommand = &cli.Command{
	Name:      "rm",
	Usage:     "remove pods and everything they hold on the host",
	ArgsUsage: "POD...",
	Description: `Removes each pod: processes, namespaces, mounts, cgroups, network, logs and
state. A running pod needs -f, which kills it; -f also ignores pods that do
not exist.

Example:
   podbox rm web
   podbox rm -f web db`,
	Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill running pods; ignore missing ones"}},
	Action: func(c *cli.Context) error {
		if c.NArg() == 0 {
			return errors.New("rm: want one or more pod names (see podbox rm --help)")
		}
		m, err := manager(c)
		if err != nil {
			return err
		}
		var errs []error
		for _, name := range c.Args().Slice() {
			if err := m.Remove(c.Context, podRef(c, name), c.Bool("force")); err != nil {
				if errors.Is(err, sandbox.ErrRunning) {
					// The library's own advice names its API (force); say it once, in CLI terms.
					err = fmt.Errorf("pod %q %w: stop it first (podbox stop %s), or use podbox rm -f %s", name, sandbox.ErrRunning, name, name)
				}
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	},
}

var networkCommand = &cli.Command{
	Name:  "network",
	Usage: "manage the pod network",
	Description: `The pod network (a bridge, an nftables table, IP leases) is made when the
first pod needs it and kept; network rm removes it.

Example:
   podbox network rm`,
	Subcommands: []*cli.Command{{
		Name:  "rm",
		Usage: "remove the pod network: bridge, nftables table and leases (no pod may be left)",
		Description: `The bridge and the nftables table are made on first use and kept; this
removes them, for uninstalling podbox or changing --subnet.

Example:
   podbox rm -f $(podbox ps -o json | jq -r '.[].name'); podbox network rm`,
		Action: func(c *cli.Context) error {
			m, err := manager(c)
			if err != nil {
				return err
			}
			pods, err := m.List(c.Context)
			if err != nil {
				return err
			}
			if len(pods) > 0 {
				return fmt.Errorf("network rm: %d pods are left: remove them first (podbox rm -f, in each namespace)", len(pods))
			}
			// The network is the node's: other state roots may have pods on it.
			if owners, err := m.NetworkLeases(); err != nil {
				return err
			} else if len(owners) > 0 {
				return fmt.Errorf("network rm: %d pods of other podbox state roots are on the network: remove them first", len(owners))
			}
			return m.RemoveNetwork()
		},
	}},
}
