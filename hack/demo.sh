#!/usr/bin/env bash
# The README's first command (`sudo make demo`): one two-container pod, told
# as a short story. It uses podbox's defaults: state in /run/podbox, images
# in /var/lib/podbox/images, bridge podbox0 with 10.88.0.0/16.
set -euo pipefail
cd "$(dirname "$0")/.."
podbox=./bin/podbox
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [ "$(id -u)" != 0 ]; then echo "demo: run as root (sudo make demo)" >&2; exit 1; fi
$podbox rm -f web >/dev/null 2>&1 || true

say "1. Import a busybox image (built from Debian's busybox-static) into the local store"
run $podbox image import busybox testdata/images/busybox.tar

say "2. Run the pod in testdata/pods/web.yaml: a writer puts index.html into a shared emptyDir, a server serves it"
run $podbox run testdata/pods/web.yaml
ip=$($podbox get pod web -o json | sed -n 's/^    "podIP": "\(.*\)",$/\1/p')

say "3. The pod has one IP, $ip, shared by both containers. Fetch the page from the host"
for _ in $(seq 50); do page=$(busybox wget -q -O - "http://$ip/" 2>/dev/null) && break; sleep 0.1; done
printf '$ busybox wget -q -O - http://%s/\n%s\n' "$ip" "$page"
echo "(the server never wrote it: the writer did, into the volume they share)"
run $podbox exec web -c server -- ip -4 -o addr show eth0
run $podbox exec web -c writer -- ip -4 -o addr show eth0

say "4. What podbox ps shows"
run $podbox ps

say "5. One pause process holds the namespaces; both containers joined its net, ipc and uts, each with its own mount namespace"
run $podbox inspect -o namespaces web
echo "(same NET, IPC and UTS inodes as the pause; a MNT of its own each; separate PID namespaces unless shareProcessNamespace)"

say "6. Remove the pod: processes, namespaces, mounts, cgroups, veth and IP lease go with it"
run $podbox rm -f web
run $podbox ps

say "7. The bridge and the nftables table are kept for the next pod; network rm removes them"
run $podbox network rm
