#!/usr/bin/env bash
# bench/logs.sh — what a container writing to stdout at full speed costs the
# process that copies its output to the log, podbox's monitor beside
# podman's conmon, in one run: for each size (default 30 and 100 MiB of
# 100-byte lines, `yes | head -c`), the monitor's (conmon's) CPU time per
# MiB written, its peak RSS (VmHWM), the wall time until the last line is in
# the log, and the log's size on disk afterwards (podbox rotates at
# --container-log-max-size, 10Mi, keeping 5 files; podman keeps it all).
# CPU is the copier's utime+stime once the last line is logged, minus that
# of an idle copier (same image, `sleep`) measured the same way.
# Figures only, never pass/fail. Run as root from anywhere; SIZES="30 100"
# overrides. Everything is named podbox-bench-logs and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then echo "bench/logs.sh: run as root" >&2; exit 1; fi
if ! command -v podman >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null
fi

work=/tmp/podbox-bench-logs
export PODBOX_ROOT=$work/root
export PODBOX_LOG_ROOT=$work/logs
export PODBOX_IMAGE_ROOT=$work/images
export PODBOX_CGROUP_PARENT=/podbox-bench-logs
export PODBOX_BRIDGE=pbbenchl
export PODBOX_VETH_PREFIX=pvbenchl
export PODBOX_SUBNET=10.92.0.0/16
export PODBOX_NFT_TABLE=podbox-bench-logs
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --cgroup-manager cgroupfs --events-backend file)

cleanup() {
	for p in $(bin/podbox ps -o json 2>/dev/null | jq -r '.[].name' 2>/dev/null); do bin/podbox rm -f "$p" >/dev/null 2>&1 || true; done
	bin/podbox network rm >/dev/null 2>&1 || true
	"${podman[@]}" rm -af >/dev/null 2>&1 || true
	for d in /sys/fs/cgroup/*/podbox-bench-logs /sys/fs/cgroup/podbox-bench-logs; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	umount -R "$work/podman" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
cleanup

make -s build testdata/images/busybox.tar
bin/podbox image import busybox testdata/images/busybox.tar >/dev/null
"${podman[@]}" import -q testdata/images/busybox.tar localhost/busybox-bench >/dev/null

tck=$(getconf CLK_TCK)
line=$(printf '%099d' 0) # 99 characters and the newline
cpu() { awk -v t="$tck" '{print ($14 + $15) * 1000 / t}' "/proc/$1/stat"; } # ms
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }                   # kB

# waitEnd waits (up to 5 minutes) for the line END at the end of a CRI log.
waitEnd() {
	for _ in $(seq 6000); do
		tail -c 200 "$1" 2>/dev/null | grep -q ' END$' && return 0
		sleep 0.05
	done
	echo "bench/logs.sh: no END in $1" >&2
	return 1
}

# podbox: run a pod, wait for END in its log, read its monitor.
podbox_run() { # NAME CMD -> "cpu_ms hwm_kb wall_s disk_kB"
	local name=$1 cmd=$2 start
	start=$(date +%s.%N)
	bin/podbox run - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $name}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: busybox, command: ["sh", "-c", "$cmd; echo; echo END; exec sleep 3600"]}]
EOF
	local dir mon
	dir=$(bin/podbox inspect "$name" | jq -r .logDir)/c
	mon=$(bin/podbox inspect "$name" | jq -r .monitorPid)
	waitEnd "$dir/0.log"
	echo "$(cpu "$mon") $(hwm "$mon") $(echo "$(date +%s.%N) - $start" | bc) $(du -sk "$dir" | cut -f1)"
	bin/podbox rm -f "$name" >/dev/null
}

# podman: the same container, its conmon.
podman_run() {
	local name=$1 cmd=$2 start id mon logf
	start=$(date +%s.%N)
	id=$("${podman[@]}" run -d --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network none --log-driver k8s-file --name "$name" localhost/busybox-bench sh -c "$cmd; echo; echo END; exec sleep 3600")
	mon=$("${podman[@]}" inspect --format '{{.State.ConmonPid}}' "$id")
	logf=$("${podman[@]}" inspect --format '{{.HostConfig.LogConfig.Path}}' "$id")
	waitEnd "$logf"
	echo "$(cpu "$mon") $(hwm "$mon") $(echo "$(date +%s.%N) - $start" | bc) $(du -sk "$logf" | cut -f1)"
	"${podman[@]}" rm -f -t 0 "$id" >/dev/null
}

echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); kernel $(uname -r)"
echo "podbox $(bin/podbox --version | head -1); $(podman --version); conmon $(conmon --version | head -1 | awk '{print $3}')"
idle_pb=$(podbox_run idle "true")
idle_pm=$(podman_run idle "true")
printf '%-8s %-8s %10s %12s %10s %10s %12s\n' size copier "cpu ms" "cpu ms/MiB" "peak RSS" "wall s" "log on disk"
for mib in ${SIZES:-30 100}; do
	cmd="yes $line | head -c $((mib << 20))"
	for who in podbox podman; do
		if [ $who = podbox ]; then r=$(podbox_run "w$mib" "$cmd") idle=$idle_pb copier=monitor
		else r=$(podman_run "w$mib" "$cmd") idle=$idle_pm copier=conmon; fi
		read -r c h w d <<<"$r"
		read -r ci _ _ _ <<<"$idle"
		awk -v m="$mib" -v c="$c" -v ci="$ci" -v h="$h" -v w="$w" -v d="$d" -v who="$copier" \
			'BEGIN { printf "%-8s %-8s %10.0f %12.1f %7.1f MB %10.2f %9.1f MB\n", m " MiB", who, c - ci, (c - ci) / m, h / 1024, w, d / 1024 }'
	done
done
