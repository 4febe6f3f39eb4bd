// Package image is podbox's image store: content-addressed and layered. It
// pulls images from OCI and docker registries (Pull, Ensure with
// Kubernetes' pull policies) and imports them from the local disk, and
// keeps each layer unpacked once, shared by every image that has it; a
// container's root filesystem is an overlay of an image's layer
// directories (Image.LayerDirs). Pods hold leases (AddLease) on what they
// run from, so that neither Remove nor a re-import takes it away.
//
// An image is imported from a root filesystem directory, a root filesystem
// tarball (plain or gzip), an OCI image layout (a directory, or a tar of
// one) or a `docker save` archive; Import tells which by looking. OCI and
// docker layers are applied in order with their whiteouts (".wh.NAME"
// deletes NAME, ".wh..wh..opq" empties a directory of what lower layers put
// there): the first into an empty directory, each next one through an
// overlay mount of those below it (so the kernel records its deletions as
// overlay whiteouts and copies up a lower file it hard-links to), as
// containerd's overlay snapshotter does. Layers above the first therefore
// need root.
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
//	  lock                         flock(2): shared by imports and pulls, exclusive for collection
//	  images/NAME                  the Image record (JSON), NAME the normalized name with
//	                               url.PathEscape ("busybox:latest", "example.com%2Fteam%2Fapp:v1")
//	  layers/HEX/layer.json        one layer, HEX its chain ID: DiffID, parent, size
//	  layers/HEX/fs/               the layer's files (with overlay whiteouts above the first)
//	  leases/KEY.json              a pod's lease: the images and layers it runs from
//	  locks/HEX                    flock(2) of the one process unpacking that layer
//	  tmp/                         layers being unpacked, read-only views
//
// layers/ and tmp/ are mode 0700, so that host users cannot reach the
// set-id programs an image may hold. A layer is unpacked under tmp/,
// flushed with syncfs(2) and renamed into layers/; an image record is
// written to a temporary file, fsync'ed and renamed over images/NAME: a
// crash (even SIGKILL) at any point leaves whole layers and whole records,
// readers (Get, List) take no lock, and the next pull of the image
// unpacks only the layers still missing. Collection (after an import,
// pull or Remove when no other runs, or Prune) removes what tmp/ holds
// and every layer that no image record and no lease names. Compressed
// blobs are not kept: a layer is streamed from the registry or archive
// into its directory, its DiffID checked.
//
// An overlay mount takes its lower directories in one option string of at
// most a page (4096 bytes): with the default root, about 40 layers fit, which
// bounds the layers of an image that can be unpacked above the first and run.
//
// A store of the older layout (names/NAME symlinks to content/DIR with a
// flat rootfs/) is converted on Open, each image becoming one layer.
//
// Names are normalized only by adding the tag: "busybox" and
// "docker.io/library/busybox" are two names (though both pick the image
// tagged "busybox:latest" out of an archive).
package image
