#!/usr/bin/env bash
# cri-tools.sh BINDIR: builds crictl and critest of cri-tools $CRI_TOOLS_VERSION
# (from the Go module proxy) into BINDIR, unless they are there already.
set -euo pipefail
bin=$(cd "${1:?bin dir}" && pwd)
version=${CRI_TOOLS_VERSION:-v1.37.0}
if [ -x "$bin/crictl" ] && [ -x "$bin/critest" ] && [ "$(cat "$bin/.cri-tools" 2>/dev/null)" = "$version" ]; then
	exit 0
fi
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cd "$build"
go mod init podbox-cri-tools >/dev/null 2>&1
# -t: critest is a test binary, built from the module's test dependencies too.
go get -t "sigs.k8s.io/cri-tools/cmd/critest@$version" "sigs.k8s.io/cri-tools/cmd/crictl@$version" >/dev/null 2>&1 ||
	go get -t "sigs.k8s.io/cri-tools/cmd/critest@$version" "sigs.k8s.io/cri-tools/cmd/crictl@$version"
go build -o "$bin/crictl" sigs.k8s.io/cri-tools/cmd/crictl
go test -c -o "$bin/critest" sigs.k8s.io/cri-tools/cmd/critest
echo "$version" >"$bin/.cri-tools"
