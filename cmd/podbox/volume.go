package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/podbox/podbox/mounts"
)

var volumeCommand = &cli.Command{
	Name:  "volume",
	Usage: "manage the named volumes that pods' persistentVolumeClaims use",
	Description: `A pod's persistentVolumeClaim volume is a named local volume, as podman kube
play maps one: <volume-root>/<claimName>/_data, made on the pod's first use
and kept after the pod, for the next pod that names the claim. A volume a pod
uses (running or stopped, until podbox rm) can not be removed.

Example:
   podbox volume create data
   podbox volume ls
   podbox volume inspect data
   podbox volume rm data`,
	Subcommands: []*cli.Command{
		{
			Name:      "create",
			Usage:     "make an empty named volume",
			ArgsUsage: "NAME",
			Description: `Makes the volume NAME (a DNS-1123 subdomain, as a claimName) before any pod
uses it; a pod's first use makes it otherwise. Prints its name.

Example:
   podbox volume create data`,
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return errors.New("volume create: want one volume name")
				}
				nv, err := namedVolumes(c)
				if err != nil {
					return err
				}
				vol, err := nv.Create(c.Args().First())
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, vol.Name)
				return nil
			},
		},
		{
			Name:  "ls",
			Usage: "list named volumes",
			Description: `Lists NAME, CREATED and the PODS that use each volume.

Example:
   podbox volume ls`,
			Action: func(c *cli.Context) error {
				nv, err := namedVolumes(c)
				if err != nil {
					return err
				}
				vols, err := nv.List()
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 3, ' ', 0)
				fmt.Fprintln(tw, "NAME\tCREATED\tPODS")
				for _, v := range vols {
					pods := "<none>"
					if len(v.Pods) > 0 {
						pods = joinNames(v.Pods)
					}
					fmt.Fprintf(tw, "%s\t%s ago\t%s\n", v.Name, age(v.CreatedAt), pods)
				}
				return tw.Flush()
			},
		},
		{
			Name:      "inspect",
			Usage:     "show named volumes as JSON",
			ArgsUsage: "NAME...",
			Description: `Prints a JSON list: name, mountpoint (the host directory of its data),
createdAt and the pods that use it.

Example:
   podbox volume inspect data`,
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return errors.New("volume inspect: want one or more volume names")
				}
				nv, err := namedVolumes(c)
				if err != nil {
					return err
				}
				out := []*mounts.NamedVolume{}
				for _, name := range c.Args().Slice() {
					v, err := nv.Get(name)
					if err != nil {
						return err
					}
					out = append(out, v)
				}
				b, _ := json.MarshalIndent(out, "", "    ")
				fmt.Fprintf(c.App.Writer, "%s\n", b)
				return nil
			},
		},
		{
			Name:      "rm",
			Usage:     "remove named volumes and their data",
			ArgsUsage: "NAME...",
			Description: `Removes each volume with its data. A volume a pod uses is refused, naming the
pods: remove them first.

Example:
   podbox volume rm data`,
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "no error for a volume that does not exist"},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return errors.New("volume rm: want one or more volume names")
				}
				nv, err := namedVolumes(c)
				if err != nil {
					return err
				}
				var errs []error
				for _, name := range c.Args().Slice() {
					err := nv.Remove(name)
					if c.Bool("force") && errors.Is(err, mounts.ErrVolumeNotFound) {
						err = nil
					}
					errs = append(errs, err)
				}
				return errors.Join(errs...)
			},
		},
	},
}

func namedVolumes(c *cli.Context) (*mounts.NamedVolumes, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("podbox must run as root (try sudo)")
	}
	return mounts.OpenNamedVolumes(c.String("volume-root"))
}
