package image

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// ResolveUser is the uid and gid of a container's process the way
// containerd sets them for a Kubernetes pod: uid (runAsUser), else the
// image's USER ("name", "uid", "name:group", "uid:gid") looked up in the
// image's /etc/passwd; gid (runAsGroup), else the group USER names (in
// /etc/group), else the user's primary group in /etc/passwd, else nil.
// rootfs is the image's root (Store.View); its files are resolved inside
// it, so a symlink in the image can not lead out.
func ResolveUser(rootfs, imageUser string, uid, gid *int64) (*int64, *int64, error) {
	user, group, _ := strings.Cut(imageUser, ":")
	if uid == nil && user != "" {
		id, err := lookupID(rootfs, "etc/passwd", user)
		if err != nil {
			return nil, nil, fmt.Errorf("image user %q: %w", imageUser, err)
		}
		uid = &id
	}
	if gid == nil && group != "" && uid != nil {
		id, err := lookupID(rootfs, "etc/group", group)
		if err != nil {
			return nil, nil, fmt.Errorf("image user %q: %w", imageUser, err)
		}
		gid = &id
	}
	if gid == nil && uid != nil {
		if id, ok := primaryGroup(rootfs, *uid); ok {
			gid = &id
		}
	}
	return uid, gid, nil
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

// UserGroups returns the groups that name uid's user (its name in the
// image's /etc/passwd) as a member in the image's /etc/group, as
// containerd adds them to a container's supplementary groups (Kubernetes'
// supplementalGroupsPolicy Merge). None when the image has no such user.
func UserGroups(rootfs string, uid int64) []int64 {
	var name string
	eachEntry(rootfs, "etc/passwd", func(f []string) bool {
		if f[2] == strconv.FormatInt(uid, 10) {
			name = f[0]
			return false
		}
		return true
	})
	if name == "" {
		return nil
	}
	var gids []int64
	eachEntry(rootfs, "etc/group", func(f []string) bool {
		if len(f) < 4 {
			return true
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == name {
				if gid, err := strconv.ParseInt(f[2], 10, 64); err == nil {
					gids = append(gids, gid)
				}
				break
			}
		}
		return true
	})
	return gids
}
