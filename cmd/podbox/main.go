// Command podbox runs Kubernetes-style pods on one Linux host, from plain
// v1.Pod manifests, without Kubernetes. It must run as root.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/mounts"
	"github.com/podbox/podbox/netns"
	"github.com/podbox/podbox/sandbox"
)

var version = "dev"

// exitError carries an exit code without a message (exec's, for one).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	if sandbox.IsInit() {
		sandbox.Init() // libcontainer's container init; never returns
	}
	app := newApp()
	args := interspersed(app, os.Args)
	if err := unknownCommand(app, args); err != nil {
		fmt.Fprintf(os.Stderr, "podbox: %v\n", err)
		os.Exit(1)
	}
	if err := app.Run(args); err != nil {
		var code exitError
		if errors.As(err, &code) {
			os.Exit(int(code))
		}
		fmt.Fprintf(os.Stderr, "podbox: %v\n", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "podbox",
		Usage:   "run Kubernetes-style pods on one Linux host, without Kubernetes",
		Version: version,
		Description: `podbox runs the pod in a plain Kubernetes v1.Pod manifest: its containers share
one network namespace (localhost and one IP), IPC and hostname, and the pod's
volumes, under one memory quota; init containers and sidecars run as in
Kubernetes. It must run as root.

Example:
   podbox image import busybox busybox.tar
   podbox run testdata/pods/web.yaml
   podbox ps
   podbox logs web -c server
   podbox rm -f web`,
		UseShortOptionHandling: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Value: sandbox.DefaultNamespace, EnvVars: []string{"PODBOX_NAMESPACE"}, Usage: "the namespace every verb works in, as kubectl -n"},
			&cli.StringFlag{Name: "root", Value: "/run/podbox", EnvVars: []string{"PODBOX_ROOT"}, Usage: "state root (pods, logs, network leases)"},
			&cli.StringFlag{Name: "image-root", Value: image.DefaultRoot, EnvVars: []string{"PODBOX_IMAGE_ROOT"}, Usage: "image store"},
			&cli.StringFlag{Name: "volume-root", Value: mounts.DefaultNamedVolumeRoot, EnvVars: []string{"PODBOX_VOLUME_ROOT"}, Usage: "named volumes (persistentVolumeClaims): <volume-root>/<name>/_data"},
			&cli.StringFlag{Name: "registries-config", Value: image.DefaultRegistriesConfig, EnvVars: []string{"PODBOX_REGISTRIES_CONFIG"}, Usage: "registry mirrors and insecure registries (YAML; missing: none)"},
			&cli.StringFlag{Name: "cgroup-parent", Value: "/podbox", EnvVars: []string{"PODBOX_CGROUP_PARENT"}, Usage: "absolute cgroup path under which pod cgroups are made"},
			&cli.StringFlag{Name: "allocatable-memory", EnvVars: []string{"PODBOX_ALLOCATABLE_MEMORY"}, Usage: "memory pods are admitted against, e.g. 2.5Gi (default: MemTotal minus a reserve)"},
			&cli.StringFlag{Name: "bridge", Value: netns.DefaultBridge, EnvVars: []string{"PODBOX_BRIDGE"}, Usage: "pod network bridge"},
			&cli.StringFlag{Name: "subnet", Value: netns.DefaultSubnet, EnvVars: []string{"PODBOX_SUBNET"}, Usage: "pod network subnet"},
			&cli.StringFlag{Name: "veth-prefix", Value: netns.DefaultVethPrefix, EnvVars: []string{"PODBOX_VETH_PREFIX"}, Usage: "prefix of the pods' host veth names"},
			&cli.StringFlag{Name: "nft-table", Value: netns.DefaultTable, EnvVars: []string{"PODBOX_NFT_TABLE"}, Usage: "nftables table for masquerade and hostPorts"},
			&cli.StringFlag{Name: "log-root", Value: sandbox.DefaultLogRoot, EnvVars: []string{"PODBOX_LOG_ROOT"}, Usage: "where containers' logs are kept: <log-root>/<namespace>_<pod>_<uid>/<container>/<restart>.log"},
			&cli.StringFlag{Name: "container-log-max-size", Value: "10Mi", EnvVars: []string{"PODBOX_CONTAINER_LOG_MAX_SIZE"}, Usage: "size at which a container's log file is rotated"},
			&cli.IntFlag{Name: "container-log-max-files", Value: sandbox.DefaultContainerLogMaxFiles, EnvVars: []string{"PODBOX_CONTAINER_LOG_MAX_FILES"}, Usage: "log files kept per container instance, the current one included (at least 2)"},
			&cli.BoolFlag{Name: "allow-swap", EnvVars: []string{"PODBOX_ALLOW_SWAP"}, Usage: "let pods use the node's swap (default: memory.swap.max 0 on cgroup v2, as the kubelet's NoSwap)"},
			&cli.StringFlag{Name: "seccomp-root", Value: sandbox.DefaultSeccompRoot, EnvVars: []string{"PODBOX_SECCOMP_ROOT"}, Usage: "directory of Localhost seccomp profiles (a localhostProfile is relative to it)"},
			&cli.Int64Flag{Name: "pod-pids-limit", Value: cgroups.DefaultPidsLimit, EnvVars: []string{"PODBOX_POD_PIDS_LIMIT"}, Usage: "most processes and threads a pod may hold at once (pids.max of its cgroup, the kubelet's podPidsLimit); -1: no limit"},
			&cli.DurationFlag{Name: "eviction-interval", Value: 10 * time.Second, EnvVars: []string{"PODBOX_EVICTION_INTERVAL"}, Usage: "how often a pod's local storage is measured against its limits", Hidden: true},
			&cli.DurationFlag{Name: "backoff-base", Value: 10 * time.Second, EnvVars: []string{"PODBOX_BACKOFF_BASE"}, Usage: "crash-loop backoff base (doubles up to 30x)", Hidden: true},
		},
		Commands: []*cli.Command{
			runCommand, psCommand, getCommand, inspectCommand, logsCommand, execCommand, debugCommand,
			stopCommand, rmCommand, imageCommand, volumeCommand, networkCommand, versionCommand,
			completionCommand, completeCommand, manCommand, criCommand,
		},
	}
}

// manager opens the sandbox Manager the global flags describe.
func manager(c *cli.Context) (*sandbox.Manager, error) {
	opts, err := managerOptions(c)
	if err != nil {
		return nil, err
	}
	return sandbox.New(opts)
}

// managerOptions are the sandbox options the global flags describe.
func managerOptions(c *cli.Context) (sandbox.Options, error) {
	if os.Geteuid() != 0 {
		return sandbox.Options{}, errors.New("podbox must run as root (try sudo)")
	}
	var alloc int64
	if s := c.String("allocatable-memory"); s != "" {
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return sandbox.Options{}, fmt.Errorf("--allocatable-memory %q: %w", s, err)
		}
		alloc = q.Value()
	}
	logMax, err := resource.ParseQuantity(c.String("container-log-max-size"))
	if err != nil {
		return sandbox.Options{}, fmt.Errorf("--container-log-max-size %q: %w", c.String("container-log-max-size"), err)
	}
	store, err := image.Open(c.String("image-root"))
	if err != nil {
		return sandbox.Options{}, err
	}
	return sandbox.Options{
		MonitorBinary:        monitorBinary(),
		ShimBinary:           shimBinary(),
		Images:               store,
		LogRoot:              c.String("log-root"),
		ContainerLogMaxSize:  logMax.Value(),
		ContainerLogMaxFiles: c.Int("container-log-max-files"),
		Root:                 c.String("root"),
		CgroupParent:         c.String("cgroup-parent"),
		AllocatableMemory:    alloc,
		AllowSwap:            c.Bool("allow-swap"),
		SeccompRoot:          c.String("seccomp-root"),
		VolumeRoot:           c.String("volume-root"),
		PodPidsLimit:         c.Int64("pod-pids-limit"),
		Network: netns.Config{
			Bridge:     c.String("bridge"),
			Subnet:     c.String("subnet"),
			VethPrefix: c.String("veth-prefix"),
			Table:      c.String("nft-table"),
		},
	}, nil
}

// monitorBinary is the program every pod's detached monitor runs:
// podbox-monitor beside this executable, or in ../libexec/podbox (where
// make install puts it). It links the sandbox library alone, so that
// what each pod keeps resident is a third smaller than with podbox itself,
// which is what runs it when there is none ("").
func monitorBinary() string { return helperBinary("podbox-monitor") }

// shimBinary is podbox-shim, found as podbox-monitor is; "" (no shim: the
// lifecycle stays with each pod) when there is none.
func shimBinary() string { return helperBinary("podbox-shim") }

func helperBinary(name string) string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	dir := filepath.Dir(exe)
	for _, p := range []string{
		filepath.Join(dir, name),
		filepath.Join(dir, "..", "libexec", "podbox", name),
	} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func runOptions(c *cli.Context) sandbox.RunOptions {
	base := c.Duration("backoff-base")
	return sandbox.RunOptions{BackoffBase: base, BackoffMax: 30 * base, EvictionInterval: c.Duration("eviction-interval")}
}

// podRef is the library's reference of the pod called name in the
// namespace -n names.
func podRef(c *cli.Context, name string) string {
	return sandbox.PodRef(c.String("namespace"), name)
}

// podManager returns the reference of the one pod a verb takes, and the
// Manager.
func podManager(c *cli.Context) (string, *sandbox.Manager, error) {
	if c.NArg() != 1 {
		return "", nil, fmt.Errorf("%s: want one pod name (see podbox %s --help)", c.Command.Name, c.Command.Name)
	}
	m, err := manager(c)
	return podRef(c, c.Args().First()), m, err
}

// podStatus returns the Manager and the status of the pod called name in
// the namespace -n names.
func podStatus(c *cli.Context, name string) (*sandbox.Manager, *sandbox.PodStatus, error) {
	m, err := manager(c)
	if err != nil {
		return nil, nil, err
	}
	st, err := m.Status(c.Context, podRef(c, name))
	return m, st, err
}

// inNamespace keeps the pods of the namespace -n names, or all with
// --all-namespaces.
func inNamespace(c *cli.Context, pods []*sandbox.PodStatus) []*sandbox.PodStatus {
	if c.Bool("all-namespaces") {
		return pods
	}
	var out []*sandbox.PodStatus
	for _, p := range pods {
		if p.Namespace() == c.String("namespace") {
			out = append(out, p)
		}
	}
	return out
}

// allNamespacesFlag is kubectl's -A.
var allNamespacesFlag = &cli.BoolFlag{Name: "all-namespaces", Aliases: []string{"A"}, Usage: "pods of every namespace"}

func joinNames(names []string) string { return strings.Join(names, ", ") }

// interspersed lets flags follow the arguments, as with kubectl
// ("podbox get pod web -o json"): urfave/cli stops parsing flags at the
// first argument, so the command's flags found after it are moved before
// it, and global flags found after the command (podbox run FILE
// --allocatable-memory 2.5Gi) before the command. A command's own flag wins
// over a global one of the same name. Everything after "--" is left alone.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	// Skip the global flags to find the command.
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if !strings.Contains(args[i], "=") && takesValue(app.Flags, args[i]) {
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil || cmd.SkipFlagParsing {
		return args
	}
	flags := cmd.Flags
	j := i + 1
	for len(cmd.Subcommands) > 0 && j < len(args) {
		sub := cmd.Command(args[j])
		if sub == nil {
			break
		}
		cmd, flags = sub, sub.Flags
		j++
	}
	var globals, moved, rest []string
	for k := j; k < len(args); k++ {
		a := args[k]
		if a == "--" {
			rest = append(rest, args[k:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" && isFlag(flags, a) {
			moved = append(moved, a)
			if !strings.Contains(a, "=") && takesValue(flags, a) && k+1 < len(args) {
				moved = append(moved, args[k+1])
				k++
			}
			continue
		}
		if strings.HasPrefix(a, "-") && a != "-" && flagNamed(app.Flags, a) != nil {
			globals = append(globals, a)
			if !strings.Contains(a, "=") && takesValue(app.Flags, a) && k+1 < len(args) {
				globals = append(globals, args[k+1])
				k++
			}
			continue
		}
		rest = append(rest, a)
	}
	out := append([]string{}, args[:i]...)
	out = append(out, globals...)
	out = append(out, args[i:j]...)
	out = append(out, moved...)
	return append(out, rest...)
}

// unknownCommand says, as kubectl does, that the command (or the
// subcommand) args name does not exist, with the nearest ones; nil when it
// exists or none is named.
func unknownCommand(app *cli.App, args []string) error {
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if args[i] == "--" {
			return nil
		}
		if !strings.Contains(args[i], "=") && takesValue(app.Flags, args[i]) {
			i++
		}
		i++
	}
	if i >= len(args) || args[i] == "help" || args[i] == "h" {
		return nil
	}
	cmds, path := app.Commands, "podbox"
	for ; i < len(args) && !strings.HasPrefix(args[i], "-"); i++ {
		var cmd *cli.Command
		for _, c := range cmds {
			if c.HasName(args[i]) {
				cmd = c
			}
		}
		if cmd == nil {
			return fmt.Errorf("unknown command %q for %q%s\nRun '%s --help' for usage.",
				args[i], path, suggest(cmds, args[i]), path)
		}
		if len(cmd.Subcommands) == 0 {
			return nil
		}
		cmds, path = cmd.Subcommands, path+" "+cmd.Name
	}
	return nil
}

// suggest lists the visible commands near typed (an edit distance of 2 at
// most, or a prefix either way), as kubectl's "Did you mean this?".
func suggest(cmds []*cli.Command, typed string) string {
	var near []string
	for _, c := range cmds {
		if c.Hidden {
			continue
		}
		for _, n := range c.Names() {
			if editDistance(n, typed) <= 2 || strings.HasPrefix(n, typed) || strings.HasPrefix(typed, n) {
				near = append(near, c.Name)
				break
			}
		}
	}
	if len(near) == 0 {
		return ""
	}
	return "\n\nDid you mean this?\n\t" + strings.Join(near, "\n\t") + "\n"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func flagNamed(flags []cli.Flag, arg string) cli.Flag {
	name := strings.TrimLeft(arg, "-")
	if k := strings.IndexByte(name, '='); k >= 0 {
		name = name[:k]
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func isFlag(flags []cli.Flag, arg string) bool {
	if flagNamed(flags, arg) != nil {
		return true
	}
	// Short boolean flags run together: -it.
	if len(arg) > 2 && arg[0] == '-' && arg[1] != '-' {
		for _, r := range arg[1:] {
			f := flagNamed(flags, "-"+string(r))
			if _, ok := f.(*cli.BoolFlag); !ok {
				return false
			}
		}
		return true
	}
	return false
}

func takesValue(flags []cli.Flag, arg string) bool {
	f := flagNamed(flags, arg)
	if f == nil {
		return false
	}
	if _, isBool := f.(*cli.BoolFlag); isBool {
		return false
	}
	// A generic flag that also stands alone (--dry-run).
	if g, ok := f.(*cli.GenericFlag); ok {
		if b, ok := g.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			return false
		}
	}
	return true
}
