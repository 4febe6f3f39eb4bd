package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/containerd/console"
	"github.com/urfave/cli/v2"

	"github.com/podbox/podbox/sandbox"
)

// debugProfiles are kubectl debug's profiles, as they change an ephemeral
// container: general adds SYS_PTRACE; netadmin NET_ADMIN and NET_RAW;
// sysadmin makes it privileged; restricted runs it as the restricted Pod
// Security Standard asks (non-root, no privilege escalation, no
// capability, RuntimeDefault seccomp); baseline and legacy change nothing.
var debugProfiles = map[string]func(c *sandbox.ContainerConfig){
	"legacy":   func(c *sandbox.ContainerConfig) {},
	"baseline": func(c *sandbox.ContainerConfig) {},
	"general":  func(c *sandbox.ContainerConfig) { c.CapAdd = append(c.CapAdd, "SYS_PTRACE") },
	"netadmin": func(c *sandbox.ContainerConfig) { c.CapAdd = append(c.CapAdd, "NET_ADMIN", "NET_RAW") },
	"sysadmin": func(c *sandbox.ContainerConfig) { c.Privileged = true },
	"restricted": func(c *sandbox.ContainerConfig) {
		no := false
		c.RunAsNonRoot, c.AllowPrivilegeEscalation, c.CapDrop = true, &no, []string{"ALL"}
		c.Seccomp = &sandbox.SeccompProfile{Type: sandbox.SeccompRuntimeDefault}
	},
}

var debugCommand = &cli.Command{
	Name:      "debug",
	Usage:     "add an ephemeral debugging container to a running pod",
	ArgsUsage: "POD --image IMAGE [-- CMD [ARG...]]",
	Description: `Adds an ephemeral container, as kubectl debug does, to the running pod: it
runs IMAGE (CMD instead of the image's command) in the pod's network, IPC and
UTS namespaces, and with --target in the PID namespace of that container, so
that ps shows its processes and /proc/<pid>/root reaches its files. It is never
restarted, has no ports and no resources, and stays listed (podbox get pod,
inspect, logs -c NAME) until the pod is removed. With -i the terminal is
attached from its first output to its end, and podbox exits with its exit
code; without, podbox returns once it is added. --profile gives the
capabilities of kubectl debug's profiles: general (SYS_PTRACE, the default),
netadmin (NET_ADMIN and NET_RAW), sysadmin (privileged), restricted (non-root,
no capabilities), baseline or legacy (the defaults).

Example:
   podbox debug web -it --image busybox --target server -- sh
   podbox debug web -i --image busybox --profile netadmin -- ip link
   podbox debug web --image busybox -c probe -- wget -qO- localhost:80`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "image", Usage: "image of the debugging container (required)"},
		&cli.StringFlag{Name: "target", Usage: "container whose PID namespace it joins"},
		&cli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "its name (default debugger-XXXXX)"},
		&cli.StringFlag{Name: "profile", Value: "general", Usage: "general, netadmin, sysadmin, restricted, baseline or legacy"},
		&cli.BoolFlag{Name: "stdin", Aliases: []string{"i"}, Usage: "keep its stdin open and attach the terminal to it"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give it a terminal"},
		&cli.StringSliceFlag{Name: "env", Usage: "a variable, KEY=VALUE (repeatable)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but the container's output"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() < 1 {
			return errors.New("debug: want POD --image IMAGE [-- CMD...] (see podbox debug --help)")
		}
		pod, args := podRef(c, c.Args().First()), c.Args().Tail()
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
		if c.String("image") == "" {
			return errors.New("debug: --image is required (see podbox debug --help)")
		}
		profile, ok := debugProfiles[c.String("profile")]
		if !ok {
			return fmt.Errorf("debug: --profile %q: want general, netadmin, sysadmin, restricted, baseline or legacy", c.String("profile"))
		}
		name := c.String("container")
		if name == "" {
			name = "debugger-" + randomSuffix()
			if !c.Bool("quiet") {
				fmt.Fprintf(os.Stderr, "Defaulting debug container name to %s.\n", name)
			}
		}
		cfg := sandbox.ContainerConfig{
			Name: name, Image: c.String("image"), Command: args,
			Stdin: c.Bool("stdin"), TTY: c.Bool("tty"), TargetContainer: c.String("target"),
		}
		for _, kv := range c.StringSlice("env") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fmt.Errorf("debug: --env %q: want KEY=VALUE", kv)
			}
			cfg.Env = append(cfg.Env, sandbox.EnvVar{Name: k, Value: v})
		}
		profile(&cfg)
		m, err := manager(c)
		if err != nil {
			return err
		}
		if _, err := m.Status(c.Context, pod); err != nil {
			return err
		}
		popts, err := pullOptions(c)
		if err != nil {
			return err
		}
		one := &sandbox.PodConfig{EphemeralContainers: []sandbox.ContainerConfig{cfg}}
		if err := sandbox.PullImages(c.Context, m.Images(), one, popts); err != nil {
			return err
		}
		// The library resolves the image (layers, USER, entrypoint) and
		// leases it for the pod.
		if err := m.AddEphemeralContainer(c.Context, pod, cfg); err != nil {
			return err
		}
		if !cfg.Stdin {
			return nil
		}
		s := sandbox.AttachStreams{Stdin: os.Stdin, Stdout: os.Stdout}
		if cfg.TTY {
			if cur, err := console.ConsoleFromFile(os.Stdin); err == nil {
				if ws, err := cur.Size(); err == nil {
					s.Width, s.Height = ws.Width, ws.Height
				}
				if err := cur.SetRaw(); err == nil {
					defer cur.Reset()
				}
			}
		}
		code, err := m.Attach(c.Context, pod, name, s)
		if err != nil {
			return err
		}
		if code != 0 {
			return exitError(code)
		}
		return nil
	},
}

// randomSuffix is five characters as kubectl debug's container names end
// with: no vowels, no look-alikes.
func randomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
