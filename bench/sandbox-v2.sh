#!/usr/bin/env bash
# bench/sandbox-v2.sh — bench/sandbox.sh on this host, then again inside a
# throwaway VM booted with pure cgroup v2 (../shared/tools/v2vm, or $V2VM),
# one after the other. The VM emulates its CPU, so only the ratios to runc
# (measured in the same run, in the same VM) compare with the host's.
# Extra arguments go to sandboxbench (-n 15).
set -euo pipefail
cd "$(dirname "$0")/.."
v2vm=${V2VM:-$PWD/../shared/tools/v2vm}
make -s bin/pause
mkdir -p bin
CGO_ENABLED=1 go build -tags "${TAGS:-seccomp}" -o bin/sandboxbench ./bench/sandboxbench
echo "== this host"
SANDBOXBENCH=bin/sandboxbench bash bench/sandbox.sh "$@"
echo "== pure cgroup v2 VM"
"$v2vm" --mem 3G --dir "$PWD" --env SANDBOXBENCH=bin/sandboxbench -- bash bench/sandbox.sh "$@"
