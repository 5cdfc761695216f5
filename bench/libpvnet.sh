#!/usr/bin/env bash
# bench/libpvnet.sh - UDP ping-pong latency: the kernel's sockets beside
# libpvnet's (an application's own VI through pvnet-broker and
# pvnet-nicd), interrupt and spin modes, in one run.  Figures, not asserts.
#
#  host (netns)                                   ext (netns)
#  ┌───────────────────────────────────┐          ┌───────────────────────────────────┐
#  │ ping-pong client (kernel|libpvnet)│          │ echo server (kernel|libpvnet)     │
#  │ pvnet-broker, pvnet-nicd --port up0│══ veth ══│ pvnet-nicd --port eth0, broker    │
#  │ up0 198.18.0.1                    │          │ eth0 198.18.0.100                 │
#  └───────────────────────────────────┘          └───────────────────────────────────┘
#
# Rows: kernel <-> kernel; libpvnet client <-> kernel echo; libpvnet <->
# libpvnet in interrupt mode; the same in spin mode (PVNET_SPIN_US on both
# ends).  64-byte datagrams; half round trip p50 / p99 / p99.9 in
# microseconds, and the client's CPU seconds.  With both ends spinning on
# a 2-core machine the spinners and both pvnet-nicds share 2 CPUs: read
# the spin row with that in mind.
#
# usage: bench/libpvnet.sh [-n ROUND_TRIPS] [-s SPIN_US]     (as root)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
unset RUNID	# our own namespace names, also when bench/run.sh calls us
. "$top/tests/lib/common.sh"
BUILD=$top/${PVNET_BUILD:-build}
N=20000 SPIN=100000
while getopts "n:s:" o; do
	case $o in n) N=$OPTARG ;; s) SPIN=$OPTARG ;; *) exit 2 ;; esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench needs root"; exit 1; }
E=$BUILD/tests/helpers/pvnet_udp_echo
run=$(mktemp -d /tmp/pvnet-benchlib.XXXXXX)
trap 'ns_cleanup; rm -rf "$run"' EXIT
trap 'exit 130' INT TERM

mk_ns hostns host && mk_ns ext ext && veth_pair "$hostns" up0 "$ext" eth0 || exit 1
ip -n "$hostns" addr add 198.18.0.1/24 dev up0
ip -n "$ext" addr add 198.18.0.100/24 dev eth0
ip netns exec "$hostns" ping -c1 -W1 198.18.0.100 >/dev/null	# neighbours both ways
for side in host:"$hostns":up0:198.18.0.1 ext:"$ext":eth0:198.18.0.100; do
	IFS=: read -r name ns dev addr <<<"$side"
	start_nicd "$ns" "$run/$name-nic" "$dev" "$run/$name-nicd.log" || { echo "nicd $name"; exit 1; }
	echo "uid 0 vis 4 addr $addr udp 7000-7999" >"$run/$name.policy"
	ip netns exec "$ns" "$BUILD"/pvnet-broker --run-dir "$run/$name-brk" --nic "$run/$name-nic" \
		--policy "$run/$name.policy" 2>>"$run/$name-broker.log" &
	track_pid $!
	wait_for 5 "[ -S '$run/$name-brk/broker.sock' ]" || { echo "broker $name"; exit 1; }
done

row() { # NAME OUTPUT: a table line from a pingpong's "rtt_us" line
	awk -v name="$1" '/^rtt_us/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%-42s %8.1f %8.1f %8.1f %6s %8s\n", name, v["p50"] / 2, v["p99"] / 2, v["p999"] / 2, v["lost"], v["cpu_s"] }' <<<"$2"
}
# server NS ARGS...: an echo server in the background, until it says ready
server() {
	local ns=$1; shift
	ip netns exec "$ns" "$@" >"$run/srv.out" 2>>"$run/srv.log" &
	srv=$!
	track_pid $srv
	wait_for 5 "grep -q ready '$run/srv.out'"
}
stop_server() { kill -TERM "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; }

bout=${BENCH_OUT:-$top/build/bench}
mkdir -p "$bout"
{
printf '%-42s %8s %8s %8s %6s %8s\n' "UDP 64 B ping-pong, half RTT (us), $N RTs" p50 p99 p99.9 lost cpu_s
server "$ext" "$E" kecho 7000 0
row "kernel <-> kernel" "$(ip netns exec "$hostns" "$E" kpingpong 198.18.0.100:7000 "$N" 64)"
row "libpvnet (interrupt) <-> kernel" \
	"$(ip netns exec "$hostns" "$E" pingpong "$run/host-brk/broker.sock" 7001 198.18.0.100:7000 "$N" 64 2>/dev/null)"
stop_server
server "$ext" "$E" server "$run/ext-brk/broker.sock" 7100 0
row "libpvnet <-> libpvnet (interrupt)" \
	"$(ip netns exec "$hostns" "$E" pingpong "$run/host-brk/broker.sock" 7002 198.18.0.100:7100 "$N" 64 2>/dev/null)"
stop_server
server "$ext" env PVNET_SPIN_US="$SPIN" "$E" server "$run/ext-brk/broker.sock" 7101 0
row "libpvnet <-> libpvnet (spin ${SPIN} us)" \
	"$(ip netns exec "$hostns" env PVNET_SPIN_US="$SPIN" "$E" pingpong "$run/host-brk/broker.sock" 7003 198.18.0.100:7101 "$N" 64 2>/dev/null)"
stop_server
echo "(anchors, real hardware: ef_vi 0.59 us, Onload 0.72 us half RTT; here every frame also crosses two pvnet-nicd processes and a veth)"
} | tee "$bout/libpvnet.txt"
