#!/usr/bin/env bash
# bench/pods.sh — the podbox CLI (the built bin/podbox) beside Debian's runc,
# podman and containerd, in one run (bench/podsbench): median and p90 over
# -n runs (default 30), the cases taking turns in each round, of
#   one-container pod    `podbox run` of a busybox pod running sleep 3600, until
#                        it returns (it waits until the container is exec'd),
#                        network included; peers: `runc run --detach` of a
#                        bundle running sleep 3600 (returns once exec'd), and
#                        `podman kube play` of the same manifest (with network)
#   three-container pod  init `true` + native sidecar + app (sleep); peers: one
#                        `runc run --detach`, and three sequential ones joining
#                        the first one's net, ipc and uts namespaces by path
#   large pod            20 app containers (sleep)
#   remove               `podbox rm -f` of a running one-container pod; peer
#                        `podman pod rm -f -t 0`
# then per-pod memory of 10 idle pods of podbox (pause + monitor), podman
# (conmons + catatonit) and containerd (containerd-shim-runc-v2 + pause, a
# pod's containers grouped in one shim as the CRI plugin does); density (250
# idle pods one after another, then 8 at a time: time, pause + monitor VmRSS
# and Pss per pod, MemAvailable, removal, nothing left), the pause of one of
# them, and what the monitor's memory is made of.
# BEFORE=REV also builds podbox at git revision REV and times its pod starts
# beside the current ones (before/after, same run).
# Figures only, never pass/fail. Run as root from anywhere; extra arguments go
# to podsbench (-n 50, -density 20, -parallel 4, -knobs=false). Everything is
# named podbox-bench-pods (bridge pbbenchp, host veths
# pvbenchp*, containerd namespace podbox-bench-pods) and removed at the end,
# on failure too.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then echo "bench/pods.sh: run as root" >&2; exit 1; fi
missing=()
for p in runc podman containerd; do command -v $p >/dev/null || missing+=($p); done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work=/tmp/podbox-bench-pods
export PODBOX_ROOT=$work/root
export PODBOX_LOG_ROOT=$work/logs
export PODBOX_IMAGE_ROOT=$work/images
export PODBOX_CGROUP_PARENT=/podbox-bench-pods
export PODBOX_BRIDGE=pbbenchp
export PODBOX_VETH_PREFIX=pvbenchp
export PODBOX_SUBNET=10.91.0.0/16
export PODBOX_NFT_TABLE=podbox-bench-pods

bindir=$(mktemp -d /tmp/podbox-benchbin.XXXXXX)
ctrd=$work-containerd
helper=(
	"$bindir/podsbench" -podbox bin/podbox -pause bin/pause -runc "$(command -v runc)" -work "$work"
	-podman "$(command -v podman)" -containerd "$ctrd/containerd.sock"
)
ctrd_pid=
cleanup() {
	# Normally podsbench has removed everything; after a failure this does.
	[ -x "$bindir/podsbench" ] && "${helper[@]}" -cleanup || true
	if [ -n "$ctrd_pid" ]; then kill "$ctrd_pid" 2>/dev/null; wait "$ctrd_pid" 2>/dev/null || true; fi
	umount -R "$ctrd" 2>/dev/null || true
	rm -rf "$bindir" "$ctrd"
}
trap cleanup EXIT

make -s build testdata/images/busybox.tar
CGO_ENABLED=1 go build -tags "${TAGS:-seccomp}" -o "$bindir/podsbench" ./bench/podsbench
if [ -n "${BEFORE:-}" ]; then
	src=$bindir/before-src
	mkdir -p "$src"
	git archive "$BEFORE" | tar -x -C "$src"
	(cd "$src" && CGO_ENABLED=1 go build -tags "${TAGS:-seccomp}" -o "$bindir/podbox-before" ./cmd/podbox)
	# Its pods' monitor, where that revision has one (podbox looks for it
	# beside itself by that name).
	if [ -d "$src/cmd/podbox-monitor" ]; then
		(cd "$src" && CGO_ENABLED=1 go build -tags "${TAGS:-seccomp}" -o "$bindir/podbox-monitor" ./cmd/podbox-monitor)
	fi
	cp bin/pause "$bindir/pause" # beside it, where podbox looks
	helper+=(-before "$bindir/podbox-before")
	echo "before: podbox at $(git rev-parse --short "$BEFORE")"
fi

# A containerd of the bench's own (root, state, socket; no CRI plugin), whose
# shims podsbench measures.
mkdir -p "$ctrd"
cat >"$ctrd/config.toml" <<EOF
version = 2
root = "$ctrd/root"
state = "$ctrd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$ctrd/containerd.sock"
[ttrpc]
  address = "$ctrd/containerd.sock.ttrpc"
EOF
containerd --config "$ctrd/config.toml" >"$ctrd/log" 2>&1 &
ctrd_pid=$!
for _ in $(seq 50); do [ -S "$ctrd/containerd.sock" ] && break; sleep 0.1; done
"${helper[@]}" -cleanup # what a crashed run left

mkdir -p "$work/rootfs"
tar -xf testdata/images/busybox.tar -C "$work/rootfs" # runc's root: the same image
bin/podbox image import busybox testdata/images/busybox.tar >/dev/null

cgroups=$(stat -fc %T /sys/fs/cgroup)
case $cgroups in
cgroup2fs) layout="cgroup v2 (unified)" ;;
tmpfs) layout="cgroup v1$([ -d /sys/fs/cgroup/unified ] && echo ", hybrid: cgroup2 at /sys/fs/cgroup/unified ($(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null | tr -s ' ' ',' || true))")" ;;
*) layout=$cgroups ;;
esac
echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "kernel $(uname -r) $(uname -m); $layout"
echo "$(runc --version | head -1); $(podman --version); conmon $(conmon --version | head -1 | awk '{print $3}'); containerd $(containerd --version | awk '{print $3}'); $(go version | cut -d' ' -f3); podbox $(bin/podbox --version | head -1 | awk '{print $NF}')"

"${helper[@]}" "$@"

echo
echo "== after removing everything"
# (Processes that end while the gate reads /proc make bash complain: not leaks.)
kill "$ctrd_pid" 2>/dev/null && wait "$ctrd_pid" 2>/dev/null || true
ctrd_pid=
for name in podbox-bench-pods pvbenchp pbbenchp; do
	./hack/leakcheck-gate "$name" 2> >(grep -v '/cmdline: No such file or directory' >&2)
done
