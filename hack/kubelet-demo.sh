#!/usr/bin/env bash
# kubelet-demo.sh: a real kubelet (v1.37.2, standalone: no API server, static
# pods from a directory) runs the two-container web pod of
# ../shared/cri/KUBELET.md through `podbox cri`: the kubelet pulls the image,
# makes the sandbox and both containers, probes the server's readiness from
# the host, and tears the pod down when its manifest goes. Uses
# ../shared/cri/cri-baseline.sh (the offline registry) and
# kubelet-standalone.sh (builds the kubelet from the Go module proxy once,
# ~3 minutes with empty caches; runs it so that it leaves the host as it
# found it). podbox's objects are named podbox-kubelet and removed at the
# end. Run as root from the repository: sudo hack/kubelet-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
S=${CRI_SHARED:-../shared/cri}
[ "$(id -u)" = 0 ] || { echo "kubelet-demo: run as root" >&2; exit 1; }
make -s build bin/crictl bin/critest
export CRICTL=$PWD/bin/crictl CRITEST=$PWD/bin/critest
work=/tmp/podbox-kubelet
prefix=podbox-kubelet
sock=$work/cri.sock
export KBS_DIR=$work/kubelet
manifests=$work/manifests
mkdir -p "$work" "$manifests"
. hack/free-subnet.sh
subnet=$(free_subnet 193 194 195 196 197) || exit 1
pb=(bin/podbox --root "$work/root" --image-root "$work/images" --log-root "$work/logs"
	--cgroup-parent "/$prefix" --bridge pbkubelet0 --subnet "$subnet" --veth-prefix pvkubel
	--nft-table "$prefix" --registries-config "$work/registries.yaml")
cleanup() {
	"$S/kubelet-standalone.sh" stop >/dev/null 2>&1 || true
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	"${pb[@]}" ps -A -o json 2>/dev/null | jq -r '.[] | "\(.namespace) \(.name)"' | while read -r ns name; do
		"${pb[@]}" -n "$ns" rm -f "$name" >/dev/null
	done
	"${pb[@]}" network rm >/dev/null 2>&1 || true
	for d in /sys/fs/cgroup/$prefix /sys/fs/cgroup/*/$prefix; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	cp "$KBS_DIR/kubelet.log" /tmp/podbox-kubelet-demo.log 2>/dev/null || true
	rm -rf "$work"
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
"$S/kubelet-standalone.sh" build >/dev/null
"${pb[@]}" cri --listen "unix://$sock" >"$work/cri.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do "$CRICTL" --runtime-endpoint "unix://$sock" version >/dev/null 2>&1 && break; sleep 0.1; done

# The web pod of KUBELET.md: a writer and an httpd sharing an emptyDir.
cat >"$manifests/web.yaml" <<'POD'
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  volumes: [{name: html, emptyDir: {}}]
  containers:
  - name: writer
    image: registry.k8s.io/e2e-test-images/busybox:1.29-2
    command: ["sh", "-c", "echo \"hello from static pod $(hostname), written $(date -u +%FT%TZ)\" > /html/index.html; trap 'exit 0' TERM; while :; do sleep 1; done"]
    volumeMounts: [{name: html, mountPath: /html}]
  - name: server
    image: registry.k8s.io/e2e-test-images/busybox:1.29-2
    command: ["sh", "-c", "httpd -f -v -p 8080 -h /www & pid=$!; trap 'kill $pid; exit 0' TERM; wait $pid"]
    ports: [{containerPort: 8080}]
    volumeMounts: [{name: html, mountPath: /www, readOnly: true}]
    readinessProbe: {httpGet: {path: /index.html, port: 8080}, periodSeconds: 2}
POD
start=$(date +%s.%N)
"$S/kubelet-standalone.sh" run "unix://$sock" "$manifests" >/dev/null
status=
for _ in $(seq 1 120); do
	status=$("$S/kubelet-standalone.sh" status 2>/dev/null | grep web- || true)
	case "$status" in *phase=Running*server=running/ready*writer=running/ready*) break;; esac
	sleep 0.5
done
echo "kubelet: $status ($(echo "$(date +%s.%N) - $start" | bc | cut -c1-4) s after its start)"
case "$status" in *server=running/ready*) ;; *) echo "kubelet-demo: the pod did not become ready" >&2; exit 1;; esac
"$CRICTL" --runtime-endpoint "unix://$sock" pods 2>/dev/null
"$CRICTL" --runtime-endpoint "unix://$sock" ps 2>/dev/null
"${pb[@]}" ps -A
ip=$(echo "$status" | sed -n 's/.* ip=\([0-9.]*\).*/\1/p')
page=$(curl -fsS "http://$ip:8080/")
echo "curl http://$ip:8080/: $page"
case "$page" in "hello from static pod web-"*) ;; *) echo "kubelet-demo: unexpected page" >&2; exit 1;; esac
rm "$manifests/web.yaml"
for _ in $(seq 1 60); do
	"$CRICTL" --runtime-endpoint "unix://$sock" pods -q --state ready 2>/dev/null | grep -q . || break
	sleep 0.5
done
echo "manifest removed: the kubelet stopped the pod"
"$CRICTL" --runtime-endpoint "unix://$sock" pods 2>/dev/null
echo "kubelet-demo: ok"
