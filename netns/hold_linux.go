package netns

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// HoldPorts binds a socket on the host for each of a pod's hostPorts (TCP
// listening, UDP bound; SCTP is not held), in the calling thread's network
// namespace, as the kubelet's hostport manager held them: while the sockets
// live, no other process of the host, and no other pod of any podbox on it,
// can take those ports. The nftables rules still send the traffic to the pod
// before it would reach a socket. Give the files to the process that lives
// as long as the pod (the pause), then close them here.
//
// A port already in use is ErrPortConflict, naming the port and, where it
// can be found, the process that holds it.
func HoldPorts(ports []PortMapping) (_ []*os.File, retErr error) {
	var held []*os.File
	defer func() {
		if retErr != nil {
			for _, f := range held {
				f.Close()
			}
		}
	}()
	for _, m := range ports {
		_, proto, err := m.ipProto()
		if err != nil {
			return nil, err
		}
		if proto == "sctp" {
			continue
		}
		f, err := holdPort(m, proto)
		if err != nil {
			return nil, err
		}
		held = append(held, f)
	}
	return held, nil
}

func holdPort(m PortMapping, proto string) (*os.File, error) {
	typ := unix.SOCK_STREAM
	if proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("hold hostPort %s: %w", m.hostSide(), err)
	}
	sa := &unix.SockaddrInet4{Port: int(m.HostPort)}
	if m.hasHostIP() {
		sa.Addr = m.HostIP.As4()
	}
	err = unix.Bind(fd, sa)
	if err == nil && typ == unix.SOCK_STREAM {
		err = unix.Listen(fd, 1)
	}
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			return nil, fmt.Errorf("hostPort %s: %w: in use on the host%s", m.hostSide(), ErrPortConflict, portOwner(proto, m.HostPort))
		}
		return nil, fmt.Errorf("hold hostPort %s: %w", m.hostSide(), err)
	}
	return os.NewFile(uintptr(fd), "hostport "+m.hostSide()), nil
}

// portOwner names the process holding a socket on the local port, as
// " by pid 1234 (nginx)", or "" when it cannot be found: the socket's inode
// from /proc/net/{tcp,udp}[6], then the process that has it open.
func portOwner(proto string, port uint16) string {
	inodes := map[string]bool{}
	for _, file := range []string{proto, proto + "6"} {
		f, err := os.Open("/proc/net/" + file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			// "sl local_address rem_address st ... uid timeout inode"
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			p, err := strconv.ParseUint(hexPort, 16, 16)
			// TCP: only listeners (state 0A) hold the port for bind.
			if ok && err == nil && uint16(p) == port && (proto != "tcp" || fields[3] == "0A") {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		f.Close()
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd")
	for _, fdDir := range procs {
		ents, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if link, err := os.Readlink(filepath.Join(fdDir, e.Name())); err == nil && inodes[link] {
				pid := filepath.Base(filepath.Dir(fdDir))
				comm, _ := os.ReadFile("/proc/" + pid + "/comm")
				who := " by pid " + pid + " (" + strings.TrimSpace(string(comm)) + ")"
				// podbox's pause is "podbox-pause:<state root>/pods/<ns>_<pod>".
				if cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil {
					argv0, _, _ := strings.Cut(string(cmdline), "\x00")
					if dir, ok := strings.CutPrefix(argv0, "podbox-pause:"); ok {
						who += ", the pause of pod " + strings.Replace(filepath.Base(dir), "_", "/", 1) + " of the podbox state root " + filepath.Dir(filepath.Dir(dir))
					}
				}
				return who
			}
		}
	}
	return ""
}
