#!/usr/bin/env bash
# bench/sandbox.sh — what a pod costs with the sandbox library, beside runc in
# the same run (bench/sandboxbench): median and p90 over -n runs (default 30) of
#   sandbox ready      Manager.Create of a one-container pod: whatever Create
#                      does (pause, pinned namespaces, cgroup, hostname, /dev/shm,
#                      pod network: veth on a bridge, IP lease, hosts/resolv.conf)
#   container started  Manager.Start until the container's process is exec'd
#   remove             Manager.Remove(force) of the running pod
#   /bin/true pod      Create + Run (lifecycle in the foreground, until the
#                      container has exited and the pod Succeeded) + Remove
#   ... Unconfined,    the same pods with seccompProfile Unconfined, and with
#   ... hostUsers false  a user namespace (its ID range, idmapped image
#                      layers), each with its ratio to the default pods
#   runc run           Debian's runc: `runc run` of a bundle from `runc spec`
#                      (its hardening and its new network namespace kept) with
#                      the same busybox root and /bin/true
# Figures only, never pass/fail. Run as root from anywhere; extra arguments go
# to sandboxbench (-n 50). Everything is named podbox-bench (host veths
# pbbench*: 15 bytes) and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then echo "bench/sandbox.sh: run as root" >&2; exit 1; fi
if ! command -v runc >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc >/dev/null
fi

dir=$(mktemp -d /tmp/podbox-bench-sandbox.XXXXXX)
cleanup() {
	# Normally sandboxbench has removed everything; after a crash this does.
	[ -x "$dir/sandboxbench" ] && "$dir/sandboxbench" -cleanup -work "$dir/podbox-bench" -runc "$(command -v runc)" || true
	rm -rf "$dir"
}
trap cleanup EXIT

# SANDBOXBENCH names a prebuilt sandboxbench (bench/sandbox-v2.sh builds it on
# the host, so that the cgroup v2 VM only runs it); else it is built here.
if [ -n "${SANDBOXBENCH:-}" ]; then
	cp "$SANDBOXBENCH" "$dir/sandboxbench"
else
	make -s bin/pause
	CGO_ENABLED=1 go build -tags "${TAGS:-seccomp}" -o "$dir/sandboxbench" ./bench/sandboxbench
fi

cgroups=$(stat -fc %T /sys/fs/cgroup)
case $cgroups in
cgroup2fs) layout="cgroup v2 (unified)" ;;
tmpfs) layout="cgroup v1$([ -d /sys/fs/cgroup/unified ] && echo ", hybrid: cgroup2 at /sys/fs/cgroup/unified")" ;;
*) layout=$cgroups ;;
esac
echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
echo "kernel $(uname -r) $(uname -m); $layout"
echo "$(runc --version | head -1); $(go version | cut -d' ' -f3); podbox $(git describe --tags --always --dirty 2>/dev/null || echo dev)"

"$dir/sandboxbench" -pause bin/pause -runc "$(command -v runc)" -work "$dir/podbox-bench" "$@"
