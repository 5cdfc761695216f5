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
# ends).  Then Debian's sockperf, unmodified: ping-pong over the kernel's
# sockets (where the scheduler puts them, then pinned to one CPU and to two)
# beside the same program under libpvnet-preload.so (interrupt,
# spin, and preloaded on both ends), UDP 64-byte messages per second one
# way (sockperf throughput, the sender's rate), and TCP through lwIP (libpvnet
# layer 3) beside the kernel's TCP, 32 MiB each way.  64-byte datagrams; half round trip p50 / p99 / p99.9 in
# microseconds, and the client's CPU seconds.  With both ends spinning on
# a 2-core machine the spinners and both pvnet-nicds share 2 CPUs: read
# the spin row with that in mind.
#
# -p POLL_US: both pvnet-nicds poll for POLL_US after their last frame
# (pvnet-nicd --poll-us, through PVNET_NIC_POLL_US; 0: they sleep in epoll
# between frames, as before the option).  With perf installed, the
# libpvnet ping-pong rows also print the client's and the host
# pvnet-nicd's context switches and system calls per round trip (perf
# stat: context-switches, raw_syscalls:sys_enter).
#
# usage: bench/libpvnet.sh [-n ROUND_TRIPS] [-s SPIN_US] [-t SOCKPERF_SECONDS] [-p POLL_US]   (as root)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
unset RUNID	# our own namespace names, also when bench/run.sh calls us
. "$top/tests/lib/common.sh"
BUILD=$top/${PVNET_BUILD:-build}
N=20000 SPIN=100000 SP_T=3 POLL=200
while getopts "n:s:t:p:" o; do
	case $o in n) N=$OPTARG ;; s) SPIN=$OPTARG ;; t) SP_T=$OPTARG ;; p) POLL=$OPTARG ;; *) exit 2 ;; esac
done
export PVNET_NIC_POLL_US=$POLL
[ "$(id -u)" -eq 0 ] || { echo "bench needs root"; exit 1; }
E=$BUILD/tests/helpers/pvnet_udp_echo
X=$BUILD/tests/helpers/pvnet_tcp_xfer
PRE=$BUILD/lib/libpvnet-preload.so
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
	[ "$name" = host ] && host_nicd=$nicd_pid
	echo "uid 0 vis 4 addr $addr udp 7000-7999 tcp 7000-7999" >"$run/$name.policy"
	ip netns exec "$ns" "$BUILD"/pvnet-broker --run-dir "$run/$name-brk" --nic "$run/$name-nic" \
		--policy "$run/$name.policy" 2>>"$run/$name-broker.log" &
	track_pid $!
	wait_for 5 "[ -S '$run/$name-brk/broker.sock' ]" || { echo "broker $name"; exit 1; }
done

row() { # NAME OUTPUT NICD_TICKS: a table line from a pingpong's "rtt_us" line; CPU
	# per message (2 a round trip): the client's own (its rusage) and the
	# host pvnet-nicd's (its utime + stime over the run)
	awk -v name="$1" -v nt="${3:-0}" -v hz="$(getconf CLK_TCK)" '/^rtt_us/ {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		m = 2 * v["n"]
		printf "%-42s %8.1f %8.1f %8.1f %6s %8s %8.1f %8.1f\n", name, v["p50"] / 2, v["p99"] / 2,
			v["p999"] / 2, v["lost"], v["cpu_s"], m ? v["cpu_s"] * 1e6 / m : 0, m ? nt / hz * 1e6 / m : 0 }' <<<"$2"
}
nicd_ticks() { awk '{ print $14 + $15 }' "/proc/$host_nicd/stat" 2>/dev/null || echo 0; }
# measured NAME CMD...: row NAME of CMD's output, with the host pvnet-nicd's CPU during it
measured() {
	local name=$1 t0 o
	shift
	t0=$(nicd_ticks)
	o=$("$@" 2>/dev/null)
	row "$name" "$o" $(($(nicd_ticks) - t0))
}
# counted NAME CMD...: CMD's output; with perf, the client's (CMD's) and the
# host pvnet-nicd's context switches and system calls per round trip
# into $run/counts (a table after the rows).
counted() {
	local name=$1; shift
	if ! command -v perf >/dev/null; then "$@"; return; fi
	perf stat -x, -e context-switches,raw_syscalls:sys_enter -p "$host_nicd" \
		-o "$run/nicd.perf" 2>/dev/null &
	local pp=$!
	perf stat -x, -e context-switches,raw_syscalls:sys_enter -o "$run/app.perf" -- "$@"
	kill -INT $pp 2>/dev/null; wait $pp 2>/dev/null
	awk -F, -v name="$name" -v n="$N" '
		FNR == 1 { f++ } /context-switches/ { cs[f] = $1 } /sys_enter/ { sc[f] = $1 }
		END { printf "%-42s %8.2f %8.2f %8.2f %8.2f\n", name, cs[1] / n, sc[1] / n, cs[2] / n, sc[2] / n }' \
		"$run/app.perf" "$run/nicd.perf" >>"$run/counts"
}
# server NS ARGS...: an echo server in the background, until it says ready
server() {
	local ns=$1; shift
	ip netns exec "$ns" "$@" >"$run/srv.out" 2>>"$run/srv.log" &
	srv=$!
	track_pid $srv
	wait_for 5 "grep -qs ready '$run/srv.out'"
}
stop_server() { kill -TERM "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; }
# pre SPIN_US CMD...: CMD in the host namespace under libpvnet-preload.so
pre() {
	local spin=$1; shift
	ip netns exec "$hostns" env LD_PRELOAD="$PRE" PVNET_BROKER="$run/host-brk/broker.sock" \
		PVNET_SPIN_US="$spin" "$@"
}
sprow() { # NAME OUTPUT: a table line from sockperf ping-pong's percentiles
	awk -v name="$1" '/percentile 50.000 =/ { p50 = $NF } /percentile 99.000 =/ { p99 = $NF }
		/percentile 99.900 =/ { p999 = $NF }
		/\[Valid Duration\]/ { for (i = 1; i <= NF; i++) if ($i ~ /ReceivedMessages=/) { split($i, kv, "="); n = kv[2] + 0 } }
		END { printf "%-42s %8s %8s %8s %10s\n", name, p50, p99, p999, n }' <<<"$2"
}
tprow() { # NAME OUTPUT: sockperf throughput's message rate
	awk -v name="$1" '/Message Rate is/ { for (i = 1; i <= NF; i++) if ($i == "is") r = $(i + 1) }
		END { printf "%-42s %12s\n", name, r }' <<<"$2"
}

bout=${BENCH_OUT:-$top/build/bench}
mkdir -p "$bout"
{
printf '%-42s %8s %8s %8s %6s %8s %8s %8s\n' "UDP 64 B ping-pong, half RTT (us), $N RTs" p50 p99 p99.9 lost cpu_s \
	app_us/m nicd_us/m
server "$ext" "$E" kecho 7000 0
measured "kernel <-> kernel" ip netns exec "$hostns" "$E" kpingpong 198.18.0.100:7000 "$N" 64
measured "libpvnet (interrupt) <-> kernel" counted "libpvnet (interrupt) <-> kernel" ip netns exec "$hostns" "$E" pingpong "$run/host-brk/broker.sock" 7001 198.18.0.100:7000 "$N" 64
measured "libpvnet (spin ${SPIN} us) <-> kernel" counted "libpvnet (spin) <-> kernel" ip netns exec "$hostns" env PVNET_SPIN_US="$SPIN" "$E" pingpong "$run/host-brk/broker.sock" 7004 198.18.0.100:7000 "$N" 64
stop_server
server "$ext" "$E" server "$run/ext-brk/broker.sock" 7100 0
measured "libpvnet <-> libpvnet (interrupt)" counted "libpvnet <-> libpvnet (interrupt)" ip netns exec "$hostns" "$E" pingpong "$run/host-brk/broker.sock" 7002 198.18.0.100:7100 "$N" 64
stop_server
server "$ext" env PVNET_SPIN_US="$SPIN" "$E" server "$run/ext-brk/broker.sock" 7101 0
measured "libpvnet <-> libpvnet (spin ${SPIN} us)" counted "libpvnet <-> libpvnet (spin)" ip netns exec "$hostns" env PVNET_SPIN_US="$SPIN" "$E" pingpong "$run/host-brk/broker.sock" 7003 198.18.0.100:7101 "$N" 64
stop_server
echo "(anchors, real hardware: ef_vi 0.59 us, Onload 0.72 us half RTT; here every frame also crosses two pvnet-nicd processes and a veth)"
echo "(pvnet-nicd polling ${POLL} us after its last frame: --poll-us)"
if [ -s "$run/counts" ]; then
	echo
	printf '%-42s %8s %8s %8s %8s\n' "per round trip (perf stat)" app_cs app_sys nicd_cs nicd_sys
	cat "$run/counts"
fi

# sockperf (Debian's, unmodified): the kernel's sockets, then under libpvnet-preload.so.
if command -v sockperf >/dev/null && [ -e "$PRE" ]; then
	echo
	printf '%-42s %8s %8s %8s %10s\n' "sockperf ping-pong UDP 64 B, half RTT (us), ${SP_T}s" p50 p99 p99.9 "RTs"
	server "$ext" sh -c 'echo ready; exec sockperf server -i 198.18.0.100 -p 7200'
	sprow "kernel <-> kernel" "$(ip netns exec "$hostns" sockperf ping-pong -i 198.18.0.100 -p 7200 -m 64 -t "$SP_T" 2>&1)"
	stop_server
	# The kernel's figure depends on where the scheduler puts the two ends:
	# on one CPU a round trip is two system calls and two local wake-ups,
	# on two CPUs it also wakes the other (idle) vCPU each way.  Both, pinned.
	server "$ext" sh -c 'echo ready; exec taskset -c 0 sockperf server -i 198.18.0.100 -p 7200'
	sprow "kernel <-> kernel, both on CPU 0" \
		"$(ip netns exec "$hostns" taskset -c 0 sockperf ping-pong -i 198.18.0.100 -p 7200 -m 64 -t "$SP_T" 2>&1)"
	[ "$(nproc)" -ge 2 ] && sprow "kernel <-> kernel, CPU 1 <-> CPU 0" \
		"$(ip netns exec "$hostns" taskset -c 1 sockperf ping-pong -i 198.18.0.100 -p 7200 -m 64 -t "$SP_T" 2>&1)"
	stop_server
	server "$ext" sh -c 'echo ready; exec sockperf server -i 198.18.0.100 -p 7200'
	sprow "preload (interrupt) <-> kernel" "$(pre 0 sockperf ping-pong -i 198.18.0.100 -p 7200 -m 64 -t "$SP_T" 2>&1)"
	sprow "preload (spin ${SPIN} us) <-> kernel" "$(pre "$SPIN" sockperf ping-pong -i 198.18.0.100 -p 7200 -m 64 -t "$SP_T" 2>&1)"
	stop_server
	server "$ext" env LD_PRELOAD="$PRE" PVNET_BROKER="$run/ext-brk/broker.sock" PVNET_SPIN_US="$SPIN" \
		sh -c 'echo ready; exec sockperf server -i 198.18.0.100 -p 7201'
	sprow "preload <-> preload (spin ${SPIN} us)" "$(pre "$SPIN" sockperf ping-pong -i 198.18.0.100 -p 7201 -m 64 -t "$SP_T" 2>&1)"
	stop_server
	echo
	printf '%-42s %12s\n' "sockperf throughput UDP 64 B one way, ${SP_T}s" "msg/s sent"
	server "$ext" sh -c 'echo ready; exec sockperf server -i 198.18.0.100 -p 7202'
	tprow "kernel -> kernel" "$(ip netns exec "$hostns" sockperf throughput -i 198.18.0.100 -p 7202 -m 64 -t "$SP_T" 2>&1)"
	tprow "preload (interrupt) -> kernel" "$(pre 0 sockperf throughput -i 198.18.0.100 -p 7202 -m 64 -t "$SP_T" 2>&1)"
	tprow "preload (spin ${SPIN} us) -> kernel" "$(pre "$SPIN" sockperf throughput -i 198.18.0.100 -p 7202 -m 64 -t "$SP_T" 2>&1)"
	stop_server
else
	echo "(sockperf or libpvnet-preload.so missing: no sockperf rows)"
fi

# TCP: lwIP over the VI beside the kernel's TCP, 32 MiB each way.
echo
printf '%-42s %10s\n' "TCP 32 MiB, one connection" "Mbit/s"
head -c 33554432 /dev/urandom >"$run/data"
server "$ext" "$X" -t krecv 7300 /dev/null
ip netns exec "$hostns" "$X" -t ksend 198.18.0.100:7300 "$run/data" >/dev/null
wait "$srv" 2>/dev/null
printf '%-42s %10s\n' "kernel -> kernel" "$(sed -n 's/^mbit_s=//p' "$run/srv.out")"
server "$ext" "$X" -t krecv 7301 /dev/null
ip netns exec "$hostns" "$X" -t send "$run/host-brk/broker.sock" 198.18.0.100:7301 "$run/data" >/dev/null 2>&1
wait "$srv" 2>/dev/null
printf '%-42s %10s\n' "libpvnet lwIP -> kernel" "$(sed -n 's/^mbit_s=//p' "$run/srv.out")"
server "$hostns" "$X" -t recv "$run/host-brk/broker.sock" 7302 /dev/null
ip netns exec "$ext" "$X" -t ksend 198.18.0.1:7302 "$run/data" >/dev/null
wait "$srv" 2>/dev/null
printf '%-42s %10s\n' "kernel -> libpvnet lwIP" "$(sed -n 's/^mbit_s=//p' "$run/srv.out")"
echo "(the machine may be loaded by other work: compare rows of one run, not runs)"
} | tee "$bout/libpvnet.txt"
