#!/usr/bin/env bash
# bench/cri.sh — what the kubelet waits for to start a pod, through the CRI:
# RunPodSandbox + CreateContainer + StartContainer of a one-container pod
# (busybox sleep 3600), podbox cri beside Debian's containerd 1.6 CRI plugin
# (runc, CNI bridge), in one run, interleaved (bench/cribench). Both pull
# from the offline registry of ../shared/cri/cri-baseline.sh, which also
# starts containerd (and `stop` ends both at the end). Figures only, never
# pass/fail. Run as root; extra arguments go to cribench (-n 50).
# podbox's objects are named podbox-bench-cri and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "bench/cri.sh: run as root" >&2; exit 1; fi
S=${CRI_SHARED:-../shared/cri}
[ -x "$S/cri-baseline.sh" ] || { echo "bench/cri.sh: $S/cri-baseline.sh not found (set CRI_SHARED)" >&2; exit 1; }

make -s build bin/crictl bin/critest
export CRITEST=$PWD/bin/critest CRICTL=$PWD/bin/crictl
work=/tmp/podbox-bench-cri
prefix=podbox-bench-cri
mkdir -p "$work"
bindir=$(mktemp -d /tmp/podbox-benchbin.XXXXXX)
. hack/free-subnet.sh
subnet=$(free_subnet 92 183 184 185 186) || exit 1
pb=(bin/podbox --root "$work/root" --image-root "$work/images" --log-root "$work/logs"
	--cgroup-parent "/$prefix" --bridge pbbenchc --subnet "$subnet" --veth-prefix pvbenchc
	--nft-table "$prefix" --registries-config "$work/registries.yaml")
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	"${pb[@]}" ps -A -o json 2>/dev/null | jq -r '.[] | "\(.namespace) \(.name)"' | while read -r ns name; do
		"${pb[@]}" -n "$ns" rm -f "$name" >/dev/null
	done
	"${pb[@]}" network rm >/dev/null 2>&1 || true
	for d in /sys/fs/cgroup/$prefix /sys/fs/cgroup/*/$prefix; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	rm -rf "$work" "$bindir"
	"$S/cri-baseline.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

cat >"$work/registries.yaml" <<REG
registries:
  docker.io: {mirrors: ["127.0.0.1:5000"], blocked: true}
  gcr.io: {mirrors: ["127.0.0.1:5000"], blocked: true}
  registry.k8s.io: {mirrors: ["127.0.0.1:5000"], blocked: true}
  k8s.gcr.io: {mirrors: ["127.0.0.1:5000"], blocked: true}
REG
"$S/cri-baseline.sh" registry
"$S/cri-baseline.sh" containerd
"${pb[@]}" cri --listen "unix://$work/cri.sock" >"$work/cri.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do "$CRICTL" --runtime-endpoint "unix://$work/cri.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
go build -o "$bindir/cribench" ./bench/cribench
"$bindir/cribench" "$@" "containerd 1.6=unix://${CB_SOCK:-/tmp/cribase/containerd.sock}" "podbox cri=unix://$work/cri.sock"
