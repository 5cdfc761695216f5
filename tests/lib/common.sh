# lib.sh - helpers for pvnet's integration scripts (sourced).
# Each check prints "PASS: name" or "FAIL: name"; finish() exits 1 on any failure.
BUILD=${PVNET_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/$BUILD ;; esac
_failed=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; _failed=1; }
skip() { echo "SKIP: $*"; }
check() { # check "shell condition" "name"
	if eval "$1"; then pass "$2"; else fail "$2"; fi
}
finish() { exit $_failed; }

# need CMD...: skip the whole script (not fail) when a tool is missing.
need() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || { skip "$(basename "$0"): $c not installed"; exit 0; }
	done
}

# start_pvnetd DIR [ARGS...]: start pvnetd in the background, wait for its sockets.
start_pvnetd() {
	local dir=$1; shift
	"$BUILD"/pvnetd --run-dir "$dir" --log-level debug "$@" 2>>"$dir/pvnetd.log" &
	for _ in $(seq 100); do
		[ -S "$dir/hv.sock" ] && [ -S "$dir/xenstored.sock" ] && return 0
		sleep 0.05
	done
	cat "$dir/pvnetd.log" >&2
	return 1
}

# stop_pvnetd DIR: SIGTERM, wait, SIGKILL if it will not go.
stop_pvnetd() {
	local dir=$1 pid
	[ -f "$dir/pvnetd.pid" ] || return 0
	pid=$(cat "$dir/pvnetd.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
}
