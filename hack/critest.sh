#!/usr/bin/env bash
# critest.sh: cri-tools' critest against `podbox cri`, on the offline setup of
# ../shared/cri/cri-baseline.sh (its `registry` pushes busybox-based stand-ins
# under every image name critest uses to a registry on 127.0.0.1:5000; its
# `critest` runs the suite and prints the summary). podbox resolves docker.io,
# gcr.io, registry.k8s.io and k8s.gcr.io to that registry through a registries
# config of its own. Everything podbox makes is named after podbox-critest and
# removed at the end; the registry is left running for the next run
# (cri-baseline.sh stop ends it).
#
# Env: BIN (bin/, with podbox, pause, crictl, critest), CRI_SHARED (the
# directory of cri-baseline.sh; default ../shared/cri), CB_FOCUS / CB_SKIP
# (ginkgo regexps, as cri-baseline.sh takes them), CRITEST_MIN_PASS (105).
# Exits non-zero when fewer specs pass, or any fails but the one critest
# pins by a digest no one can rebuild offline.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$here/bin}
S=${CRI_SHARED:-$here/../shared/cri}
MIN=${CRITEST_MIN_PASS:-105}
[ -x "$S/cri-baseline.sh" ] || { echo "critest: $S/cri-baseline.sh not found (set CRI_SHARED)" >&2; exit 1; }
export CRITEST=$BIN/critest CRICTL=$BIN/crictl
export CRIBASE=${CRIBASE:-/tmp/cribase}
prefix=podbox-critest
state=/tmp/$prefix
sock=$state/cri.sock

"$S/cri-baseline.sh" registry || exit 1

mkdir -p "$state"
cat >"$state/registries.yaml" <<EOF
registries:
  docker.io: {mirrors: ["127.0.0.1:5000"], blocked: true}
  gcr.io: {mirrors: ["127.0.0.1:5000"], blocked: true}
  registry.k8s.io: {mirrors: ["127.0.0.1:5000"], blocked: true}
  k8s.gcr.io: {mirrors: ["127.0.0.1:5000"], blocked: true}
EOF
. "$here/hack/free-subnet.sh"
subnet=$(free_subnet 127 187 188 189 190) || exit 1
pb=("$BIN/podbox" --root "$state/root" --image-root "$state/images" --log-root "$state/logs"
	--cgroup-parent "/$prefix" --bridge pbcritest0 --subnet "$subnet" --veth-prefix pbct
	--nft-table "$prefix" --registries-config "$state/registries.yaml")

cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	"${pb[@]}" ps -A -o json 2>/dev/null | jq -r '.[] | "\(.namespace) \(.name)"' | while read -r ns name; do
		"${pb[@]}" -n "$ns" rm -f "$name" >/dev/null
	done
	"${pb[@]}" network rm >/dev/null 2>&1
	for d in /sys/fs/cgroup/$prefix /sys/fs/cgroup/*/$prefix; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	rm -rf "$state"
}
trap cleanup EXIT

"${pb[@]}" cri --listen "unix://$sock" >"$state/cri.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	"$CRICTL" --runtime-endpoint "unix://$sock" version >/dev/null 2>&1 && break
	sleep 0.1
done

CB_TAG=podbox "$S/cri-baseline.sh" critest "unix://$sock"
report=${CB_REPORT:-$CRIBASE/report}/critest-podbox.json
python3 - "$report" "$MIN" <<'EOF'
import json, os, sys
specs = [s for r in json.load(open(sys.argv[1])) for s in r.get("SpecReports", []) if s.get("LeafNodeType") == "It"]
passed = sum(s["State"] == "passed" for s in specs)
failed = [" ".join(s["ContainerHierarchyTexts"] + [s["LeafNodeText"]]) for s in specs if s["State"] not in ("passed", "skipped", "pending")]
unexpected = [f for f in failed if "public image with digest" not in f]
# A focused run (CB_FOCUS) is not held to the whole suite's count.
ok = not unexpected and (passed >= int(sys.argv[2]) or os.environ.get("CB_FOCUS"))
print("critest (podbox): %d passed; unexpected failures: %d%s" % (passed, len(unexpected), "" if ok else " -- FAIL"))
for f in unexpected:
    print("  " + f)
sys.exit(0 if ok else 1)
EOF
