package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/podbox/podbox/sandbox"
)

var logsCommand = &cli.Command{
	Name:      "logs",
	Usage:     "print a container's log",
	ArgsUsage: "POD",
	Description: `Prints what a container wrote to stdout and stderr, like kubectl logs. -c may be
left out when the pod has one container.

Example:
   podbox logs web -c server
   podbox logs -f web -c writer
   podbox logs --previous web -c server`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "container name"},
		&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing what the container writes, until it ends"},
		&cli.BoolFlag{Name: "previous", Aliases: []string{"p"}, Usage: "the log of the container's previous instance"},
		&cli.BoolFlag{Name: "timestamps", Usage: "prefix each line with its RFC 3339 time"},
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
		cs, err := pickContainer(st, c.String("container"))
		if err != nil {
			return err
		}
		path := cs.LogPath
		if c.Bool("previous") {
			if cs.RestartCount == 0 {
				return fmt.Errorf("container %q of pod %q has no previous instance: it has not restarted", cs.Name, name)
			}
			path = sandbox.LogPath(m.PodDir(name), cs.Name, cs.RestartCount-1)
		}
		if path == "" {
			return fmt.Errorf("container %q of pod %q has not started yet", cs.Name, name)
		}
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("log of container %q: %w", cs.Name, err)
		}
		defer f.Close()
		w := bufio.NewWriter(c.App.Writer)
		defer w.Flush()
		follow := c.Bool("follow") && !c.Bool("previous")
		return copyLog(c.Context, f, w, c.Bool("timestamps"), func() bool {
			if !follow {
				return false
			}
			w.Flush()
			now, err := m.Status(context.Background(), name)
			if err != nil {
				return false
			}
			cur, err := pickContainer(now, cs.Name)
			return err == nil && cur.LogPath == path && cur.State == sandbox.StateRunning
		})
	},
}

// pickContainer finds the container -c names, or the only one.
func pickContainer(st *sandbox.PodStatus, name string) (*sandbox.ContainerStatus, error) {
	var names []string
	for _, list := range [][]sandbox.ContainerStatus{st.InitContainers, st.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i], nil
			}
			names = append(names, list[i].Name)
		}
	}
	if name == "" {
		if len(names) == 1 {
			return &st.Containers[0], nil
		}
		return nil, fmt.Errorf("pod %q has several containers: choose one with -c (%s)", st.Name, joinNames(names))
	}
	return nil, fmt.Errorf("pod %q has no container %q (it has %s)", st.Name, name, joinNames(names))
}

// copyLog prints a CRI log's lines as the container wrote them; at the end
// of the file it waits for more while more() holds.
func copyLog(ctx context.Context, f *os.File, w io.Writer, timestamps bool, more func() bool) error {
	r := bufio.NewReader(f)
	var pending []byte
	for {
		line, err := r.ReadBytes('\n')
		pending = append(pending, line...)
		if err == nil {
			l := sandbox.ParseCRILine(string(pending[:len(pending)-1]))
			pending = pending[:0]
			if timestamps && l.Time != "" {
				fmt.Fprint(w, l.Time+" ")
			}
			fmt.Fprint(w, l.Text)
			if !l.Partial {
				fmt.Fprintln(w)
			}
			continue
		}
		if err != io.EOF {
			return err
		}
		if !more() {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}
