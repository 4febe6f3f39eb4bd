package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/namespaces"
	"github.com/podbox/podbox/sandbox"
)

var psCommand = &cli.Command{
	Name:  "ps",
	Usage: "list pods",
	Description: `Lists the pods: NAME, PHASE, IP, READY (ready/all app containers and native
sidecars, as kubectl counts them), RESTARTS, AGE. PHASE is Kubernetes' phase,
or Stopped for a pod stopped with podbox stop. podbox get pods prints the same.

Example:
   podbox ps
   podbox ps -o json`,
	Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "table or json"}, allNamespacesFlag},
	Action: func(c *cli.Context) error {
		m, err := manager(c)
		if err != nil {
			return err
		}
		pods, err := m.List(c.Context)
		if err != nil {
			return err
		}
		pods = inNamespace(c, pods)
		switch c.String("output") {
		case "json":
			rows := []psRow{}
			for _, p := range pods {
				rows = append(rows, row(p))
			}
			return printJSON(c, rows)
		case "", "table":
		default:
			return fmt.Errorf("ps: -o %q: want table or json", c.String("output"))
		}
		return printTable(c, pods)
	},
}

// printTable prints pods as podbox ps does.
func printTable(c *cli.Context, pods []*sandbox.PodStatus) error {
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 3, ' ', 0)
	// With -A a NAMESPACE column first, as kubectl.
	all := c.Bool("all-namespaces")
	if all {
		fmt.Fprint(tw, "NAMESPACE\t")
	}
	fmt.Fprintln(tw, "NAME\tPHASE\tIP\tREADY\tRESTARTS\tAGE")
	for _, p := range pods {
		r := row(p)
		ip := r.IP
		if ip == "" {
			ip = "-"
		}
		if all {
			fmt.Fprintf(tw, "%s\t", r.Namespace)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%s\n", r.Name, r.Phase, ip, r.Ready, r.Containers, r.Restarts, age(p.Created))
	}
	return tw.Flush()
}

type psRow struct {
	Namespace  string    `json:"namespace"`
	Name       string    `json:"name"`
	Phase      string    `json:"phase"`
	IP         string    `json:"ip"`
	Ready      int       `json:"ready"`
	Containers int       `json:"containers"`
	Restarts   int       `json:"restarts"`
	Created    time.Time `json:"created"`
	Message    string    `json:"message,omitempty"`
	// Ephemeral lists the pod's ephemeral containers (podbox debug), which
	// READY does not count, as kubectl does not.
	Ephemeral []psEphemeral `json:"ephemeralContainers,omitempty"`
}

type psEphemeral struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	ExitCode int    `json:"exitCode,omitempty"`
}

// row is a pod's line in ps. READY counts app containers and native
// sidecars, as kubectl does; RESTARTS counts every container's restarts.
func row(p *sandbox.PodStatus) psRow {
	r := psRow{Namespace: p.Namespace(), Name: p.Name, Phase: string(p.Phase), IP: p.PodIP, Created: p.Created, Message: p.Message}
	for _, list := range [][]sandbox.ContainerStatus{p.InitContainers, p.Containers} {
		for _, cs := range list {
			r.Restarts += cs.RestartCount
			if cs.Kind == sandbox.KindInit {
				continue
			}
			r.Containers++
			if cs.Ready() {
				r.Ready++
			}
		}
	}
	for _, cs := range p.EphemeralContainers {
		r.Ephemeral = append(r.Ephemeral, psEphemeral{Name: cs.Name, State: string(cs.State), ExitCode: cs.ExitCode})
	}
	return r
}

func age(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}

func printJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

var getCommand = &cli.Command{
	Name:      "get",
	Usage:     "show pods as Kubernetes v1.Pods with their status",
	ArgsUsage: "pod|pods|po [NAME...]",
	Description: `Prints a pod as kubectl get pod NAME -o json|yaml would: the manifest, and a
status filled the way Kubernetes fills it (phase, reason, message, podIP, podIPs,
hostIP, startTime, conditions, initContainerStatuses, containerStatuses). A
pod stopped with podbox stop has phase Succeeded (Failed when a container had
failed before the stop), reason Stopped, and its containers terminated with
reason Stopped.

Without a name (get pods, get pod) it lists every pod: as podbox ps does, or
with -o json|yaml as a v1 List, as kubectl does. With one name the default
output is yaml; with several, a table.

Example:
   podbox get pod web -o json | jq -r .status.podIP
   podbox get pods
   podbox get pods -o json | jq -r '.items[].metadata.name'`,
	Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "json, yaml or table (default: yaml for one pod, else table)"}, allNamespacesFlag},
	Action: func(c *cli.Context) error {
		switch c.Args().First() {
		case "pod", "pods", "po":
		default:
			return fmt.Errorf("get: want \"pod [NAME...]\" or \"pods\" (see podbox get --help)")
		}
		names := c.Args().Tail()
		m, err := manager(c)
		if err != nil {
			return err
		}
		var pods []*sandbox.PodStatus
		if len(names) == 0 {
			if pods, err = m.List(c.Context); err != nil {
				return err
			}
			pods = inNamespace(c, pods)
		}
		for _, n := range names {
			st, err := m.Status(c.Context, podRef(c, n))
			if err != nil {
				return err
			}
			pods = append(pods, st)
		}
		out := c.String("output")
		if out == "" {
			out = "table"
			if len(names) == 1 {
				out = "yaml"
			}
		}
		var v any
		switch {
		case out == "table":
			return printTable(c, pods)
		case out != "json" && out != "yaml":
			return fmt.Errorf("get: -o %q: want json, yaml or table", out)
		case len(names) == 1:
			v = kubePod(pods[0])
		default:
			list := &v1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}, Items: []runtime.RawExtension{}}
			for _, p := range pods {
				b, err := json.Marshal(kubePod(p))
				if err != nil {
					return err
				}
				list.Items = append(list.Items, runtime.RawExtension{Raw: b})
			}
			v = list
		}
		if out == "json" {
			return printJSON(c, v)
		}
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = c.App.Writer.Write(b)
		return err
	},
}

// userNSAnnotation shows a hostUsers: false pod's mapping, as its
// uid_map and gid_map say it: "0 HOSTID 65536".
const userNSAnnotation = "podbox.io/user-namespace"

// kubePod renders a pod's state as a v1.Pod.
func kubePod(st *sandbox.PodStatus) *v1.Pod {
	pod := &v1.Pod{}
	if len(st.Config.Manifest) > 0 {
		json.Unmarshal(st.Config.Manifest, pod)
	}
	pod.APIVersion, pod.Kind = "v1", "Pod"
	pod.Name, pod.Namespace = st.Name, st.Namespace()
	pod.CreationTimestamp = metav1.NewTime(st.Created)
	pod.UID = types.UID(st.UID) // made by podbox when it created the pod
	if u := st.UserNamespace; u != nil {
		// Kubernetes has no field for it: an annotation, as CRI-O shows
		// its user namespace mode.
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[userNSAnnotation] = u.String()
	}
	s := v1.PodStatus{Phase: kubePhase(st), Reason: st.Reason, Message: st.Message, HostIP: sandbox.HostIP()}
	if st.Phase == sandbox.PhaseStopped {
		s.Reason = sandbox.ReasonStopped
	}
	if s.HostIP != "" {
		s.HostIPs = []v1.HostIP{{IP: s.HostIP}}
	}
	if pod.Spec.HostNetwork {
		st.PodIP = s.HostIP
	}
	if st.PodIP != "" {
		s.PodIP = st.PodIP
		s.PodIPs = []v1.PodIP{{IP: st.PodIP}}
	}
	if !st.StartTime.IsZero() {
		t := metav1.NewTime(st.StartTime)
		s.StartTime = &t
	}
	images, imageIDs := map[string]string{}, map[string]string{}
	for _, list := range [][]sandbox.ContainerConfig{st.Config.InitContainers, st.Config.Containers, st.Config.EphemeralContainers} {
		for _, c := range list {
			images[c.Name] = c.Image
			imageIDs[c.Name] = c.ImageID
			if c.ImageID == "" {
				imageIDs[c.Name] = c.Image
			}
		}
	}
	// Ephemeral containers are in the pod's spec as the API server keeps
	// them once kubectl debug added them, and in its status; they count
	// for no condition.
	pod.Spec.EphemeralContainers = nil
	for _, c := range st.Config.EphemeralContainers {
		pod.Spec.EphemeralContainers = append(pod.Spec.EphemeralContainers, kubeEphemeral(c))
	}
	for _, cs := range st.EphemeralContainers {
		s.EphemeralContainerStatuses = append(s.EphemeralContainerStatuses, kubeContainer(st, cs, images[cs.Name], imageIDs[cs.Name]))
	}
	// Conditions, with the time each last changed as far as podbox knows
	// it: created, the last init container's end, the last container's
	// start or end.
	allReady, initialized := true, true
	initTime, readyTime := st.Created, st.Created
	later := func(t *time.Time, u time.Time) {
		if u.After(*t) {
			*t = u
		}
	}
	for _, cs := range st.InitContainers {
		s.InitContainerStatuses = append(s.InitContainerStatuses, kubeContainer(st, cs, images[cs.Name], imageIDs[cs.Name]))
		if cs.Kind == sandbox.KindSidecar {
			allReady = allReady && cs.Ready()
			later(&readyTime, cs.StartedAt)
			later(&readyTime, cs.FinishedAt)
		} else if !(cs.State == sandbox.StateTerminated && cs.ExitCode == 0) {
			initialized = false
		} else {
			later(&initTime, cs.FinishedAt)
		}
	}
	for _, cs := range st.Containers {
		s.ContainerStatuses = append(s.ContainerStatuses, kubeContainer(st, cs, images[cs.Name], imageIDs[cs.Name]))
		allReady = allReady && cs.Ready()
		later(&readyTime, cs.StartedAt)
		later(&readyTime, cs.FinishedAt)
	}
	cond := func(t v1.PodConditionType, ok bool, when time.Time) v1.PodCondition {
		c := v1.PodCondition{Type: t, Status: v1.ConditionFalse, LastTransitionTime: metav1.NewTime(when)}
		if ok {
			c.Status = v1.ConditionTrue
		}
		return c
	}
	s.Conditions = []v1.PodCondition{
		cond(v1.PodScheduled, true, st.Created),
		cond(v1.PodInitialized, initialized, initTime),
		cond(v1.ContainersReady, allReady, readyTime),
		cond(v1.PodReady, allReady, readyTime),
	}
	pod.Status = s
	return pod
}

// kubeEphemeral is an ephemeral container's spec as Kubernetes shows it:
// its image, command (resolved against the image), terminal and target,
// and the security context its debug profile gave it.
func kubeEphemeral(c sandbox.ContainerConfig) v1.EphemeralContainer {
	e := v1.EphemeralContainer{TargetContainerName: c.TargetContainer, EphemeralContainerCommon: v1.EphemeralContainerCommon{
		Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, WorkingDir: c.WorkingDir,
		Stdin: c.Stdin, TTY: c.TTY, TerminationMessagePolicy: v1.TerminationMessageReadFile,
	}}
	for _, v := range c.Env {
		if v.FieldPath == "" {
			e.Env = append(e.Env, v1.EnvVar{Name: v.Name, Value: v.Value})
		}
	}
	sc := &v1.SecurityContext{AllowPrivilegeEscalation: c.AllowPrivilegeEscalation}
	if c.Privileged {
		sc.Privileged = &c.Privileged
	}
	if c.RunAsNonRoot {
		sc.RunAsNonRoot = &c.RunAsNonRoot
	}
	if len(c.CapAdd) > 0 || len(c.CapDrop) > 0 {
		sc.Capabilities = &v1.Capabilities{}
		for _, a := range c.CapAdd {
			sc.Capabilities.Add = append(sc.Capabilities.Add, v1.Capability(a))
		}
		for _, d := range c.CapDrop {
			sc.Capabilities.Drop = append(sc.Capabilities.Drop, v1.Capability(d))
		}
	}
	if *sc != (v1.SecurityContext{}) {
		e.SecurityContext = sc
	}
	return e
}

// kubePhase maps podbox's phases onto Kubernetes': a pod stopped on
// request is Succeeded unless an app container had failed on its own (a
// non-zero exit that the stop did not cause), then Failed.
func kubePhase(st *sandbox.PodStatus) v1.PodPhase {
	if st.Phase != sandbox.PhaseStopped {
		return v1.PodPhase(st.Phase)
	}
	for _, cs := range st.Containers {
		if cs.ExitCode != 0 && cs.Reason != sandbox.ReasonStopped {
			return v1.PodFailed
		}
	}
	return v1.PodSucceeded
}

func kubeContainer(st *sandbox.PodStatus, cs sandbox.ContainerStatus, img, imageID string) v1.ContainerStatus {
	k := v1.ContainerStatus{
		Name: cs.Name, Image: img, ImageID: imageID, RestartCount: int32(cs.RestartCount),
		Ready: cs.Ready(), ContainerID: "podbox://" + st.Name + "/" + cs.Name,
	}
	started := cs.StartedProbe()
	k.Started = &started
	switch cs.State {
	case sandbox.StateRunning:
		k.State.Running = &v1.ContainerStateRunning{StartedAt: metav1.NewTime(cs.StartedAt)}
	case sandbox.StateWaiting:
		k.State.Waiting = &v1.ContainerStateWaiting{Reason: cs.Reason, Message: cs.Message}
	case sandbox.StateTerminated:
		k.State.Terminated = &v1.ContainerStateTerminated{
			ExitCode: int32(cs.ExitCode), Reason: cs.Reason, Message: cs.Message,
			StartedAt: metav1.NewTime(cs.StartedAt), FinishedAt: metav1.NewTime(cs.FinishedAt),
		}
	}
	if t := cs.LastTermination; t != nil {
		k.LastTerminationState.Terminated = &v1.ContainerStateTerminated{
			ExitCode: int32(t.ExitCode), Reason: t.Reason, Message: t.Message,
			StartedAt: metav1.NewTime(t.StartedAt), FinishedAt: metav1.NewTime(t.FinishedAt),
		}
	}
	return k
}

var inspectCommand = &cli.Command{
	Name:      "inspect",
	Usage:     "show what only the runtime knows about a pod (JSON, or a table with -o namespaces)",
	ArgsUsage: "NAME",
	Description: `Prints the pause PID, the pod's pinned namespaces and their inodes, a
hostUsers: false pod's range of host IDs (userNamespace: its uid_map), each
container's PID, namespace inodes (net, ipc, uts, pid, mnt), cgroup and seccomp
profile (RuntimeDefault, Unconfined or Localhost/FILE), the pod
cgroup with its memory limit and usage, memory events (oom, oom_kill) and
pressure stall information where the kernel has them, the veth and the log paths.

Example:
   podbox inspect web | jq .containers[].namespaces.net
   podbox inspect -o namespaces web`,
	Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "json, or namespaces (a table of namespace inodes)"}},
	Action: func(c *cli.Context) error {
		if c.NArg() != 1 {
			return errors.New("inspect: want one pod name (see podbox inspect --help)")
		}
		_, st, err := podStatus(c, c.Args().First())
		if err != nil {
			return err
		}
		out := inspect(st)
		switch c.String("output") {
		case "", "json":
			return printJSON(c, out)
		case "namespaces":
			return printNamespaces(c, out)
		}
		return fmt.Errorf("inspect: -o %q: want json or namespaces", c.String("output"))
	},
}

// printNamespaces shows which namespaces the pause and each container are
// in, by inode, and the pause's namespaces as the pod's.
func printNamespaces(c *cli.Context, out inspectOut) error {
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROCESS\tPID\tNET\tIPC\tUTS\tPID NS\tMNT\tUSER")
	pause := map[string]string{}
	for _, kind := range []string{"net", "ipc", "uts", "pid", "mnt", "user"} {
		if ino, err := namespaces.Inode("/proc/" + strconv.Itoa(out.PausePID) + "/ns/" + kind); err == nil {
			pause[kind] = strconv.FormatUint(ino, 10)
		}
	}
	fmt.Fprintf(tw, "pause\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", out.PausePID, pause["net"], pause["ipc"], pause["uts"], pause["pid"], pause["mnt"], pause["user"])
	for _, ct := range out.Containers {
		if ct.PID == 0 {
			fmt.Fprintf(tw, "%s\t-\t\t\t\t\t(%s)\n", ct.Name, ct.State)
			continue
		}
		n := ct.Namespaces
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", ct.Name, ct.PID, n["net"], n["ipc"], n["uts"], n["pid"], n["mnt"], n["user"])
	}
	return tw.Flush()
}

type inspectOut struct {
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
	LogDir     string `json:"logDir,omitempty"`
	Phase      string `json:"phase"`
	PodIP      string `json:"podIP,omitempty"`
	Veth       string `json:"veth,omitempty"`
	PausePID   int    `json:"pausePid"`
	MonitorPID int    `json:"monitorPid,omitempty"`
	// UserNamespace is a hostUsers: false pod's range of host IDs: its
	// uid_map and gid_map ("0 HOSTID 65536").
	UserNamespace *userNSInfo        `json:"userNamespace,omitempty"`
	Namespaces    map[string]nsInfo  `json:"namespaces"`
	Cgroup        cgroupInfo         `json:"cgroup"`
	Containers    []inspectContainer `json:"containers"`
	Volumes       []inspectVolume    `json:"volumes,omitempty"`
}

// inspectVolume is one of the pod's volumes: its kind (hostPath,
// emptyDir, files for configMap, secret, projected and downwardAPI,
// persistentVolumeClaim, image), its host path, and for a claim the named
// volume, for an image volume the image and what it resolved to.
type inspectVolume struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Path     string `json:"path,omitempty"`
	Claim    string `json:"claimName,omitempty"`
	Image    string `json:"image,omitempty"`
	ImageID  string `json:"imageID,omitempty"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

func inspectVolumes(st *sandbox.PodStatus) []inspectVolume {
	var out []inspectVolume
	for _, v := range st.Config.Volumes {
		iv := inspectVolume{Name: v.Name, Path: st.VolumePaths[v.Name]}
		switch {
		case v.HostPath != nil:
			iv.Kind = "hostPath"
		case v.EmptyDir != nil:
			iv.Kind = "emptyDir"
		case v.Files != nil:
			iv.Kind, iv.ReadOnly = "files", true
		case v.PersistentVolumeClaim != nil:
			iv.Kind, iv.Claim, iv.ReadOnly = "persistentVolumeClaim", v.PersistentVolumeClaim.ClaimName, v.PersistentVolumeClaim.ReadOnly
		case v.Image != nil:
			iv.Kind, iv.Image, iv.ImageID, iv.ReadOnly = "image", v.Image.Reference, v.Image.ImageID, true
		}
		out = append(out, iv)
	}
	return out
}

type userNSInfo struct {
	HostID uint32 `json:"hostID"`
	Size   uint32 `json:"size"`
	UIDMap string `json:"uidMap"`
	GIDMap string `json:"gidMap"`
}

type nsInfo struct {
	Path  string `json:"path,omitempty"`
	Inode uint64 `json:"inode"`
}

type cgroupInfo struct {
	Path string `json:"path"`
	// Version is the host's cgroup layout: v2, or v1 (the hybrid layout too).
	Version     string `json:"version"`
	MemoryLimit int64  `json:"memoryLimit"`
	MemoryUsage int64  `json:"memoryUsage"`
	// MemoryEvents are the kernel's counts by its own names: v2
	// memory.events (oom, oom_kill, ...), v1 memory.oom_control and failcnt.
	MemoryEvents map[string]uint64 `json:"memoryEvents,omitempty"`
	// Pressure is the pod cgroup's PSI (cpu, memory, io) where the kernel
	// reports it.
	Pressure map[string]*cgroups.PSIStats `json:"pressure,omitempty"`
}

type inspectContainer struct {
	Name         string            `json:"name"`
	Kind         string            `json:"kind"`
	State        string            `json:"state"`
	PID          int               `json:"pid,omitempty"`
	RestartCount int               `json:"restartCount"`
	Namespaces   map[string]uint64 `json:"namespaces,omitempty"`
	Cgroup       string            `json:"cgroup"`
	// Seccomp is the container's seccomp profile: RuntimeDefault,
	// Unconfined or Localhost/<file under --seccomp-root>.
	Seccomp string `json:"seccomp"`
	Log     string `json:"log,omitempty"`
}

func inspect(st *sandbox.PodStatus) inspectOut {
	out := inspectOut{
		Name: st.Name, UID: st.UID, LogDir: st.LogDir, Phase: string(st.Phase), PodIP: st.PodIP, Veth: st.HostVeth,
		PausePID: st.PausePID, MonitorPID: st.MonitorPID, Namespaces: map[string]nsInfo{},
		Volumes: inspectVolumes(st),
	}
	for kind, path := range st.Namespaces {
		ino, _ := namespaces.Inode(path)
		out.Namespaces[kind] = nsInfo{Path: path, Inode: ino}
	}
	if u := st.UserNamespace; u != nil {
		out.UserNamespace = &userNSInfo{HostID: u.HostID, Size: u.Size, UIDMap: u.String(), GIDMap: u.String()}
	}
	pod := cgroups.LoadPod(st.CgroupPath)
	limit, usage, _ := pod.Memory()
	out.Cgroup = cgroupInfo{Path: st.CgroupPath, Version: "v1", MemoryLimit: limit, MemoryUsage: usage}
	if cgroups.IsV2() {
		out.Cgroup.Version = "v2"
	}
	out.Cgroup.MemoryEvents, _ = pod.MemoryEvents()
	out.Cgroup.Pressure, _ = pod.Pressure()
	seccomp := map[string]string{}
	for _, list := range [][]sandbox.ContainerConfig{st.Config.InitContainers, st.Config.Containers, st.Config.EphemeralContainers} {
		for _, c := range list {
			seccomp[c.Name] = c.SeccompDescription()
		}
	}
	for _, list := range [][]sandbox.ContainerStatus{st.InitContainers, st.Containers, st.EphemeralContainers} {
		for _, cs := range list {
			ic := inspectContainer{Name: cs.Name, Kind: string(cs.Kind), State: string(cs.State), RestartCount: cs.RestartCount, Cgroup: cs.CgroupPath,
				Seccomp: seccomp[cs.Name], Log: cs.LogPath}
			if cs.State == sandbox.StateRunning {
				ic.PID = cs.PID
				ic.Namespaces = map[string]uint64{}
				for _, kind := range []string{"net", "ipc", "uts", "pid", "mnt", "user"} {
					if ino, err := namespaces.Inode("/proc/" + strconv.Itoa(cs.PID) + "/ns/" + kind); err == nil {
						ic.Namespaces[kind] = ino
					}
				}
			}
			out.Containers = append(out.Containers, ic)
		}
	}
	return out
}
