package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
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
		cs, err := pickContainer(st, c.String("container"), c.App.ErrWriter)
		if err != nil {
			return err
		}
		path := cs.LogPath
		if c.Bool("previous") {
			if cs.RestartCount == 0 {
				return fmt.Errorf("container %q of pod %q has no previous instance: it has not restarted", cs.Name, name)
			}
			path = filepath.Join(filepath.Dir(cs.LogPath), strconv.Itoa(cs.RestartCount-1)+".log")
		}
		if path == "" {
			return fmt.Errorf("container %q of pod %q has not started yet", cs.Name, name)
		}
		w := bufio.NewWriter(c.App.Writer)
		defer w.Flush()
		follow := c.Bool("follow") && !c.Bool("previous")
		err = copyLog(c.Context, path, w, c.Bool("timestamps"), func() bool {
			if !follow {
				return false
			}
			w.Flush()
			now, err := m.Status(context.Background(), podRef(c, name))
			if err != nil {
				return false
			}
			cur, err := pickContainer(now, cs.Name, io.Discard)
			return err == nil && cur.LogPath == path && cur.State == sandbox.StateRunning
		})
		if err != nil && c.Bool("previous") && errors.Is(err, os.ErrNotExist) {
			// The container restarted since its status was read, and its
			// log from before the previous one went (two are kept): the
			// previous instance is the one that just ended.
			if _, now, serr := podStatus(c, name); serr == nil {
				if cur, perr := pickContainer(now, cs.Name, io.Discard); perr == nil && cur.RestartCount > cs.RestartCount {
					path = filepath.Join(filepath.Dir(cur.LogPath), strconv.Itoa(cur.RestartCount-1)+".log")
					err = copyLog(c.Context, path, w, c.Bool("timestamps"), func() bool { return false })
				}
			}
		}
		if err != nil {
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

// copyLog prints the lines of the CRI log at path as the container wrote
// them; at the end of the file it waits for more while more() holds, going
// on in the new file when the log was rotated, and once more() says the
// container ended it reads what was written meanwhile before returning.
func copyLog(ctx context.Context, path string, w io.Writer, timestamps bool, more func() bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	r := bufio.NewReader(f)
	var pending []byte
	ended := false
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
		if rotated(f, path) {
			// The rest of the old file was read: on in the new one.
			if nf, err := os.Open(path); err == nil {
				f.Close()
				f = nf
				r.Reset(f)
				continue
			}
		}
		if ended {
			return nil
		}
		if !more() {
			// The container's last lines may have come after the EOF
			// above: read up to the end once more.
			ended = true
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// rotated reports whether path now names another file than f: the log was
// renamed aside and a new one begun.
func rotated(f *os.File, path string) bool {
	cur, err := os.Stat(path)
	if err != nil {
		return false
	}
	open, err := f.Stat()
	return err == nil && !os.SameFile(open, cur)
}
