package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"

	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/sandbox"
	"github.com/podbox/podbox/spec"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start the pod in a Kubernetes manifest",
	ArgsUsage: "FILE (- for stdin)",
	Description: `Creates the pod described by a v1.Pod manifest (YAML or JSON) and starts it,
leaving a small monitor process that runs its lifecycle. Prints the pod's name.
By default it returns once every app container has started, or fails with the
reason (e.g. which init container failed, and its last log lines).

Example:
   podbox run testdata/pods/web.yaml
   podbox run --name web2 --no-wait - < pod.yaml`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "name", Usage: "pod name, instead of the manifest's metadata.name"},
		&cli.BoolFlag{Name: "no-wait", Usage: "return once the pod is created and its monitor started"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() != 1 {
			return errors.New("run: want one manifest file, or - for stdin (see podbox run --help)")
		}
		cfg, err := loadManifest(c.Args().First(), c.String("name"))
		if err != nil {
			return err
		}
		store, err := image.Open(c.String("image-root"))
		if err != nil {
			return err
		}
		if err := resolveImages(store, cfg); err != nil {
			return err
		}
		m, err := manager(c)
		if err != nil {
			return err
		}
		ctx := c.Context
		if _, err := m.Create(ctx, cfg); err != nil {
			return err
		}
		if err := startMonitor(c, cfg.Name); err != nil {
			m.Remove(context.Background(), cfg.Name, true)
			return err
		}
		if !c.Bool("no-wait") {
			if err := m.WaitStarted(ctx, cfg.Name, nil); err != nil {
				return fmt.Errorf("%w\n(the pod is kept: see podbox logs %s, remove it with podbox rm -f %s)", err, cfg.Name, cfg.Name)
			}
		}
		fmt.Fprintln(c.App.Writer, cfg.Name)
		return nil
	},
}

// loadManifest reads and maps a manifest, keeping it as JSON for display.
func loadManifest(path, name string) (*sandbox.PodConfig, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	cfg, err := spec.Parse(data)
	if err != nil {
		if path != "-" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	if cfg.Manifest, err = yaml.YAMLToJSON(data); err != nil {
		return nil, err
	}
	if name != "" {
		if err := sandbox.ValidateName("--name", name); err != nil {
			return nil, err
		}
		cfg.Name = name
	}
	return cfg, nil
}

// resolveImages finds each container's image in the store and fills its
// root filesystem, and its command, args, env and working directory the way
// Kubernetes combines them with the image's: command replaces the
// entrypoint, args replaces cmd.
func resolveImages(store *image.Store, cfg *sandbox.PodConfig) error {
	var errs []error
	resolve := func(field string, c *sandbox.ContainerConfig) {
		img, err := store.Get(c.Image)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", field, c.Name, err))
			return
		}
		c.Rootfs = img.Rootfs
		if len(c.Command) == 0 {
			c.Command = img.Config.Entrypoint
			if len(c.Args) == 0 {
				c.Args = img.Config.Cmd
			}
		}
		if c.WorkingDir == "" {
			c.WorkingDir = img.Config.WorkingDir
		}
		var env []sandbox.EnvVar
		for _, kv := range img.Config.Env {
			k, v, _ := cutEnv(kv)
			env = append(env, sandbox.EnvVar{Name: k, Value: v})
		}
		c.Env = append(env, c.Env...)
	}
	for i := range cfg.InitContainers {
		resolve(fmt.Sprintf("spec.initContainers[%d].image", i), &cfg.InitContainers[i])
	}
	for i := range cfg.Containers {
		resolve(fmt.Sprintf("spec.containers[%d].image", i), &cfg.Containers[i])
	}
	return errors.Join(errs...)
}

func cutEnv(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// startMonitor leaves the pod's monitor behind: this binary, hidden verb
// __monitor, in a session of its own, its output in the pod's directory.
func startMonitor(c *cli.Context, name string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := filepath.Join(c.String("root"), "pods", name, "monitor.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start monitor of pod %q: %w", name, err)
	}
	defer logf.Close()
	args := append(globalArgs(c), "__monitor", name)
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start monitor of pod %q: %w", name, err)
	}
	return cmd.Process.Release()
}

var monitorCommand = &cli.Command{
	Name:      "__monitor",
	Hidden:    true,
	Usage:     "run a pod's lifecycle (started by podbox run)",
	ArgsUsage: "POD",
	Action: func(c *cli.Context) error {
		name, err := podArg(c)
		if err != nil {
			return err
		}
		m, err := manager(c)
		if err != nil {
			return err
		}
		// SIGTERM (podbox stop) and SIGINT stop the pod; the grace period
		// comes from the stop request.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
		return m.Run(ctx, name, runOptions(c))
	},
}
