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
// Extraction never writes outside the image's root filesystem: ".." in a
// member name is refused, absolute names are taken relative to the root,
// and every path is resolved inside the root (symlinks included) as
// github.com/cyphar/filepath-securejoin does. Modes, symlinks, hard links
// (within the image), FIFOs and mtimes are kept; ownership and device nodes
// only when the process is root (an unprivileged import owns every file and
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
