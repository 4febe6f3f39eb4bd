package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/podbox/podbox/cri"
	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/sandbox"
)

var criCommand = &cli.Command{
	Name:  "cri",
	Usage: "serve the Kubernetes CRI (v1) for the kubelet, crictl and critest",
	Description: `Serves the CRI's RuntimeService and ImageService on a unix socket, over the
same pods, state root and image store as the other verbs. Each sandbox is a
podbox pod (in its Kubernetes namespace: podbox ps -A lists them) whose
lifecycle runs in its own monitor: stopping or restarting podbox cri never
touches a running pod. Pulls go through --registries-config's mirrors.
See docs/cri.md for what maps to what, and critest's figures.

Example:
   podbox cri
   podbox --registries-config /etc/podbox/cri-registries.yaml cri --listen unix:///run/podbox/cri.sock
   crictl --runtime-endpoint unix:///run/podbox/cri.sock pods
   kubelet --container-runtime-endpoint unix:///run/podbox/cri.sock ...`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "listen", Value: "unix:///run/podbox/cri.sock", EnvVars: []string{"PODBOX_CRI_LISTEN"}, Usage: "the CRI endpoint (a unix socket)"},
		&cli.StringFlag{Name: "stream-address", Value: "127.0.0.1:0", EnvVars: []string{"PODBOX_CRI_STREAM_ADDRESS"}, Usage: "where the exec, attach and port-forward server listens (host:port; port 0: any free one)"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() != 0 {
			return fmt.Errorf("cri: takes no arguments (see podbox cri --help)")
		}
		path, err := cri.ParseEndpoint(c.String("listen"))
		if err != nil {
			return fmt.Errorf("cri: --listen: %w", err)
		}
		opts, err := managerOptions(c)
		if err != nil {
			return err
		}
		// The CRI names Localhost seccomp profiles by absolute path.
		opts.SeccompRoot = "/"
		// A CRI pod's lifecycle serves the kubelet's container requests
		// for the pod's whole life: a shim would only add to it.
		opts.ShimBinary = ""
		m, err := sandbox.New(opts)
		if err != nil {
			return err
		}
		reg, err := image.LoadRegistriesConfig(c.String("registries-config"))
		if err != nil {
			return err
		}
		srv, err := cri.New(cri.Config{
			Manager:       m,
			Registries:    reg,
			StreamAddress: c.String("stream-address"),
			Version:       version,
			RunPod: func(ctx context.Context, cfg *sandbox.PodConfig) error {
				mon, err := createAndRun(c, m, cfg)
				if err != nil {
					return err
				}
				defer mon.Release()
				if err := mon.WaitStarted(); err != nil {
					m.Remove(context.Background(), sandbox.PodRef(cfg.Namespace, cfg.Name), true)
					return err
				}
				return nil
			},
		})
		if err != nil {
			return err
		}
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		go func() {
			<-sigs
			srv.Stop()
		}()
		fmt.Fprintf(c.App.ErrWriter, "podbox cri: serving %s\n", c.String("listen"))
		err = srv.Serve(path)
		os.Remove(path)
		return err
	},
}
