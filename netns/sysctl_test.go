package netns

import (
	"errors"
	"testing"
)

func TestValidateSysctl(t *testing.T) {
	for _, ok := range []string{
		"net.ipv4.ip_unprivileged_port_start", "net.ipv4.conf.eth0.forwarding",
		"net/ipv4/conf/eth0.100/forwarding", "kernel.shmmax", "kernel.shm_rmid_forced",
		"kernel.msgmax", "kernel.sem", "fs.mqueue.msg_max",
	} {
		if err := ValidateSysctl(ok); err != nil {
			t.Errorf("ValidateSysctl(%q): %v", ok, err)
		}
	}
	for _, host := range []string{"kernel.pid_max", "vm.swappiness", "kernel.semx", "fs.file-max", "kernel.hostname"} {
		err := ValidateSysctl(host)
		if !errors.Is(err, ErrNotNamespaced) {
			t.Errorf("ValidateSysctl(%q) = %v, want ErrNotNamespaced", host, err)
		} else if want := `sysctl "` + host + `"`; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
			t.Errorf("error %q does not name the key", err)
		}
	}
	for _, bad := range []string{"", "net", "net..ipv4", "net.ipv4.", "net/../kernel/x", "net.a b"} {
		if err := ValidateSysctl(bad); err == nil {
			t.Errorf("ValidateSysctl(%q) accepted", bad)
		}
	}
}

func TestSysctlPath(t *testing.T) {
	cases := map[string]string{
		"net.ipv4.ip_forward":               "net/ipv4/ip_forward",
		"net/ipv4/conf/eth0.100/forwarding": "net/ipv4/conf/eth0.100/forwarding",
		"net.ipv4.conf.eth0/100.forwarding": "net/ipv4/conf/eth0.100/forwarding",
		"kernel.shmmax":                     "kernel/shmmax",
	}
	for name, want := range cases {
		if got := sysctlPath(name); got != want {
			t.Errorf("sysctlPath(%q) = %q, want %q", name, got, want)
		}
	}
	if got := NormalizeSysctl("net/ipv4/conf/eth0.100/forwarding"); got != "net.ipv4.conf.eth0/100.forwarding" {
		t.Errorf("NormalizeSysctl = %q", got)
	}
}

func TestApplySysctlsRefusesHostNamespaces(t *testing.T) {
	err := ApplySysctls("", "/nonexistent", []Sysctl{{Name: "net.ipv4.ip_forward", Value: "1"}})
	if !errors.Is(err, ErrNotNamespaced) {
		t.Errorf("net.* with host network: %v, want ErrNotNamespaced", err)
	}
	err = ApplySysctls("/nonexistent", "", []Sysctl{{Name: "kernel.shmmax", Value: "1"}})
	if !errors.Is(err, ErrNotNamespaced) {
		t.Errorf("kernel.shmmax with host IPC: %v, want ErrNotNamespaced", err)
	}
	err = ApplySysctls("/nonexistent", "/nonexistent", []Sysctl{{Name: "vm.swappiness", Value: "1"}})
	if !errors.Is(err, ErrNotNamespaced) {
		t.Errorf("vm.swappiness: %v, want ErrNotNamespaced", err)
	}
}
