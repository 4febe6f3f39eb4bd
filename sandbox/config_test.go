package sandbox

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
)

func validPod() *PodConfig {
	return &PodConfig{Name: "web", Containers: []ContainerConfig{{Name: "c", Rootfs: "/img", Command: []string{"sh"}}}}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	root := int64(0)
	p := validPod()
	p.Name = "Web_1"
	p.Volumes = []Volume{{Name: "v"}}
	p.InitContainers = []ContainerConfig{{Name: "c", Rootfs: "img", Command: []string{"true"}}}
	p.Containers = append(p.Containers, ContainerConfig{
		Name: "pause", Rootfs: "/img", Command: []string{"sh"}, RunAsNonRoot: true, UID: &root,
		VolumeMounts:       []VolumeMount{{Name: "logs", Target: "/logs"}},
		RestartPolicyRules: []RestartRule{{Action: "Restart"}},
	})
	err := p.Validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{
		`name: "Web_1" is not a DNS-1123 label`,
		`volumes[0]: volume "v" has no source (hostPath, emptyDir, configMap, secret, downwardAPI, projected, persistentVolumeClaim or image)`,
		`initContainers[0].rootfs: "img" is not an absolute path`,
		`containers[0].name: container name "c" is already used by initContainers[0]`,
		`containers[1].restartPolicyRules: a container with restart rules needs its own restartPolicy`,
		`containers[1].restartPolicyRules[0].exitCodes: is required`,
		`containers[1].volumeMounts[0].name: volume "logs" is not defined`,
		`containers[1].runAsNonRoot: the container would run as root`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if err := validPod().Validate(); err != nil {
		t.Errorf("a valid pod: %v", err)
	}
	// A container may be named pause (the pause's cgroup is "_pause").
	if strings.Contains(err.Error(), "pause") {
		t.Errorf("a container named pause is refused:\n%v", err)
	}
}

func TestRestartRuleMatches(t *testing.T) {
	in := RestartRule{Action: RuleRestart, ExitCodes: &ExitCodeRule{Operator: RuleIn, Values: []int32{1, 42}}}
	notIn := RestartRule{Action: RuleRestart, ExitCodes: &ExitCodeRule{Operator: RuleNotIn, Values: []int32{0}}}
	for _, tc := range []struct {
		r    RestartRule
		code int
		want bool
	}{{in, 42, true}, {in, 2, false}, {notIn, 0, false}, {notIn, 137, true}, {RestartRule{Action: RuleRestart}, 1, false}} {
		if got := tc.r.matches(tc.code); got != tc.want {
			t.Errorf("%+v matches %d = %v", tc.r, tc.code, got)
		}
	}
}

func TestHardeningDefaults(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name    string
		ctr     ContainerConfig
		wantNNP bool
		wantCap string // present
		noCap   string // absent
	}{
		{name: "default", ctr: ContainerConfig{}, wantNNP: true, wantCap: "CAP_NET_BIND_SERVICE", noCap: "CAP_SYS_ADMIN"},
		{name: "escalation allowed", ctr: ContainerConfig{AllowPrivilegeEscalation: &yes}, wantNNP: false, noCap: "CAP_SYS_ADMIN"},
		{name: "escalation refused", ctr: ContainerConfig{AllowPrivilegeEscalation: &no}, wantNNP: true},
		{name: "privileged", ctr: ContainerConfig{Privileged: true}, wantNNP: false, wantCap: "CAP_SYS_ADMIN"},
		{name: "add and drop", ctr: ContainerConfig{CapAdd: []string{"net_admin"}, CapDrop: []string{"CAP_CHOWN"}}, wantNNP: true, wantCap: "CAP_NET_ADMIN", noCap: "CAP_CHOWN"},
		{name: "drop all", ctr: ContainerConfig{CapDrop: []string{"ALL"}, CapAdd: []string{"KILL"}}, wantNNP: true, wantCap: "CAP_KILL", noCap: "CAP_CHOWN"},
	} {
		c := libcontainerConfig(containerSpec{ctr: &tc.ctr, podNS: map[configs.NamespaceType]string{configs.NEWNET: "/ns/net"}})
		if c.NoNewPrivileges != tc.wantNNP {
			t.Errorf("%s: no_new_privs = %v", tc.name, c.NoNewPrivileges)
		}
		caps := c.Capabilities.Bounding
		if tc.wantCap != "" && !slices.Contains(caps, tc.wantCap) {
			t.Errorf("%s: %s missing from %v", tc.name, tc.wantCap, caps)
		}
		if tc.noCap != "" && slices.Contains(caps, tc.noCap) {
			t.Errorf("%s: %s in %v", tc.name, tc.noCap, caps)
		}
		if tc.ctr.Privileged != (len(c.MaskPaths) == 0) {
			t.Errorf("%s: masked paths %v", tc.name, c.MaskPaths)
		}
		// The pod's net namespace is joined by path; the mount and PID
		// namespaces are the container's own.
		if p := c.Namespaces.PathOf(configs.NEWNET); p != "/ns/net" {
			t.Errorf("%s: net namespace %q", tc.name, p)
		}
		if !c.Namespaces.Contains(configs.NEWNS) || c.Namespaces.PathOf(configs.NEWNS) != "" {
			t.Errorf("%s: no private mount namespace", tc.name)
		}
	}
}

func TestCPUResources(t *testing.T) {
	c := libcontainerConfig(containerSpec{ctr: &ContainerConfig{CPULimitMillis: 500, CPURequestMillis: 250}})
	r := c.Cgroups.Resources
	if r.CpuQuota != 50000 || r.CpuPeriod != 100000 || r.CpuShares != 256 {
		t.Errorf("500m limit, 250m request: quota %d period %d shares %d", r.CpuQuota, r.CpuPeriod, r.CpuShares)
	}
	c = libcontainerConfig(containerSpec{ctr: &ContainerConfig{CPURequestMillis: 1}})
	if r := c.Cgroups.Resources; r.CpuQuota != 0 || r.CpuShares != 2 {
		t.Errorf("1m request: quota %d shares %d", r.CpuQuota, r.CpuShares)
	}
}

// Kubernetes' $(VAR) expansion: env values refer to the variables before
// them, command and args to all; $$ is $; what is not defined stays.
func TestExpansion(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	for in, want := range map[string]string{
		"$(A)-$(B)":     "1-two",
		"$$(A)":         "$(A)",
		"$(C) $(A":      "$(C) $(A",
		"cost: $5 $":    "cost: $5 $",
		"$$$(A)":        "$1",
		"no refs":       "no refs",
		"$(A)$(A)$(B)x": "11twox",
	} {
		if got := expandRefs(in, vars); got != want {
			t.Errorf("expandRefs(%q) = %q, want %q", in, got, want)
		}
	}
	c := &ContainerConfig{
		Command: []string{"echo", "$(GREETING) $(NAME)", "$(PATH)"}, ExpandCommand: true,
		Env: []EnvVar{
			{Name: "PATH", Value: "/bin"},
			{Name: "NAME", Value: "$(LATER)", Expand: true},
			{Name: "GREETING", Value: "hi $(NAME)", Expand: true},
			{Name: "LATER", Value: "x"},
			{Name: "RAW", Value: "$(NAME)"},
		},
	}
	st := &PodStatus{}
	env := envList(c.Env, st)
	want := []string{"PATH=/bin", "NAME=$(LATER)", "GREETING=hi $(LATER)", "LATER=x", "RAW=$(NAME)"}
	if !slices.Equal(env, want) {
		t.Errorf("env = %q, want %q", env, want)
	}
	if argv := c.expandedArgv(st); !slices.Equal(argv, []string{"echo", "hi $(LATER) $(LATER)", "/bin"}) {
		t.Errorf("argv = %q", argv)
	}
	c.ExpandCommand = false
	if argv := c.expandedArgv(st); argv[1] != "$(GREETING) $(NAME)" {
		t.Errorf("argv without ExpandCommand = %q", argv)
	}
}
