#!/usr/bin/env bash
# bench/migrate.sh - migration downtime and guest-to-guest TCP across hosts
# (the "migration" section of make bench; runs alone too, as root).
#
#  g1 ═rings═> h1: pvnetd --nic ─ pvnet-nicd up0 ══ h1p ┐
#     (moves h1 <-> h2, N times)                     wire: br0 ─ e0 ══ ext eth0 .100
#  g2 ═rings═> h2: pvnetd --nic ─ pvnet-nicd up0 ══ h2p ┤        (1 ms pings to g1,
#                                  n1 .51 ══ n1p ───────┤         a TCP stream to g1)
#                                  n2 .52 ══ n2p ───────┘  native: veths on br0
#
# Downtime, per migration: the 1 ms pings from the external host to g1 that
# got no answer, and the longest pause between their replies; the longest
# pause in the bytes g1 receives of a TCP stream from the external host
# (tests/lib/stream.py); on the slow path (acceleration off), then with g1
# accelerated on both hosts, where the time from the start of "pvnetctl
# migrate" to the fast path Connected on the destination is also shown.
# Beside the ping gap, the longest one in the second before each move: on a
# loaded machine the replies pause for tens of ms without any move.
# Then TCP g1 -> g2 (g1 on host 1, g2 on host 2, through both hosts and the
# wire) slow and fast, beside two namespaces on veths into the same bridge.
#
# usage: bench/migrate.sh [-n MIGRATIONS] [-t SECONDS]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. tests/lib/common.sh
. tests/lib/hosts.sh
BUILD=$top/${PVNET_BUILD:-build}
N=10 SECS=5
while getopts "n:t:" o; do
	case $o in n) N=$OPTARG ;; t) SECS=$OPTARG ;; *) exit 2 ;; esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench/migrate.sh needs root"; exit 1; }
[ -x "$BUILD/pvnet-nicd" ] || { echo "bench/migrate.sh: no $BUILD/pvnet-nicd"; exit 1; }

wire_begin bmig
add_host 1 nic
add_host 2 nic
run1=${HOST_RUN[1]} run2=${HOST_RUN[2]}
C() { timeout 30 "$BUILD"/pvnetctl -r "$@"; }
dom_on() { C "$1" --json domain-list | grep "\"name\": \"$2\"" | jget domid; }
accel4() { [ "$(C "$1" --json accel "$2" 0 show | jget accelstate)" = 4 ]; }
mk_ns g1 g1 && mk_ns g2 g2 && mk_ns n1 n1 && mk_ns n2 n2 || die "namespaces"
use_host 1; start_guest "$g1" g1 198.18.0.1 --mac 00:16:3e:00:00:11
use_host 2; start_guest "$g2" g2 198.18.0.2 --mac 00:16:3e:00:00:22
for n in 1 2; do
	ns=n$n
	veth_pair "${!ns}" eth0 "$wire" "n${n}p" || die "native veth"
	ip -n "$wire" link set "n${n}p" master br0
	ip -n "${!ns}" addr add "198.18.0.5$n/24" dev eth0
done
ping_ok "$ext" 198.18.0.1 && ping_ok "$g1" 198.18.0.2 && ping_ok "$n1" 198.18.0.52 ||
	die "the hosts' guests or the native pair do not reach each other"

# p50 and max of VALUES
p50max() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END { if (!NR) { print "n/a"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%g / %g", m, v[NR] }'
}

# moves MODE: N migrations of g1 between the hosts under the stream and the
# pings; one line per move into $base/moves.MODE: "LOST SENT PING_GAP_MS
# STREAM_GAP_MS FAST_BACK_MS MIGRATE_MS".
moves() {
	local mode=$1 from=$run1 to=$run2 d i t0 t1 ms fb r pid rx
	rx=$base/rx.$mode
	d=$(dom_on "$from" g1)
	if [ "$mode" = fast ]; then
		C "$from" accel "$d" 0 on pvnic >/dev/null
		C "$to" accel "$(dom_on "$to" g2)" 0 on pvnic >/dev/null
		wait_for 10 "accel4 '$from' $d" || die "g1 not accelerated"
	fi
	ip netns exec "$g1" env STREAM_GAP_MS=5 timeout $((N * 7 + 30)) \
		python3 tests/lib/stream.py recv "$rx" &
	pid=$!; track_pid $pid
	wait_for 5 "ip netns exec '$g1' ss -ltn | grep -q ':5555 '" || die "stream receiver"
	ip netns exec "$ext" timeout $((N * 7 + 30)) python3 tests/lib/stream.py send 198.18.0.1 \
		$((N * 7 + 5)) "$base/tx.$mode" &
	track_pid $!
	sleep 1
	: >"$base/moves.$mode"
	for i in $(seq "$N"); do
		mig_ping_start "$ext" 198.18.0.1 "$base/ping"
		sleep 1
		t0=$(date +%s.%N)
		C "$from" migrate "$d" --to "$to" >"$base/mig.out" 2>&1 || { cat "$base/mig.out"; die "migration $i failed"; }
		t1=$(date +%s.%N)
		d=$(dom_on "$to" g1)
		fb=-
		if [ "$mode" = fast ]; then
			wait_for 5 "accel4 '$to' ${d:-0}" &&
				fb=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
		fi
		sleep 1
		r=$(mig_ping_stop "$base/ping")
		ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
		set -- $r
		echo "$2 $1 $3 $(mig_stream_gap "$rx.gaps" "$t0" "$(date +%s.%N)") $fb $ms $(mig_ping_gap_before "$base/ping" "$t0")" >>"$base/moves.$mode"
		printf '  %s path, move %2d (%s): %4d of %5d pings lost, longest ping gap %4d ms, stream gap %4d ms, fast path back %s ms, migrate took %d ms; longest ping gap in the second before %d ms\n' \
			"$mode" "$i" "$([ "$from" = "$run1" ] && echo "1->2" || echo "2->1")" \
			$(tail -n1 "$base/moves.$mode")
		t0=$from; from=$to; to=$t0
	done
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	if [ "$from" != "$run1" ]; then	# g1 home again for the next part
		C "$from" migrate "$d" --to "$run1" >/dev/null 2>&1 || die "g1 not back on host 1"
	fi
}
col() { awk -v c="$2" '{ print $c }' "$base/moves.$1" | grep -v '^-$'; }

echo
echo "migration: g1 between two hosts with NICs on one bridge, $N moves each way in turn, under a TCP"
echo "stream and 1 ms pings from the external host (machine shared with other sessions: loaded)"
moves slow
moves fast
d1=$(dom_on "$run1" g1) d2=$(dom_on "$run2" g2)
C "$run1" accel "$d1" 0 off >/dev/null; C "$run2" accel "$d2" 0 off >/dev/null
sleep 1

iperf_g() { # CLIENT_NS SERVER_NS SERVER_IP: Gbit/s, 1 stream, SECS
	ip netns exec "$2" iperf3 -s -1 -D -I "$base/iperf.pid" >/dev/null 2>&1
	sleep 0.3
	ip netns exec "$1" timeout $((SECS + 10)) iperf3 -c "$3" -t "$SECS" -J 2>/dev/null |
		awk '/"sum_received"/ {r=1} r && /"bits_per_second"/ {gsub(/,/,""); printf "%.2f", $2/1e9; exit}'
	kill "$(cat "$base/iperf.pid" 2>/dev/null)" 2>/dev/null
	sleep 0.2
}
g_native=$(iperf_g "$n1" "$n2" 198.18.0.52)
g_slow=$(iperf_g "$g1" "$g2" 198.18.0.2)
C "$run1" accel "$d1" 0 on pvnic >/dev/null; C "$run2" accel "$d2" 0 on pvnic >/dev/null
wait_for 10 "accel4 '$run1' $d1 && accel4 '$run2' $d2" || echo "(acceleration did not come up on both)"
ip netns exec "$g1" ping -c 3 -i 0.2 -q 198.18.0.2 >/dev/null 2>&1
g_fast=$(iperf_g "$g1" "$g2" 198.18.0.2)

bout=${BENCH_OUT:-$BUILD/bench}
mkdir -p "$bout"
{
echo
echo "migration downtime, $N migrations (p50 / max), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, loaded by other sessions"
printf '%-52s %-18s %-18s\n' "measurement" "slow path" "fast path (both hosts)"
printf '%-52s %-18s %-18s\n' "1 ms pings lost per migration" "$(p50max $(col slow 1))" "$(p50max $(col fast 1))"
printf '%-52s %-18s %-18s\n' "longest gap between ping replies, ms" "$(p50max $(col slow 3))" "$(p50max $(col fast 3))"
printf '%-52s %-18s %-18s\n' "  the same in the second before the move (no move)" "$(p50max $(col slow 7))" "$(p50max $(col fast 7))"
printf '%-52s %-18s %-18s\n' "longest gap in the TCP stream's received bytes, ms" "$(p50max $(col slow 4))" "$(p50max $(col fast 4))"
printf '%-52s %-18s %-18s\n' "fast path Connected on the destination, ms" "-" "$(p50max $(col fast 5))"
printf '%-52s %-18s %-18s\n' "pvnetctl migrate, start to return, ms" "$(p50max $(col slow 6))" "$(p50max $(col fast 6))"
echo "(target: p50 at most 50 ms of downtime, the fast path back within 1000 ms; Xen: 60-210 ms)"
echo
echo "TCP guest -> guest across two hosts (iperf3, 1 stream, ${SECS} s, Gbit/s): native veths on the bridge $g_native," \
	"pvnet slow path $g_slow, fast path $g_fast"
} | tee "$bout/migrate.txt"
