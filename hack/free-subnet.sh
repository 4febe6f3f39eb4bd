# Sourced by the scripts that run a podbox of their own (bench/cri.sh,
# hack/critest.sh, hack/kubelet-demo.sh).
# free_subnet BASE...: the first 10.BASE.0.0/16 no route of the host touches.
free_subnet() {
	local b
	for b in "$@"; do
		ip -4 route | grep -q "^10\.$b\." || { echo "10.$b.0.0/16"; return; }
	done
	echo "no free subnet among 10.{$*}.0.0/16" >&2
	return 1
}
