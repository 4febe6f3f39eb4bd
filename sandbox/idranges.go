package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/namespaces"
)

// DefaultIDRangeDir is where the host IDs given to pods' user namespaces
// are recorded: one directory for the whole host, whatever the state root,
// as the pod network's leases are, so that two podbox (or two state roots)
// never give one range to two pods.
const DefaultIDRangeDir = "/run/podbox/userns"

// UserNSSize is how many IDs a pod's user namespace maps: 65536, as the
// kubelet gives each pod (container IDs 0-65535).
const UserNSSize = 65536

// IDRange is the host IDs a pod's user namespace maps: container ID 0 (its
// root) is HostID on the host, and so on for Size IDs. UIDs and GIDs get the
// same range.
type IDRange struct {
	HostID uint32 `json:"hostID"`
	Size   uint32 `json:"size"`
}

// String is the range as uid_map shows it: "0 HOSTID SIZE".
func (r IDRange) String() string { return fmt.Sprintf("0 %d %d", r.HostID, r.Size) }

// idRecord is one range's holder, kept as <dir>/ranges/<hostID> (JSON). A
// record whose pod's user namespace is no longer pinned and whose creator
// is gone belongs to a pod removed without podbox (a crash, a state root
// wiped): the next allocation takes it back.
type idRecord struct {
	Pod     string `json:"pod"`
	UID     string `json:"uid"`
	Root    string `json:"root"`
	UserNS  string `json:"userns"`
	Creator int    `json:"creator"`
	// CreatorStart tells the creator from a process that reused its PID.
	CreatorStart uint64    `json:"creatorStart"`
	Created      time.Time `json:"created"`
}

// idAllocator hands out ranges of UserNSSize host IDs from its pool,
// skipping the subordinate IDs other users own (/etc/subuid, /etc/subgid).
type idAllocator struct {
	dir string
	// first and end bound the pool: [first, end), multiples of UserNSSize.
	first, end int64
	// taken are other users' subordinate ranges, [start, end).
	taken [][2]int64
}

// newIDAllocator reads the pool: the range /etc/subuid and /etc/subgid give
// the user "podbox" (the kubelet takes its own from the user "kubelet"),
// else every range above the host's first 65536 IDs that no other user's
// subordinate IDs touch, up to 2^32-65536.
func newIDAllocator(dir string) (*idAllocator, error) {
	a := &idAllocator{dir: dir, first: UserNSSize, end: 1<<32 - UserNSSize}
	var own [][2]int64
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		entries, err := readSubIDs(f)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.name == "podbox" {
				own = append(own, [2]int64{e.start, e.start + e.count})
			} else {
				a.taken = append(a.taken, [2]int64{e.start, e.start + e.count})
			}
		}
	}
	if len(own) > 0 {
		if len(own) != 2 || own[0] != own[1] {
			return nil, errors.New("user namespaces: /etc/subuid and /etc/subgid must give the user podbox one and the same range")
		}
		r := own[0]
		if r[0]%UserNSSize != 0 || r[1]%UserNSSize != 0 || r[0] == 0 || r[1] > 1<<32 {
			return nil, fmt.Errorf("user namespaces: the podbox range %d-%d of /etc/subuid must start above 0 and start and end on multiples of %d", r[0], r[1], UserNSSize)
		}
		a.first, a.end = r[0], r[1]
	}
	return a, nil
}

type subID struct {
	name         string
	start, count int64
}

// readSubIDs reads a subordinate ID file (name:start:count lines); a
// missing file is empty.
func readSubIDs(path string) ([]subID, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("user namespaces: %w", err)
	}
	defer f.Close()
	var out []subID
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != 3 {
			continue
		}
		start, err1 := strconv.ParseInt(parts[1], 10, 64)
		count, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 != nil || err2 != nil || start < 0 || count <= 0 {
			continue
		}
		out = append(out, subID{parts[0], start, count})
	}
	return out, sc.Err()
}

func (a *idAllocator) rangesDir() string { return filepath.Join(a.dir, "ranges") }

// locked runs fn under an exclusive flock of <dir>/lock, which serialises
// every podbox process on the host.
func (a *idAllocator) locked(fn func() error) error {
	if err := os.MkdirAll(a.rangesDir(), 0o700); err != nil {
		return fmt.Errorf("user namespace ranges: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(a.dir, "lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("user namespace ranges: %w", err)
	}
	defer f.Close()
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("user namespace ranges: lock: %w", err)
	}
	return fn()
}

// records reads the records, by host ID. A record that can not be read
// keeps its range held (some pod may use it).
func (a *idAllocator) records() (map[int64]*idRecord, error) {
	ents, err := os.ReadDir(a.rangesDir())
	if err != nil {
		return nil, fmt.Errorf("user namespace ranges: %w", err)
	}
	out := map[int64]*idRecord{}
	for _, e := range ents {
		id, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil {
			continue // a temporary file of an interrupted write
		}
		rec := &idRecord{}
		b, err := os.ReadFile(filepath.Join(a.rangesDir(), e.Name()))
		if err != nil || json.Unmarshal(b, rec) != nil {
			rec = nil
		}
		out[id] = rec
	}
	return out, nil
}

// inUse says whether a record's pod may still exist: its user namespace is
// pinned, or the process that is creating it lives.
func (r *idRecord) inUse() bool {
	if r == nil {
		return true
	}
	return namespaces.IsPinned(r.UserNS) || (r.Creator > 0 && alive(r.Creator, r.CreatorStart))
}

// allocate records rec on the lowest free range and returns it. Ranges
// whose pods are gone (see idRecord) are taken back first.
func (a *idAllocator) allocate(rec idRecord) (IDRange, error) {
	var got IDRange
	err := a.locked(func() error {
		recs, err := a.records()
		if err != nil {
			return err
		}
		for id, r := range recs {
			if !r.inUse() {
				os.Remove(filepath.Join(a.rangesDir(), strconv.FormatInt(id, 10)))
				delete(recs, id)
			}
		}
	next:
		for base := a.first; base+UserNSSize <= a.end; base += UserNSSize {
			if _, used := recs[base]; used {
				continue
			}
			for _, t := range a.taken {
				if base < t[1] && t[0] < base+UserNSSize {
					continue next
				}
			}
			b, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			if err := writeFileAtomic(filepath.Join(a.rangesDir(), strconv.FormatInt(base, 10)), b); err != nil {
				return fmt.Errorf("user namespace ranges: %w", err)
			}
			got = IDRange{HostID: uint32(base), Size: UserNSSize}
			return nil
		}
		return fmt.Errorf("user namespaces: no free range of %d IDs left in %d-%d (%d pods hold one)", UserNSSize, a.first, a.end, len(recs))
	})
	return got, err
}

// release frees the range at hostID when the pod of UID uid holds it.
func (a *idAllocator) release(hostID uint32, uid string) error {
	return a.locked(func() error {
		p := filepath.Join(a.rangesDir(), strconv.FormatUint(uint64(hostID), 10))
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("user namespace ranges: %w", err)
		}
		var rec idRecord
		if json.Unmarshal(b, &rec) == nil && rec.UID != uid {
			return nil // taken back and given to another pod since
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("user namespace ranges: %w", err)
		}
		return nil
	})
}
