#!/usr/bin/env bash
# bench/pull.sh — pulling from a registry on loopback (Debian's docker-registry,
# plain HTTP, no auth), podbox beside skopeo, in one run, interleaved:
#   cold pull   a 5-layer image (busybox + 3 x 8 MiB + 2 MiB, incompressible):
#               `podbox image pull` into an empty store, against
#               `skopeo copy docker://... containers-storage:` (overlay driver,
#               what `podman pull` does) into an empty storage
#   re-pull     the same command again, the image present
#   disk        both images (they share 4 layers) pulled into one store, and
#               one containers-storage: du of each
# median and p90 over N runs (default 5). Figures only, never pass/fail. Run as
# root from the repository root; installs docker-registry and skopeo when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/pull.sh: run as root" >&2; exit 1; }
N=${N:-5}
for p in docker-registry skopeo; do
	command -v "$p" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done
systemctl disable --now docker-registry >/dev/null 2>&1 || true
make -s build testdata/images/busybox.tar

dir=$(mktemp -d /var/tmp/podbox-bench-pull.XXXXXX)
regpid=
cleanup() {
	[ -n "$regpid" ] && kill "$regpid" 2>/dev/null && wait "$regpid" 2>/dev/null || true
	grep -o " $dir[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 20000))
host=127.0.0.1:$port
cat >"$dir/registry.yml" <<EOF
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $dir/registry}
http:
  addr: $host
EOF
docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
regpid=$!
for _ in $(seq 100); do curl -fs "http://$host/v2/" >/dev/null && break; sleep 0.1; done
go run ./bench/pullbench "$host" testdata/images/busybox.tar >/dev/null

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
podbox() { bin/podbox --image-root "$dir/store" --registries-config /dev/null "$@"; }
cs() { echo "containers-storage:[overlay@$dir/cs/storage+$dir/cs/run]$1"; }
skopeo_pull() { skopeo copy --quiet --src-tls-verify=false "docker://$host/bench/app:$1" "$(cs "$host/bench/app:$1")"; }
wipe_cs() {
	grep -o " $dir/cs[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$dir/cs"
}

declare -a pc pr sc sr
for i in $(seq "$N"); do
	rm -rf "$dir/store"; sync
	t=$(date +%s%N); podbox image pull "$host/bench/app:a" >/dev/null; pc+=("$(ms "$t")")
	t=$(date +%s%N); podbox image pull "$host/bench/app:a" >/dev/null; pr+=("$(ms "$t")")
	wipe_cs; sync
	t=$(date +%s%N); skopeo_pull a; sc+=("$(ms "$t")")
	t=$(date +%s%N); skopeo_pull a; sr+=("$(ms "$t")")
done

stat() { # median p90 of the arguments
	sort -n | awk '{v[NR]=$1} END {m=v[int((NR+1)/2)]; p=v[int(NR*0.9+0.999)]; printf "%d ms\t%d ms", m, p}'
}
printf '%-34s %s\t%s\n' case median p90
printf '%-34s %s\n' "podbox image pull (cold)" "$(printf '%s\n' "${pc[@]}" | stat)"
printf '%-34s %s\n' "skopeo copy to c/storage (cold)" "$(printf '%s\n' "${sc[@]}" | stat)"
printf '%-34s %s\n' "podbox image pull (present)" "$(printf '%s\n' "${pr[@]}" | stat)"
printf '%-34s %s\n' "skopeo copy to c/storage (present)" "$(printf '%s\n' "${sr[@]}" | stat)"

# Disk: one image, then both (4 of 5 layers shared).
rm -rf "$dir/store"; wipe_cs
podbox image pull "$host/bench/app:a" >/dev/null; skopeo_pull a; sync
one_p=$(du -s -B1 "$dir/store" | cut -f1); one_s=$(du -s -B1 "$dir/cs" | cut -f1)
podbox image pull "$host/bench/app:b" >/dev/null; skopeo_pull b; sync
two_p=$(du -s -B1 "$dir/store" | cut -f1); two_s=$(du -s -B1 "$dir/cs" | cut -f1)
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b/1048576}'; }
echo
printf '%-34s %-12s %s\n' "disk (du -s)" "one image" "both images"
printf '%-34s %-12s %s\n' "podbox store" "$(mib "$one_p")" "$(mib "$two_p")"
printf '%-34s %-12s %s\n' "containers-storage (overlay)" "$(mib "$one_s")" "$(mib "$two_s")"
podbox image ls
echo "(registry $(docker-registry --version | awk '{print $3}'), $(skopeo --version), $(go version | cut -d' ' -f3), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg))"
