package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/sandbox"
	"github.com/podbox/podbox/spec"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start the pod in a Kubernetes manifest, or a one-container pod from an image",
	ArgsUsage: "FILE (- for stdin) | NAME --image IMAGE [-- ARG...]",
	Description: `Creates the pod described by a v1.Pod manifest (YAML or JSON) and starts it,
leaving a small monitor process that runs its lifecycle. Prints the pod's name.
By default it returns once every app container has started, or, exiting 1, as
soon as the pod can not get there without a change: a container that can not
start, an init container or sidecar in CrashLoopBackOff, an init container that
failed under restartPolicy Never, a pod that ended. It then says why, with the
container's last log lines, and keeps the pod for podbox logs and podbox rm.
An image is pulled first, by each container's imagePullPolicy; one that can not
be had is refused before anything is made.

A file may hold several pods and workloads (Deployment, ReplicaSet,
StatefulSet, DaemonSet, Job, CronJob: one pod of the template, named
NAME-pod), as documents or a v1 List, beside their ConfigMaps and Secrets.
All are checked before any is made; if one can not be made, those made before
it are removed again. Fields that only matter to a cluster (nodeSelector,
tolerations, replicas, a CronJob's schedule...) are named in one warning line
per pod; --strict refuses them instead.

With --image, as kubectl run: the pod NAME with one container NAME running
IMAGE, labelled run=NAME; what follows -- replaces the image's cmd (its
arguments), or with --command its entrypoint. --dry-run=client -o yaml|json
prints that manifest instead of running it, to be saved, edited and given
back to podbox run.

--configmap FILE (repeatable, or FILE,FILE) gives ConfigMaps and Secrets kept
apart from the pod's file, as podman kube play --configmap takes them: YAML
documents or JSON, alone or in a v1 List. A name given both there and in the
pod's file (or in two such files) is refused, as one given twice in a file is.

Example:
   podbox run testdata/pods/web.yaml
   podbox run --name web2 --no-wait - < pod.yaml
   podbox run --configmap settings.yaml --configmap secrets.yaml app.yaml
   podbox run --strict deployment.yaml
   podbox run web --image busybox --port 80 -- httpd -f -p 80
   podbox run web --image busybox --dry-run=client -o yaml -- httpd -f -p 80 > web.yaml`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "name", Usage: "pod name, instead of the manifest's metadata.name"},
		&cli.BoolFlag{Name: "no-wait", Usage: "return once the pod is created and its monitor started"},
		&cli.StringFlag{Name: "image", Usage: "run a one-container pod NAME of this image, as kubectl run"},
		&cli.IntFlag{Name: "port", Usage: "with --image: the port the container exposes (containerPort)"},
		&cli.StringSliceFlag{Name: "env", Usage: "with --image: a variable, KEY=VALUE (repeatable)"},
		&cli.StringFlag{Name: "labels", Aliases: []string{"l"}, Usage: "with --image: labels, KEY=VALUE,... (default run=NAME)"},
		&cli.StringFlag{Name: "restart", Value: "Always", Usage: "with --image: the pod's restartPolicy, Always, OnFailure or Never"},
		&cli.BoolFlag{Name: "command", Usage: "with --image: the arguments after -- are the command (entrypoint), not the args"},
		&cli.GenericFlag{Name: "dry-run", Value: &dryRunValue{}, Usage: "with --image: none, or client (print the manifest, run nothing); alone means client"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "with --dry-run: yaml or json"},
		&cli.StringSliceFlag{Name: "configmap", Usage: "a file of ConfigMaps and Secrets the pod refers to, kept apart from it (repeatable)"},
		&cli.BoolFlag{Name: "strict", Usage: "refuse the fields that only matter to a cluster (nodeSelector, tolerations, replicas...) instead of warning"},
	},
	Action: func(c *cli.Context) error {
		var cfgs []*sandbox.PodConfig
		var extra *spec.Objects
		if files := c.StringSlice("configmap"); len(files) > 0 {
			var err error
			if extra, err = spec.LoadObjects(files...); err != nil {
				return fmt.Errorf("run: --configmap %w", err)
			}
		}
		if c.String("image") != "" {
			if c.Bool("strict") {
				return errors.New("run: --strict goes with a manifest FILE (see podbox run --help)")
			}
			data, err := kubectlRunManifest(c)
			if err != nil {
				return err
			}
			if c.Generic("dry-run").(*dryRunValue).mode == "client" {
				return printManifest(c, data)
			}
			cfg, err := parseManifest(data, "", "", extra)
			if err != nil {
				return err
			}
			cfgs = []*sandbox.PodConfig{cfg}
		} else {
			for _, f := range []string{"port", "env", "labels", "restart", "command", "dry-run", "output"} {
				if c.IsSet(f) {
					return fmt.Errorf("run: --%s goes with --image NAME (see podbox run --help)", f)
				}
			}
			if c.NArg() != 1 {
				return errors.New("run: want one manifest file, or - for stdin, or NAME --image IMAGE (see podbox run --help)")
			}
			res, err := loadManifests(c.Args().First(), c.String("name"), spec.Options{Strict: c.Bool("strict"), Extra: extra})
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(c.App.ErrWriter, "warning: %s\n", w)
			}
			cfgs = res.Pods
		}
		for _, cfg := range cfgs {
			if err := setNamespace(c, cfg); err != nil {
				return err
			}
		}
		m, err := manager(c)
		if err != nil {
			return err
		}
		ctx := c.Context
		popts, err := pullOptions(c)
		if err != nil {
			return err
		}
		// Every image of every pod first: a file that can not run whole
		// makes nothing.
		for _, cfg := range cfgs {
			if err := sandbox.PullImages(ctx, m.Images(), cfg, popts); err != nil {
				if errors.Is(err, image.ErrNotFound) {
					err = fmt.Errorf("%w\n(pull it with podbox image pull NAME, or import it with podbox image import NAME SOURCE)", err)
				}
				return err
			}
		}
		// Then each pod, in the file's order. One that can not be made
		// takes the ones made before it away again: a file's pods are
		// made together or not at all.
		var made []string
		mons := map[string]*sandbox.DetachedMonitor{}
		for i, cfg := range cfgs {
			mon, err := createAndRun(c, m, cfg)
			if err != nil {
				for _, ref := range made {
					m.Remove(context.Background(), ref, true)
				}
				if len(cfgs) > 1 {
					err = fmt.Errorf("pod %q (%d of %d): %w", cfg.Name, i+1, len(cfgs), err)
					if len(made) > 0 {
						err = fmt.Errorf("%w\n(removed the pods made before it: %s)", err, strings.Join(made, ", "))
					}
				}
				return err
			}
			ref := sandbox.PodRef(cfg.Namespace, cfg.Name)
			made = append(made, ref)
			mons[ref] = mon
		}
		var failed []error
		for _, cfg := range cfgs {
			ref := sandbox.PodRef(cfg.Namespace, cfg.Name)
			mon := mons[ref]
			if !c.Bool("no-wait") {
				err := mon.WaitStarted()
				if err == nil {
					err = m.WaitStarted(ctx, ref, nil)
				}
				if err != nil {
					failed = append(failed, fmt.Errorf("%w\n(the pod is kept: see podbox logs %s, remove it with podbox rm -f %s)", err, cfg.Name, cfg.Name))
					continue
				}
			}
			mon.Release()
			fmt.Fprintln(c.App.Writer, cfg.Name)
		}
		if len(failed) > 0 && len(cfgs) > 1 {
			// Say which ran, as they are kept too.
			failed = append(failed, fmt.Errorf("%d of the file's %d pods started", len(cfgs)-len(failed), len(cfgs)))
		}
		return errors.Join(failed...)
	},
}

// setNamespace gives cfg the manifest's namespace, else -n's; both, they
// must agree (as kubectl apply -n says).
func setNamespace(c *cli.Context, cfg *sandbox.PodConfig) error {
	var meta struct {
		Metadata struct{ Namespace string } `json:"metadata"`
	}
	json.Unmarshal(cfg.Manifest, &meta)
	switch ns := c.String("namespace"); {
	case meta.Metadata.Namespace == "":
		cfg.Namespace = ns
	case c.IsSet("namespace") && meta.Metadata.Namespace != ns:
		return fmt.Errorf("run: pod %q: the manifest's namespace %q does not match -n %q", cfg.Name, meta.Metadata.Namespace, ns)
	}
	return nil
}

// createAndRun creates the pod and hands it to a monitor of its own; the
// pod is removed again when that fails.
func createAndRun(c *cli.Context, m *sandbox.Manager, cfg *sandbox.PodConfig) (*sandbox.DetachedMonitor, error) {
	ref := sandbox.PodRef(cfg.Namespace, cfg.Name)
	// The monitor starts first and waits for the pod: its start-up
	// overlaps the sandbox's creation.
	mon, err := m.StartMonitor(ref)
	if err != nil {
		return nil, err
	}
	created, err := m.Create(c.Context, cfg)
	if err != nil {
		mon.Abort()
		return nil, err
	}
	for _, w := range created.Warnings {
		fmt.Fprintf(c.App.ErrWriter, "warning: %s\n", w)
	}
	// Out of our cgroup and session before it runs anything: stopping
	// whatever started podbox run must not end the pod's lifecycle.
	if err := mon.Run(runOptions(c)); err != nil {
		m.Remove(context.Background(), ref, true)
		return nil, err
	}
	return mon, nil
}

// loadManifests reads and maps a manifest of one or more pods, keeping
// each pod's document as JSON for display; name, when set, renames its
// one pod; o says how strictly, and the ConfigMaps and Secrets of
// --configmap, if any.
func loadManifests(path, name string, o spec.Options) (*spec.Result, error) {
	data, err := spec.ReadFile(path)
	if err != nil {
		return nil, err
	}
	o.Keep = true
	res, err := spec.ParseWith(data, o)
	if err == nil && name != "" && len(res.Pods) != 1 {
		err = fmt.Errorf("--name renames one pod, the manifest holds %d", len(res.Pods))
	}
	if err != nil {
		if path != "-" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	if name != "" {
		if err := sandbox.ValidateName("--name", name); err != nil {
			return nil, err
		}
		res.Pods[0].Name = name
	}
	return res, nil
}

// parseManifest maps the manifest data read from path ("-" or "": not a
// file), keeping it as JSON for display; name, when set, renames the pod;
// extra are the ConfigMaps and Secrets of --configmap, if any.
func parseManifest(data []byte, path, name string, extra *spec.Objects) (*sandbox.PodConfig, error) {
	cfgs, err := spec.ParseAllWith(data, extra)
	if err == nil && len(cfgs) != 1 {
		err = fmt.Errorf("%w: the manifest holds %d pods, podbox runs one at a time", spec.ErrInvalid, len(cfgs))
	}
	if err != nil {
		if path != "-" && path != "" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	cfg := cfgs[0]
	if name != "" {
		if err := sandbox.ValidateName("--name", name); err != nil {
			return nil, err
		}
		cfg.Name = name
	}
	return cfg, nil
}
