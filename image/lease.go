package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Lease keeps content in the store while a pod runs from it, as a
// containerd lease does: the layers it lists are never collected, and
// Remove refuses an image it names.
type Lease struct {
	// Pod names the holder in messages ("default/web").
	Pod string `json:"pod"`
	// Images are the images the pod was resolved from.
	Images []LeasedImage `json:"images"`
	// Layers are the chain IDs the pod's root filesystems stack.
	Layers []string `json:"layers"`
}

// LeasedImage is an image as a lease names it: its name and ID then.
type LeasedImage struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

var leaseKeyRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

func (s *Store) leasePath(key string) (string, error) {
	if !leaseKeyRE.MatchString(key) || key[0] == '.' {
		return "", fmt.Errorf("lease key %q: want 1 to 128 of [A-Za-z0-9_.-], not starting with '.'", key)
	}
	return filepath.Join(s.root, "leases", key+".json"), nil
}

// AddLease records (or replaces) the lease key on images: their layers
// stay in the store until Release(key). Leasing an image that is no
// longer in the store (removed meanwhile) is an error wrapping ErrNotFound.
func (s *Store) AddLease(key, pod string, imgs ...*Image) error {
	p, err := s.leasePath(key)
	if err != nil {
		return err
	}
	l := Lease{Pod: pod}
	seen := map[string]bool{}
	for _, img := range imgs {
		l.Images = append(l.Images, LeasedImage{Name: img.Name, ID: img.ID})
		for _, c := range img.Layers {
			if !seen[c] {
				seen[c] = true
				l.Layers = append(l.Layers, c)
			}
		}
	}
	data, err := json.MarshalIndent(&l, "", "  ")
	if err != nil {
		return err
	}
	// Shared: no collection runs while the lease is written and checked.
	unlock, err := s.lockShared(context.Background())
	if err != nil {
		return fmt.Errorf("lease images for pod %s: %w", pod, err)
	}
	defer unlock()
	if err := writeFileAtomic(p, data); err != nil {
		return fmt.Errorf("lease images for pod %s: %w", pod, err)
	}
	// A collection that ran between the caller's Get and the lease may
	// have taken a layer: look again now that the lease protects them.
	for _, c := range l.Layers {
		if _, err := s.readLayer(c); err != nil {
			os.Remove(p)
			return fmt.Errorf("lease images for pod %s: layer %s: %w (image removed meanwhile)", pod, c, ErrNotFound)
		}
	}
	return nil
}

// Release drops the lease key; its content goes at the next collection
// unless an image or another lease holds it. A missing lease is no error.
func (s *Store) Release(key string) error {
	p, err := s.leasePath(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("release image lease %q: %w", key, err)
	}
	s.collect(false)
	return nil
}

// leases reads every lease.
func (s *Store) leases() ([]Lease, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "leases"))
	if err != nil {
		return nil, fmt.Errorf("read image leases: %w", err)
	}
	var out []Lease
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || e.Name()[0] == '.' {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.root, "leases", e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read image lease %s: %w", e.Name(), err)
		}
		var l Lease
		if err := json.Unmarshal(data, &l); err != nil {
			return nil, fmt.Errorf("read image lease %s: %w", e.Name(), err)
		}
		out = append(out, l)
	}
	return out, nil
}

// Users returns the pods whose lease names img (by name and ID), sorted.
func (s *Store) Users(img *Image) ([]string, error) {
	leases, err := s.leases()
	if err != nil {
		return nil, err
	}
	var pods []string
	for _, l := range leases {
		for _, li := range l.Images {
			if li.Name == img.Name && li.ID == img.ID {
				pods = append(pods, l.Pod)
				break
			}
		}
	}
	sort.Strings(pods)
	return pods, nil
}
