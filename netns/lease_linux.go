package netns

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Lease is one pod's hold on an address, persisted as
// StateDir/leases/<IP> (JSON), so it survives the process that made it.
type Lease struct {
	Pod      string     `json:"pod"`
	IP       netip.Addr `json:"ip"`
	HostVeth string     `json:"hostVeth"`
	Netns    string     `json:"netns"`
	Created  time.Time  `json:"created"`
	// Torn says why the lease file could not be read (a crash, a full
	// disk): its address, from the file's name, stays held, as some pod
	// may use it, and the rest of the network works on.
	Torn string `json:"-"`
}

// leaseStore is the lease directory. Every read-modify-write runs under an
// exclusive flock on StateDir/lock, which serialises goroutines and
// processes alike (each open file description is its own lock holder).
type leaseStore struct {
	dir string // StateDir
}

func (s leaseStore) leaseDir() string { return filepath.Join(s.dir, "leases") }

// locked runs fn while holding the store's lock.
func (s leaseStore) locked(fn func() error) error {
	if err := os.MkdirAll(s.leaseDir(), 0o700); err != nil {
		return fmt.Errorf("create lease directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("open lease lock: %w", err)
	}
	defer f.Close() // closing the last descriptor drops the lock
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return fn()
}

// list reads every lease, sorted by address. Call it under the lock when
// the answer decides a write.
func (s leaseStore) list() ([]Lease, error) {
	ents, err := os.ReadDir(s.leaseDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	var out []Lease
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue // a temporary file of an interrupted write
		}
		data, err := os.ReadFile(filepath.Join(s.leaseDir(), e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // released since ReadDir
		}
		if err != nil {
			return nil, fmt.Errorf("read lease %q: %w", e.Name(), err)
		}
		var l Lease
		if err := json.Unmarshal(data, &l); err != nil || l.Pod == "" || l.IP.String() != e.Name() {
			ip, perr := netip.ParseAddr(e.Name())
			if perr != nil {
				continue // not a lease: nothing to hold
			}
			if err == nil {
				err = errors.New("no pod, or another address than its name")
			}
			out = append(out, Lease{IP: ip, Torn: fmt.Sprintf("lease file %s is unreadable (%v): address %s is held; remove the file once no pod uses it",
				filepath.Join(s.leaseDir(), e.Name()), err, ip)})
			continue
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out, nil
}

// find returns pod's lease, or ErrNotExist.
func (s leaseStore) find(pod string) (Lease, error) {
	all, err := s.list()
	if err != nil {
		return Lease{}, err
	}
	for _, l := range all {
		if l.Torn == "" && l.Pod == pod {
			return l, nil
		}
	}
	return Lease{}, fmt.Errorf("lease of pod %q: %w", pod, ErrNotExist)
}

// allocate picks the next free address of p for l.Pod, writes the lease and
// returns it with IP set. The pod must not hold a lease yet (ErrExist).
// Call it under the lock.
func (s leaseStore) allocate(p pool, l Lease) (Lease, error) {
	all, err := s.list()
	if err != nil {
		return Lease{}, err
	}
	used := make(map[netip.Addr]bool, len(all))
	for _, o := range all {
		if o.Pod == l.Pod {
			return Lease{}, fmt.Errorf("lease of pod %q (%s): %w", l.Pod, o.IP, ErrExist)
		}
		used[o.IP] = true
	}
	prev, _ := netip.ParseAddr(strings.TrimSpace(readString(filepath.Join(s.dir, "last-reserved"))))
	ip, err := p.next(prev, used)
	if err != nil {
		return Lease{}, err
	}
	l.IP = ip
	data, err := json.Marshal(l)
	if err != nil {
		return Lease{}, err
	}
	if err := writeAtomic(filepath.Join(s.leaseDir(), ip.String()), data); err != nil {
		return Lease{}, fmt.Errorf("write lease of pod %q: %w", l.Pod, err)
	}
	if err := writeAtomic(filepath.Join(s.dir, "last-reserved"), []byte(ip.String()+"\n")); err != nil {
		return Lease{}, fmt.Errorf("write lease of pod %q: %w", l.Pod, err)
	}
	return l, nil
}

// release removes the lease file of ip; a missing one is not an error.
func (s leaseStore) release(ip netip.Addr) error {
	err := os.Remove(filepath.Join(s.leaseDir(), ip.String()))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release lease %s: %w", ip, err)
	}
	return nil
}

func readString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// writeAtomic writes data to a temporary file beside path and renames it
// over path, so a reader never sees half a file.
func writeAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
