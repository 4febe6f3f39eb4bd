// Package image is podbox's local image store: it imports images from the
// local disk (never the network) and resolves the `image:` of a pod's
// containers to a root filesystem directory.
//
// An image is imported from a root filesystem directory, a root filesystem
// tarball (plain or gzip), an OCI image layout (a directory, or a tar of
// one) or a `docker save` archive; Import tells which by looking. OCI and
// docker layers are applied in order with their whiteouts (".wh.NAME"
// deletes NAME, ".wh..wh..opq" empties a directory of what lower layers put
// there). The result is one flat directory per image, meant as the read-only
// lower layer of a container's overlay.
//
// Extraction never writes outside the image's root filesystem. Every
// member is created relative to a file descriptor of the root, never
// through a joined path: its parent directories are looked up one
// component at a time without letting the kernel follow a symlink (a
// symlink's text is resolved again inside the root, as openat2(2) with
// RESOLVE_IN_ROOT would, so an absolute or "../.." target stays inside),
// and the last component is made with mkdirat, openat(O_EXCL|O_NOFOLLOW),
// symlinkat, linkat or mknodat. Refused, with an error naming the layer
// and the member: a member naming the root itself that is not a directory
// (a directory member "./" only sets the root's mode, owner and mtime),
// ".." in a name (absolute names are taken relative to the root), a
// whiteout naming nothing, "." or "..", a hard link to the root or a
// directory or to a path outside (a hard link to a symlink links the
// symlink itself), device nodes unless ExtractOptions.AllowDevices (a
// character device 0:0 is an overlay whiteout: in a layer it deletes the
// name, in a root filesystem tarball it is kept), and what is over the
// limits: DefaultMaxBytes (64 GiB of uncompressed tar per import),
// DefaultMaxEntries (1,048,576 paths) and DefaultMaxNameLen (4096 bytes
// per name or link target), all settable with ImportWith. Modes, symlinks,
// hard links, FIFOs and mtimes are kept; ownership and device nodes only
// when the process is root (an unprivileged import owns every file and
// goes without device nodes). Extended attributes are not kept.
//
// # Layout on disk
//
//	ROOT/                          (default /var/lib/podbox/images)
//	  lock                         flock(2) held by every mutation (Import, Remove)
//	  names/NAME                   symlink -> ../content/DIR, NAME the normalized
//	                               name with url.PathEscape ("busybox:latest",
//	                               "example.com%2Fteam%2Fapp:v1")
//	  content/DIR/image.json       the Image (name, id, created, size, config)
//	  content/DIR/rootfs/          the root filesystem
//	  tmp/DIR/                     an import in progress
//
// content/ and tmp/ are mode 0700, so that host users cannot reach the
// set-id programs an image may hold. An import extracts into tmp/DIR,
// flushes it with syncfs(2), moves it to content/DIR with rename(2), then
// points names/NAME at it by
// renaming a fresh symlink over the old one: readers (Get, List) take no
// lock and see the old image or the new one, never a half-extracted one. The
// replaced content directory is removed afterwards, so a caller must not
// replace or remove an image that a running container still uses as its
// lower layer. Every mutation first removes what a crashed one left: all of
// tmp/ and any content directory no name points at. Each name has its own
// content directory, even when two names hold the same image.
//
// Names are normalized only by adding the tag: "busybox" and
// "docker.io/library/busybox" are two names (though both pick the image
// tagged "busybox:latest" out of an archive).
package image
