package main

import (
	"errors"
	"fmt"
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
SIGKILL. The pod stays listed, Stopped, until podbox rm.

Example:
   podbox stop --time 5 web`,
	Flags: []cli.Flag{&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Value: -1, Usage: "grace period in seconds"}},
	Action: func(c *cli.Context) error {
		name, m, err := podManager(c)
		if err != nil {
			return err
		}
		grace := time.Duration(-1)
		if t := c.Int("time"); t >= 0 {
			grace = sandbox.CapSeconds(int64(t), sandbox.MaxGracePeriod)
		}
		return m.Stop(c.Context, name, grace)
	},
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
			if err := m.Remove(c.Context, name, c.Bool("force")); err != nil {
				if errors.Is(err, sandbox.ErrRunning) {
					err = fmt.Errorf("%w: stop it with podbox stop %s, or use rm -f", err, name)
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
				return fmt.Errorf("network rm: %d pods are left: remove them first (podbox rm -f)", len(pods))
			}
			return m.RemoveNetwork()
		},
	}},
}
