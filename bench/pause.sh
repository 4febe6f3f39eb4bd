#!/usr/bin/env bash
# bench/pause.sh — what an idle pause costs: file size, threads, resident
# memory (VmRSS, RssAnon) of
#   asm       bin/pause as `make` builds it (amd64: assembly entry, no Go runtime)
#   purego    the same package built with -tags purego (the non-amd64 route)
#   builtin   sandbox.BuiltinPause: bin/podbox (cgo, libcontainer: an
#             embedder's program) started as the sandbox starts its pause
#             when none is found (argv[0] podbox-pause:..., _PODBOX_PAUSE=1,
#             GOMAXPROCS=1); its file is shared with the program, so
#             RssAnon is what each pod pays
#   reference bench/ospause, a plain os/signal Go pause
# Figures only, never pass/fail. Run from the repository root, as root or not.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d /tmp/podbox-bench-pause.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

ldflags='-s -w'
make -s bin/pause bin/podbox
cp bin/pause "$dir/asm"
cp bin/podbox "$dir/builtin"
CGO_ENABLED=0 go build -tags purego -trimpath -ldflags "$ldflags" -o "$dir/purego" ./cmd/pause
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir/reference" ./bench/ospause

field() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$2/status"; }

printf '%-10s %10s %8s %10s %10s\n' build "size(B)" threads "VmRSS(kB)" "RssAnon(kB)"
for name in asm purego builtin reference; do
	# argv[0] as the sandbox sets it, so a leak is attributable; a built-in
	# pause gets the environment the sandbox gives it.
	envs=()
	[ "$name" = builtin ] && envs=(env -i _PODBOX_PAUSE=1 GOMAXPROCS=1)
	"${envs[@]}" bash -c 'exec -a "podbox-pause:bench-$1" "$2"' _ "$name" "$dir/$name" &
	pid=$!
	pids+=("$pid")
	sleep 0.5 # idle: the Go runtime has started its threads by now
	printf '%-10s %10s %8s %10s %10s\n' "$name" "$(stat -c %s "$dir/$name")" \
		"$(field Threads "$pid")" "$(field VmRSS "$pid")" "$(field RssAnon "$pid")"
	kill -TERM "$pid"
	wait "$pid" || { echo "$name: exit status $? after SIGTERM" >&2; exit 1; }
done
echo "($(go version | cut -d' ' -f3), $(uname -m), kernel $(uname -r))"
