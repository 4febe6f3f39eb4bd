#!/usr/bin/env bash
# The README's first command (`sudo make demo`): one two-container pod, told
# as a short story. It uses podbox's defaults (state in /run/podbox, images in
# /var/lib/podbox/images, bridge podbox0 with 10.87.0.0/16) unless the PODBOX_*
# variables say otherwise. It touches no pod it did not create: its pod has a
# name of its own, and the network is removed at the end only when no other
# pod uses it.
set -euo pipefail
cd "$(dirname "$0")/.."
podbox=./bin/podbox
pod=podbox-demo
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [ "$(id -u)" != 0 ]; then echo "demo: run as root (sudo make demo)" >&2; exit 1; fi
if $podbox get pod $pod -o json >/dev/null 2>&1; then
	echo "demo: a pod named $pod exists (from an earlier demo?); remove it with: $podbox rm -f $pod" >&2
	exit 1
fi
# The demo's own pod goes even when a step fails.
trap '$podbox rm -f $pod >/dev/null 2>&1 || true' EXIT

say "1. Import a busybox image (built from Debian's busybox-static) into the local store"
run $podbox image import busybox testdata/images/busybox.tar

say "2. Run testdata/pods/web.yaml as $pod: a writer puts index.html into a shared emptyDir, a server serves it"
manifest=testdata/pods/web.yaml
if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
	# Something listens on the host's port 8080: run without the hostPort.
	echo "(port 8080 is in use on this host: running the pod without its hostPort)"
	manifest=$(mktemp)
	trap '$podbox rm -f $pod >/dev/null 2>&1 || true; rm -f "$manifest"' EXIT
	grep -v 'hostPort:' testdata/pods/web.yaml >"$manifest"
fi
run $podbox run --name $pod "$manifest"
ip=$($podbox get pod $pod -o json | sed -n 's/^    "podIP": "\(.*\)",$/\1/p')

say "3. The pod has one IP, $ip, shared by both containers. Fetch the page from the host"
for _ in $(seq 50); do page=$(busybox wget -q -O - "http://$ip/" 2>/dev/null) && break; sleep 0.1; done
printf '$ busybox wget -q -O - http://%s/\n%s\n' "$ip" "$page"
echo "(the server never wrote it: the writer did, into the volume they share)"
run $podbox exec $pod -c server -- ip -4 -o addr show eth0
run $podbox exec $pod -c writer -- ip -4 -o addr show eth0

say "4. What podbox ps shows"
run $podbox ps

say "5. One pause process holds the namespaces; both containers joined its net, ipc and uts, each with its own mount namespace"
run $podbox inspect -o namespaces $pod
echo "(same NET, IPC and UTS inodes as the pause; a MNT of its own each; separate PID namespaces unless shareProcessNamespace)"

say "6. Remove the pod: processes, namespaces, mounts, cgroups, veth and IP lease go with it"
run $podbox rm -f $pod

say "7. The bridge and the nftables table are kept for the next pod; network rm removes them"
if [ "$($podbox ps -o json)" != "[]" ]; then
	echo "(other pods use the network: it stays)"
	run $podbox ps
else
	run $podbox network rm
fi
