#!/bin/sh
# busybox-image.sh OUT.tar: a reproducible busybox root filesystem tarball.
#
# Debian's static busybox (package busybox-static, or $BUSYBOX) with one
# symlink per applet, /etc/passwd and /etc/group, and the usual empty
# directories. Entries are sorted, owned by 0:0 and dated SOURCE_DATE_EPOCH
# (default 0), so the same busybox gives the same bytes, hence the same
# image ID in `podbox image import busybox OUT.tar`.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 OUT.tar" >&2; exit 2; }
out=$1
bb=${BUSYBOX:-$(command -v busybox || true)}
[ -n "$bb" ] || { echo "$0: busybox not found: apt-get install busybox-static" >&2; exit 1; }
epoch=${SOURCE_DATE_EPOCH:-0}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
r=$tmp/rootfs
mkdir -p "$r/bin" "$r/etc" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/root" "$r/var/log" "$r/www"
cp "$bb" "$r/bin/busybox"
for applet in $("$bb" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$r/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"

find "$r" -type d -exec chmod 0755 {} +
chmod 0755 "$r/bin/busybox"
chmod 0644 "$r/etc/passwd" "$r/etc/group"
chmod 1777 "$r/tmp"
chmod 0700 "$r/root"

mkdir -p "$(dirname "$out")"
LC_ALL=C tar --sort=name --format=gnu --numeric-owner --owner=0 --group=0 \
	--mtime="@$epoch" -C "$r" -cf "$out.tmp" .
mv "$out.tmp" "$out"
