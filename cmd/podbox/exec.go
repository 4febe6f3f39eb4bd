package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/containerd/console"
	"github.com/urfave/cli/v2"

	"github.com/podbox/podbox/sandbox"
)

var execCommand = &cli.Command{
	Name:      "exec",
	Usage:     "run a command inside a container",
	ArgsUsage: "POD -- CMD [ARG...]",
	Description: `Runs CMD in all of the container's namespaces and its cgroup, with the
container's environment, and exits with CMD's exit code. Without -c it picks
the container kubectl would: the one the pod's
kubectl.kubernetes.io/default-container annotation names, else the first app
container, and says which on stderr when the pod has several.

Example:
   podbox exec web -c server -- ip addr
   podbox exec -it web -c server -- sh`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "container name"},
		&cli.BoolFlag{Name: "stdin", Aliases: []string{"i"}, Usage: "pass stdin to the command"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the command a terminal"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() < 2 {
			return errors.New("exec: want POD -- CMD [ARG...] (see podbox exec --help)")
		}
		name, args := c.Args().First(), c.Args().Tail()
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
		if len(args) == 0 {
			return errors.New("exec: no command after the pod name (see podbox exec --help)")
		}
		m, st, err := podStatus(c, name)
		if err != nil {
			return err
		}
		cs, err := pickContainer(st, c.String("container"), os.Stderr)
		if err != nil {
			return err
		}
		p := &sandbox.ExecProcess{Args: args, Stdout: os.Stdout, Stderr: os.Stderr, TTY: c.Bool("tty")}
		if c.Bool("stdin") {
			p.Stdin = os.Stdin
		}
		if p.TTY {
			if cur, err := console.ConsoleFromFile(os.Stdin); err == nil {
				if ws, err := cur.Size(); err == nil {
					p.Width, p.Height = ws.Width, ws.Height
				}
				if c.Bool("stdin") {
					if err := cur.SetRaw(); err == nil {
						defer cur.Reset()
					}
				}
			}
		}
		code, err := m.Exec(c.Context, podRef(c, name), cs.Name, p)
		if err != nil && code > 0 {
			// The command could not be started (127: not found, 126: not
			// executable): say why, and exit with the code a shell would.
			fmt.Fprintf(os.Stderr, "podbox: %v\n", err)
			return exitError(code)
		}
		if err != nil {
			return err
		}
		if code != 0 {
			return exitError(code)
		}
		return nil
	},
}
