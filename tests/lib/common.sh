# lib.sh - helpers for pvnet's integration scripts (sourced).
# Each check prints "PASS: name" or "FAIL: name"; finish() exits 1 on any failure.
BUILD=${PVNET_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/$BUILD ;; esac
# 1 when the binaries are the sanitizer build (make asan: build-asan/),
# several times slower: scripts scale their throughput floors with it.
case $BUILD in *asan*) SANITIZED=1 ;; *) SANITIZED=0 ;; esac
_failed=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; _failed=1; }
skip() { echo "SKIP: $*"; }
check() { # check "shell condition" "name"
	if eval "$1"; then pass "$2"; else fail "$2"; fi
}
finish() { exit $_failed; }
# keep_logs RUNDIR: after a failure, the daemons' logs of RUNDIR (and below)
# are copied beside the test's own log in build/test-logs, for the post-mortem.
keep_logs() {
	[ "$_failed" -eq 1 ] && [ -d "$1" ] || return 0
	local d f
	d=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/test-logs
	mkdir -p "$d"
	find "$1" -name '*.log' | while read -r f; do
		cp "$f" "$d/$(basename "$0" .sh).$(basename "$f")" 2>/dev/null
	done
}

# need CMD...: skip the whole script (not fail) when a tool is missing.
need() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || { skip "$(basename "$0"): $c not installed"; exit 0; }
	done
}

# start_pvnetd DIR [ARGS...]: start pvnetd in the background, wait for its sockets.
start_pvnetd() {
	local dir=$1 pid; shift
	"$BUILD"/pvnetd --run-dir "$dir" --log-level debug "$@" 2>>"$dir/pvnetd.log" &
	pid=$!
	# Sockets and pid file left by a killed pvnetd are not readiness:
	# wait for this pvnetd's own pid in the pid file, then its sockets.
	for _ in $(seq 100); do
		[ "$(cat "$dir/pvnetd.pid" 2>/dev/null)" = "$pid" ] &&
			[ -S "$dir/hv.sock" ] && [ -S "$dir/xenstored.sock" ] && return 0
		sleep 0.05
	done
	cat "$dir/pvnetd.log" >&2
	return 1
}

# start_nicd NS NICDIR PORT LOG: pvnet-nicd in NS owning PORT, its log
# appended to LOG; sets nicd_pid (tracked); fails if nic.sock never appears.
start_nicd() {
	mkdir -p "$2"
	rm -f "$2/nic.sock"
	ip netns exec "$1" "$BUILD"/pvnet-nicd --run-dir "$2" --port "$3" 2>>"$4" &
	nicd_pid=$!
	track_pid "$nicd_pid"
	wait_for 5 "[ -S '$2/nic.sock' ]"
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

# cdefine HEADER NAME: the integer of "#define NAME <integer>" in HEADER
# (a path in the source tree), so that scripts follow the code's constants.
cdefine() {
	local root
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	sed -nE "s/^#define[[:space:]]+$2[[:space:]]+\(?([0-9]+)u?\)?([[:space:]].*)?$/\1/p" \
		"$root/$1" | head -n1
}

# ---- network namespaces -------------------------------------------------
# Names are unique per run ($RUNID) and recorded so that ns_cleanup, run
# from a trap, removes them whatever happened.
RUNID=${RUNID:-$(printf '%04x' $(( (RANDOM << 1 ^ $$) & 0xffff )))}
_ns_list=()
_pids=()

# mk_ns VAR SUFFIX: create namespace pv$RUNID-SUFFIX with lo up, and set
# VAR to its name.  (Not "$(mk_ns ...)": a subshell would lose the record
# that ns_cleanup needs.)
mk_ns() {
	local n="pv$RUNID-$2"
	ip netns add "$n" || return 1
	_ns_list+=("$n")
	ip -n "$n" link set lo up
	printf -v "$1" '%s' "$n"
}

# bg PIDFILE-less background tracking: remember a pid to kill at cleanup.
track_pid() { _pids+=("$1"); }

ns_cleanup() {
	local p n
	for p in "${_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do
		for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	for n in "${_ns_list[@]}"; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
}

# veth_pair NS_A IF_A NS_B IF_B: a veth with one end in each namespace.
veth_pair() {
	# Temporary names in the root namespace, distinct even when both ends are "eth0".
	ip link add "pv$RUNID${2}a" type veth peer name "pv$RUNID${4}b" || return 1
	ip link set "pv$RUNID${2}a" netns "$1" name "$2" &&
	ip link set "pv$RUNID${4}b" netns "$3" name "$4" &&
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

# wait_for SECONDS CONDITION: poll a shell condition every 0.1 s.
wait_for() {
	local t=$(( $1 * 10 )); shift
	while [ $t -gt 0 ]; do
		eval "$1" && return 0
		sleep 0.1; t=$((t - 1))
	done
	return 1
}

need_root() {
	[ "$(id -u)" -eq 0 ] || { skip "$(basename "$0"): needs root"; exit 0; }
	ip netns add "pv$RUNID-probe" 2>/dev/null || { skip "$(basename "$0"): no network namespaces"; exit 0; }
	ip netns del "pv$RUNID-probe"
	[ -c /dev/net/tun ] || { skip "$(basename "$0"): no /dev/net/tun"; exit 0; }
}

# ---- a pvnet host under test ($run is its run directory) ----------------
# P ARGS: pvnetctl on this host.  jget KEY: a value from one JSON object.
P() { timeout 10 "$BUILD"/pvnetctl -r "$run" "$@"; }
jget() {
	grep -oE "\"$1\": *(\"([^\"\\\\]|\\\\.)*\"|[^,}]*)" | head -n1 |
		sed -E 's/^"[^"]*": *//; s/^"(.*)"$/\1/'
}
domid_of() { P --json domain-list | grep "\"name\": \"$1\"" | jget domid; }
vstat() { P --json vif-stats "$1" 0 | jget "$2"; }
# die MESSAGE: a failure that ends the script, with the logs' tails.
die() {
	fail "$*"
	for f in "$run"/*.log; do echo "--- $f"; tail -n 20 "$f"; done
	exit 1
}

# ---- the usual topology: pvnetd in "host", guests, an external host ------
# host_begin TAG: $run (a fresh /tmp/pvnet-TAG.XXXXXX) and $nicdir
# ($run/nic), and the traps: host_cleanup on exit, whatever happened.  A
# script with more to stop defines on_cleanup (called first).
host_begin() {
	run=$(mktemp -d "/tmp/pvnet-$1.XXXXXX") || { fail "mktemp"; exit 1; }
	nicdir=$run/nic
	trap host_cleanup EXIT
	trap 'exit 130' INT TERM
}
host_cleanup() {
	declare -F on_cleanup >/dev/null && on_cleanup
	stop_pvnetd "$run"
	ns_cleanup
	keep_logs "$run"
	rm -rf "$run"
}

# host_netns [VAR[:SUFFIX]...]: namespaces $hostns ("host") and $ext
# ("ext"), one per guest VAR (suffix VAR unless given), and the uplink:
# veth up0 in host <-> eth0 198.18.0.100/24 in ext.  Dies on failure.
host_netns() {
	local a
	mk_ns hostns host && mk_ns ext ext || die "namespaces"
	for a in "$@"; do
		mk_ns "${a%%:*}" "${a#*:}" || die "namespaces"
	done
	veth_pair "$hostns" up0 "$ext" eth0 || die "uplink veth"
	ip -n "$ext" addr add 198.18.0.100/24 dev eth0
}

# host_pvnetd [ARGS...]: pvnetd in $hostns on $run, its log in
# $run/pvnetd.log; sets pvnetd_pid (tracked); returns 0 once that pvnetd
# (not a killed one's leftovers) has written its pid and its sockets, 1
# after 10 s.
host_pvnetd() {
	# ip netns exec execs: $! is pvnetd.
	ip netns exec "$hostns" "$BUILD"/pvnetd --run-dir "$run" "$@" 2>>"$run/pvnetd.log" &
	pvnetd_pid=$!
	track_pid "$pvnetd_pid"
	wait_for 10 "[ \"\$(cat '$run/pvnetd.pid' 2>/dev/null)\" = $pvnetd_pid ] && [ -S '$run/ctl.sock' ] && [ -S '$run/hv.sock' ]"
}

# host_nic_pvnetd: pvnet-nicd in $hostns owning up0 ($nicdir, log
# $run/nicd.log), then pvnetd --nic on it; dies if either does not start.
host_nic_pvnetd() {
	start_nicd "$hostns" "$nicdir" up0 "$run/nicd.log" || die "pvnet-nicd did not start"
	host_pvnetd --nic "$nicdir" --log-level debug || die "pvnetd did not start"
}

# app_host [BROKER ARGS...] <POLICY: the topology of the user-level tests
# (libpvnet, its TCP, the preload): $hostns (up0 198.18.0.1) --veth--
# $ext (eth0 198.18.0.100), pvnet-nicd owning up0 ($nicdir, log
# $run/nicd.log), the policy read from standard input into $run/policy,
# and pvnet-broker on it ($brk, log $run/broker.log).  Apps run as
# nobody: "${AS_NOBODY[@]}" PROG.  Dies when something does not start.
app_host() {
	chmod 0711 "$run"	# the apps (uid 65534) must reach $run/brk/broker.sock
	brk=$run/brk/broker.sock
	mk_ns hostns host && mk_ns ext ext || die "namespaces"
	veth_pair "$hostns" up0 "$ext" eth0 || die "veth"
	ip -n "$hostns" addr add 198.18.0.1/24 dev up0
	ip -n "$ext" addr add 198.18.0.100/24 dev eth0
	start_nicd "$hostns" "$nicdir" up0 "$run/nicd.log" || die "pvnet-nicd did not start"
	cat >"$run/policy"
	ip netns exec "$hostns" "$BUILD"/pvnet-broker --run-dir "$run/brk" --nic "$nicdir" \
		--policy "$run/policy" "$@" 2>>"$run/broker.log" &
	track_pid $!
	wait_for 5 "[ -S '$brk' ]" || die "pvnet-broker did not start"
	AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
}

# start_guest NS NAME "ADDR..." [pvnet-front ARGS...]: pvnet-front NAME in
# NS (log $run/NAME.log, pid in front_pid_NAME, tracked); once eth0 is
# there, the addresses (IPv4 /24, IPv6 /64) and eth0 up.  Dies when eth0
# does not appear within 10 s.
start_guest() {
	local ns=$1 name=$2 addrs=$3 a; shift 3
	ip netns exec "$ns" "$BUILD"/pvnet-front --run-dir "$run" --name "$name" --ifname eth0 "$@" \
		2>>"$run/$name.log" &
	track_pid $!
	printf -v "front_pid_$name" '%s' $!
	wait_for 10 "ip -n '$ns' link show eth0 >/dev/null 2>&1" || die "$name: no eth0"
	for a in $addrs; do
		case $a in *:*) ip -n "$ns" addr add "$a/64" dev eth0 ;; *) ip -n "$ns" addr add "$a/24" dev eth0 ;; esac
	done
	ip -n "$ns" link set eth0 up
}
