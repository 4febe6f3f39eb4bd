package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/podbox/podbox/sandbox"
)

var logsCommand = &cli.Command{
	Name:      "logs",
	Usage:     "print a container's log",
	ArgsUsage: "POD",
	Description: `Prints what a container wrote to stdout and stderr, like kubectl logs. Without
-c it picks the container kubectl would: the one the pod's
kubectl.kubernetes.io/default-container annotation names, else the first app
container, and says which on stderr when the pod has several.

Example:
   podbox logs web -c server
   podbox logs -f web -c writer
   podbox logs --previous web -c server
   podbox logs --tail 20 --since 5m web`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "container name"},
		&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing what the container writes, until it ends"},
		&cli.BoolFlag{Name: "previous", Aliases: []string{"p"}, Usage: "the log of the container's previous instance"},
		&cli.BoolFlag{Name: "timestamps", Usage: "prefix each line with its RFC 3339 time"},
		&cli.IntFlag{Name: "tail", Value: -1, Usage: "only the last N lines (-1: all)"},
		&cli.DurationFlag{Name: "since", Usage: "only the lines of the last DURATION (5s, 2m, 3h)"},
		&cli.TimestampFlag{Name: "since-time", Layout: time.RFC3339, Usage: "only the lines written at or after an RFC 3339 time"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() != 1 {
			return errors.New("logs: want one pod name (see podbox logs --help)")
		}
		name := c.Args().First()
		m, st, err := podStatus(c, name)
		if err != nil {
			return err
		}
		cs, err := pickContainer(st, c.String("container"), c.App.ErrWriter)
		if err != nil {
			return err
		}
		opts := sandbox.LogOptions{Follow: c.Bool("follow"), Previous: c.Bool("previous"), Timestamps: c.Bool("timestamps")}
		switch n := c.Int("tail"); {
		case n == 0:
			return nil // kubectl's --tail=0: no line
		case n > 0:
			opts.Tail = n
		}
		if c.IsSet("since") && c.IsSet("since-time") {
			return errors.New("logs: --since and --since-time go one at a time")
		}
		if d := c.Duration("since"); d > 0 {
			opts.Since = time.Now().Add(-d)
		}
		if t := c.Timestamp("since-time"); t != nil {
			opts.Since = *t
		}
		r, err := m.Logs(c.Context, podRef(c, name), cs.Name, opts)
		if err != nil {
			return err
		}
		defer r.Close()
		if _, err := io.Copy(c.App.Writer, r); err != nil {
			return fmt.Errorf("log of container %q: %w", cs.Name, err)
		}
		return nil
	},
}

// defaultContainerAnnotation names the container kubectl logs and exec use
// when -c is not given.
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// pickContainer finds the container -c names. Without -c it takes the
// default container as kubectl does (the pod's
// kubectl.kubernetes.io/default-container annotation, else its first app
// container) and, when the pod has several, says so on w.
func pickContainer(st *sandbox.PodStatus, name string, w io.Writer) (*sandbox.ContainerStatus, error) {
	var names []string
	for _, list := range [][]sandbox.ContainerStatus{st.Containers, st.InitContainers, st.EphemeralContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i], nil
			}
			n := list[i].Name
			if list[i].Kind != sandbox.KindApp {
				n += " (" + string(list[i].Kind) + ")"
			}
			names = append(names, n)
		}
	}
	if name != "" {
		return nil, fmt.Errorf("pod %q has no container %q (it has %s)", st.Name, name, joinNames(names))
	}
	def := st.Config.Annotations[defaultContainerAnnotation]
	if def != "" && !hasContainer(st, def) {
		fmt.Fprintf(w, "Warning: the default container %q named by annotation %s does not exist\n", def, defaultContainerAnnotation)
		def = ""
	}
	if def == "" {
		if len(st.Containers) == 0 {
			return nil, fmt.Errorf("pod %q has no containers", st.Name)
		}
		def = st.Containers[0].Name
	}
	if len(names) > 1 {
		fmt.Fprintf(w, "Defaulted container %q out of: %s\n", def, joinNames(names))
	}
	return pickContainer(st, def, w)
}

func hasContainer(st *sandbox.PodStatus, name string) bool {
	for _, list := range [][]sandbox.ContainerStatus{st.Containers, st.InitContainers, st.EphemeralContainers} {
		for _, cs := range list {
			if cs.Name == name {
				return true
			}
		}
	}
	return false
}
