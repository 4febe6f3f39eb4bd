#!/usr/bin/env bash
# bench/pods.sh — the podbox CLI (the built bin/podbox) beside Debian's runc,
# in one run (bench/podsbench): median and p90 over -n runs (default 30) of
#   one-container pod    `podbox run` of a busybox pod running sleep 3600, until
#                        it returns (it waits until the container is exec'd),
#                        network included; peer: `runc run --detach` of a
#                        bundle running sleep 3600 (returns once exec'd)
#   three-container pod  init `true` + native sidecar + app (sleep); peers: one
#                        `runc run --detach`, and three sequential ones joining
#                        the first one's net, ipc and uts namespaces by path
#   remove               `podbox rm -f` of a running one-container pod
# then density (100 idle pods one after another: time, pause + monitor VmRSS
# and Pss per pod, MemAvailable, removal, nothing left), the pause of one of
# them, and what the monitor's memory is made of.
# Figures only, never pass/fail. Run as root from anywhere; extra arguments go
# to podsbench (-n 50, -density 20). Everything is named podbox-bench-pods
# (bridge pbbenchp, host veths pvbenchp*) and removed at the end, on failure too.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then echo "bench/pods.sh: run as root" >&2; exit 1; fi
if ! command -v runc >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc >/dev/null
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
helper=(
	"$bindir/podsbench" -podbox bin/podbox -pause bin/pause -runc "$(command -v runc)" -work "$work"
)
cleanup() {
	# Normally podsbench has removed everything; after a failure this does.
	[ -x "$bindir/podsbench" ] && "${helper[@]}" -cleanup || true
	rm -rf "$bindir"
}
trap cleanup EXIT

make -s build testdata/images/busybox.tar
CGO_ENABLED=1 go build -tags "${TAGS:-seccomp}" -o "$bindir/podsbench" ./bench/podsbench
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
echo "$(runc --version | head -1); $(go version | cut -d' ' -f3); podbox $(bin/podbox --version | awk '{print $NF}')"

"${helper[@]}" "$@"

echo
echo "== after removing everything"
# (Processes that end while the gate reads /proc make bash complain: not leaks.)
for name in podbox-bench-pods pvbenchp pbbenchp; do
	./hack/leakcheck-gate "$name" 2> >(grep -v '/cmdline: No such file or directory' >&2)
done
