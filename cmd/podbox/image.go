package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"

	"golang.org/x/sys/unix"

	"github.com/urfave/cli/v2"

	"github.com/podbox/podbox/image"
)

var imageCommand = &cli.Command{
	Name:  "image",
	Usage: "manage the local image store",
	Description: `Images are pulled from OCI and docker registries, or imported from files: a
root filesystem directory, a rootfs tarball (optionally gzip), an OCI image
layout, or a docker save archive. Layers are kept once, shared by every image
that has them.

Example:
   podbox image pull docker.io/library/busybox:1.36
   podbox image import busybox testdata/images/busybox.tar
   podbox image ls
   podbox image rm busybox`,
	Subcommands: []*cli.Command{
		{
			Name:      "pull",
			Usage:     "pull an image from a registry",
			ArgsUsage: "NAME[:TAG]|NAME@sha256:DIGEST",
			Description: `Fetches the image (for this machine's platform) and stores it under the name
given. Layers already in the store are not fetched; an interrupted pull keeps
the layers it completed. Credentials come from ~/.docker/config.json (or
$DOCKER_CONFIG), $REGISTRY_AUTH_FILE and their credential helpers; mirrors and
insecure registries from --registries-config. Prints progress on a terminal,
then the name and digest.

Example:
   podbox image pull busybox:1.36
   podbox image pull 127.0.0.1:5000/team/app@sha256:0123...`,
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return errors.New("image pull: want one image reference (see podbox image pull --help)")
				}
				s, err := image.Open(c.String("image-root"))
				if err != nil {
					return err
				}
				opts, err := pullOptions(c)
				if err != nil {
					return err
				}
				// Interrupted, the pull unwinds (unmounts, keeps the layers it
				// finished) instead of dying halfway.
				ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
				defer stop()
				img, err := s.Pull(ctx, c.Args().First(), opts)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%s %s\n", img.Name, img.ImageRef())
				return nil
			},
		},
		{
			Name:      "import",
			Usage:     "import an image as NAME[:TAG]",
			ArgsUsage: "NAME[:TAG] SOURCE",
			Description: `SOURCE is a root filesystem directory, a rootfs tarball (optionally gzip), an
OCI image layout (directory or tar), or a docker save archive. Importing a name
again replaces it.

Example:
   podbox image import busybox testdata/images/busybox.tar
   podbox image import app:v1 app-oci-layout/`,
			Action: func(c *cli.Context) error {
				if c.NArg() != 2 {
					return errors.New("image import: want NAME[:TAG] SOURCE (see podbox image import --help)")
				}
				s, err := image.Open(c.String("image-root"))
				if err != nil {
					return err
				}
				img, err := s.Import(c.Context, c.Args().Get(0), c.Args().Get(1))
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%s %s\n", img.Name, img.ID)
				return nil
			},
		},
		{
			Name:  "ls",
			Usage: "list images",
			Description: `Lists NAME, ID (the first 12 hex digits), SIZE on disk in decimal units as
docker does (2.04MB), and CREATED: when the image was first imported
(importing the same image again keeps it).

Example:
   podbox image ls`,
			Action: func(c *cli.Context) error {
				s, err := image.Open(c.String("image-root"))
				if err != nil {
					return err
				}
				imgs, err := s.List()
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 3, ' ', 0)
				fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tSIZE\tCREATED")
				for _, img := range imgs {
					repo, tag, digest := image.SplitName(img.Name)
					if digest == "" {
						digest = img.Digest
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s ago\n", repo, orNone(tag), orNone(short(digest)), short(img.ID),
						humanSize(img.Size), age(img.Created))
				}
				return tw.Flush()
			},
		},
		{
			Name:      "rm",
			Usage:     "remove images",
			ArgsUsage: "NAME...",
			Description: `Removes the names; their layers go once no other image and no pod uses them.
An image a pod runs from is refused, naming the pods; --force removes the name
anyway and keeps the content until the last of those pods is removed.

Example:
   podbox image rm busybox app:v1`,
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove the names of images that pods use (their content stays until the pods are removed)"},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return errors.New("image rm: want one or more image names")
				}
				s, err := image.Open(c.String("image-root"))
				if err != nil {
					return err
				}
				var errs []error
				for _, name := range c.Args().Slice() {
					if c.Bool("force") {
						errs = append(errs, s.Untag(name))
						continue
					}
					err := s.Remove(name)
					if errors.Is(err, image.ErrInUse) {
						err = fmt.Errorf("%w (remove the pods first, or --force to remove the name only)", err)
					}
					errs = append(errs, err)
				}
				return errors.Join(errs...)
			},
		},
		{
			Name:  "prune",
			Usage: "remove layers no image and no pod uses",
			Description: `Also removes what interrupted pulls and imports left. Waits for running ones.

Example:
   podbox image prune`,
			Action: func(c *cli.Context) error {
				s, err := image.Open(c.String("image-root"))
				if err != nil {
					return err
				}
				return s.Prune(c.Context)
			},
		},
	},
}

// humanSize writes bytes in decimal units with three significant digits,
// as docker image ls does: 512B, 2.04MB, 1.5GB.
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f, i := float64(n), 0
	for f >= 999.5 && i < len(units)-1 { // 999.5 would print as 1e+03
		f /= 1000
		i++
	}
	return strconv.FormatFloat(f, 'g', 3, 64) + units[i]
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// pullOptions are the pull settings of the global flags, with progress
// on standard error when it is a terminal.
func pullOptions(c *cli.Context) (image.PullOptions, error) {
	reg, err := image.LoadRegistriesConfig(c.String("registries-config"))
	if err != nil {
		return image.PullOptions{}, err
	}
	opts := image.PullOptions{Registries: reg}
	if isTerminal(os.Stderr) {
		opts.Progress = progressPrinter(c.App.ErrWriter)
	}
	return opts, nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// progressPrinter draws one line per layer: digest, a bar and bytes,
// redrawn in place (ANSI cursor movement) as layers arrive.
func progressPrinter(w io.Writer) func(image.PullProgress) {
	var mu sync.Mutex
	lines := map[int]string{}
	drawn := 0
	return func(p image.PullProgress) {
		mu.Lock()
		defer mu.Unlock()
		const width = 30
		fill := width
		state := "present"
		if !p.Present {
			fill = 0
			if p.Total > 0 {
				fill = int(min(p.Done, p.Total) * width / p.Total)
			}
			state = humanSize(p.Done) + " / " + humanSize(p.Total)
		}
		lines[p.Index] = fmt.Sprintf("%s [%s%s] %s", short(p.Layer), strings.Repeat("=", fill), strings.Repeat(" ", width-fill), state)
		if drawn > 0 {
			fmt.Fprintf(w, "\x1b[%dA", drawn)
		}
		drawn = 0
		for i := 0; i < p.Layers; i++ {
			fmt.Fprintf(w, "\x1b[2K%s\n", lines[i])
			drawn++
		}
	}
}
