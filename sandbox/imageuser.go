package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// resolveUser fills a container's uid and gid the way containerd does for a
// Kubernetes pod: runAsUser, else the image's USER ("name", "uid",
// "name:group", "uid:gid"); runAsGroup, else the group USER names, else the
// user's primary group in the image's /etc/passwd, else 0.
func resolveUser(rootfs, imageUser string, c *ContainerConfig) error {
	user, group, _ := strings.Cut(imageUser, ":")
	if c.UID == nil && user != "" {
		uid, err := lookupID(rootfs, "etc/passwd", user)
		if err != nil {
			return fmt.Errorf("image user %q: %w", imageUser, err)
		}
		c.UID = &uid
	}
	if c.GID == nil && group != "" && c.UID != nil {
		gid, err := lookupID(rootfs, "etc/group", group)
		if err != nil {
			return fmt.Errorf("image user %q: %w", imageUser, err)
		}
		c.GID = &gid
	}
	if c.GID == nil && c.UID != nil {
		if gid, ok := primaryGroup(rootfs, *c.UID); ok {
			c.GID = &gid
		}
	}
	return nil
}

// lookupID returns the id of name in the image's passwd or group file; a
// number is its own id.
func lookupID(rootfs, file, name string) (int64, error) {
	if id, err := strconv.ParseInt(name, 10, 64); err == nil {
		return id, nil
	}
	var id int64
	found := false
	err := eachEntry(rootfs, file, func(f []string) bool {
		if f[0] == name {
			id, _ = strconv.ParseInt(f[2], 10, 64)
			found = true
			return false
		}
		return true
	})
	if err == nil && !found {
		err = fmt.Errorf("no %q in the image's /%s", name, file)
	}
	return id, err
}

// primaryGroup is uid's group in the image's /etc/passwd.
func primaryGroup(rootfs string, uid int64) (int64, bool) {
	var gid int64
	found := false
	eachEntry(rootfs, "etc/passwd", func(f []string) bool {
		if len(f) > 3 && f[2] == strconv.FormatInt(uid, 10) {
			gid, _ = strconv.ParseInt(f[3], 10, 64)
			found = true
			return false
		}
		return true
	})
	return gid, found
}

// eachEntry calls fn with the colon-separated fields of each line of an
// image's file, resolved inside the image (a symlink can not lead out).
func eachEntry(rootfs, file string, fn func([]string) bool) error {
	p, err := securejoin.SecureJoin(rootfs, file)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Split(sc.Text(), ":"); len(fields) >= 3 && !fn(fields) {
			return nil
		}
	}
	return sc.Err()
}
