package main

import (
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/podbox/podbox/image"
)

var imageCommand = &cli.Command{
	Name:  "image",
	Usage: "manage the local image store",
	Description: `Images come from files, never from the network: a root filesystem directory, a
rootfs tarball (optionally gzip), an OCI image layout, or a docker save archive.

Example:
   podbox image import busybox testdata/images/busybox.tar
   podbox image ls
   podbox image rm busybox`,
	Subcommands: []*cli.Command{
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
				fmt.Fprintln(tw, "NAME\tID\tSIZE\tCREATED")
				for _, img := range imgs {
					id := img.ID
					if len(id) > 19 {
						id = id[:19]
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s ago\n", img.Name, id, humanSize(img.Size), age(img.Created))
				}
				return tw.Flush()
			},
		},
		{
			Name:      "rm",
			Usage:     "remove images",
			ArgsUsage: "NAME...",
			Description: `Example:
   podbox image rm busybox app:v1`,
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
					errs = append(errs, s.Remove(name))
				}
				return errors.Join(errs...)
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
