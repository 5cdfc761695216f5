#!/usr/bin/env bash
# bench/storm.sh - storm control as a figure (issue 9): a guest's TCP to
# the external host while another guest floods broadcasts at full rate,
# beside the same guest's TCP without the flood, on each path, in one run
# (alone and flooded alternate, so the machine's load drifts into both
# alike).  Figures, not asserts.
#
#  g  .1 (pvnet-front)  victim: iperf3 -c ext          ╗
#  f  .66 (pvnet-front) flooder: macflood -d ff:ff:..   ╠═ pvnetd --nic ═ pvnet-nicd (up0) ═ ext .100
#  evil_vi              flooder on its own VI           ╝
#
# Rows:
#   slow path:  g's acceleration off; f's root floods broadcasts from a raw
#               socket (macflood -r 0): netback, the switch's storm
#               control (the vif's bucket), the flood to every port;
#   fast path, a hostile frontend's VI flood: g accelerated; evil_vi
#               writes 1514-byte broadcasts straight onto its VI as fast as
#               it takes them (txflood): the NIC's storm control (the VI's
#               bucket, programmed by the pvnic backend from its vif's keys);
#   fast path, a kernel guest's flood: g accelerated; f floods as in the
#               first row (an honest frontend sends broadcasts on the slow
#               path: the switch limits them, the host VI carries what passes);
#   fast path, the VI flood with storm control off: the second row with
#               evil's vif's storm-broadcast = 0 (the VI unlimited, as
#               before the NIC had storm control): the baseline, same run.
# Per row: g's Gbit/s alone and flooded (median (min-max) of REPS runs of
# SECONDS), the share (flooded median / alone median), what the flooder
# offered and what pvnetd or the NIC took of it (kframes/s: netback holds
# a flooding vif's ring 1 ms after each storm drop, so a kernel guest's
# flood is mostly dropped in its own kernel) and what storm control
# dropped of what was taken.
# The flooders run at nice 19: a guest floods with its own vCPU, not the
# host's (as tests/integration/fastpath_evil.sh runs evil_vi); on this
# machine guests and host share 2 cores.
#
# usage: bench/storm.sh [-r REPS] [-t SECONDS] [-o ROWS]     (as root)
#   -o ROWS: also append the rows to the file ROWS as bench/run.sh's table
#   takes them ("1500|measurement|path|cell").
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
unset RUNID	# our own namespace names, also when bench/run.sh calls us
. "$top/tests/lib/common.sh"
BUILD=$top/${PVNET_BUILD:-build}
REPS=3 SECS=5 ROWS=""
while getopts "r:t:o:" o; do
	case $o in r) REPS=$OPTARG ;; t) SECS=$OPTARG ;; o) ROWS=$OPTARG ;; *) exit 2 ;; esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench needs root"; exit 1; }
EVIL=$BUILD/tests/helpers/evil_vi MACFLOOD=$BUILD/tests/helpers/macflood
run=$(mktemp -d /tmp/pvnet-benchstorm.XXXXXX)
cleanup() {
	[ -n "${ev_pid:-}" ] && kill "$ev_pid" 2>/dev/null
	stop_pvnetd "$run"
	ns_cleanup
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
P() { "$BUILD"/pvnetctl -r "$run" "$@"; }

mk_ns hostns host && mk_ns ext ext && mk_ns g g && mk_ns f f && mk_ns evns evil || exit 1
veth_pair "$hostns" up0 "$ext" eth0 || exit 1
ip -n "$ext" addr add 198.18.0.100/24 dev eth0
extmac=$(ip -n "$ext" -br link show eth0 | awk '{ print $3 }')
start_nicd "$hostns" "$run/nic" up0 "$run/nicd.log" || { echo "pvnet-nicd did not start"; exit 1; }
ip netns exec "$hostns" "$BUILD"/pvnetd --run-dir "$run" --nic "$run/nic" 2>"$run/pvnetd.log" &
track_pid $!
wait_for 10 "[ -S '$run/ctl.sock' ] && [ -S '$run/hv.sock' ]" || { echo "pvnetd did not start"; exit 1; }
for gn in g:198.18.0.1 f:198.18.0.66; do
	ns=$g; [ "${gn%%:*}" = f ] && ns=$f
	ip netns exec "$ns" "$BUILD"/pvnet-front --run-dir "$run" --name "${gn%%:*}" --ifname eth0 \
		2>"$run/${gn%%:*}.log" &
	track_pid $!
	wait_for 10 "ip -n '$ns' link show eth0 >/dev/null 2>&1" || { echo "no eth0 in ${gn%%:*}"; exit 1; }
	ip -n "$ns" addr add "${gn#*:}/24" dev eth0; ip -n "$ns" link set eth0 up
done
wait_for 10 "ip netns exec '$g' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1" || { echo "g does not reach ext"; exit 1; }
dom() { P --json domain-list | grep "\"name\": \"$1\"" | jget domid; }
dg=$(dom g) df=$(dom f)
fmac=$(P --json vif-stats "$df" 0 | jget mac)
vst() { P --json vif-stats "$1" 0 | jget "$2"; }
# what f's root sent on its eth0: queued to the TAP, or dropped by f's own kernel (queue full)
f_eth0_tx() {
	local d=/sys/class/net/eth0/statistics
	ip netns exec "$f" sh -c "echo \$(( \$(cat $d/tx_packets) + \$(cat $d/tx_dropped) ))"
}

# The hostile frontend: a VI of its own, driven line by line.
coproc EV { ip netns exec "$evns" nice -n 19 timeout $((REPS * 4 * (SECS + 20) + 120)) "$EVIL" \
	--run-dir "$run" --name evil --dst-mac "$extmac" --seconds $((SECS + 3)) 2>"$run/evil.log"; }
ev_pid=$EV_PID
track_pid "$ev_pid"
ev_in=${EV[0]} ev_out=${EV[1]}
hear() { line=""; read -r -t "${2:-30}" line <&"$ev_in" && [ "${line%% *}" = "$1" ]; }
field() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p" | head -n1; }
hear READY || { echo "evil_vi did not start ($line)"; exit 1; }
read -r _ de _ <<<"$line"
P accel "$de" 0 on pvnic >/dev/null
hear VI || { echo "evil_vi got no VI ($line)"; exit 1; }

tcp() { # g -> ext, Gbit/s over SECS
	ip netns exec "$ext" iperf3 -s -1 -D -I "$run/iperf.pid" >/dev/null 2>&1
	sleep 0.3
	ip netns exec "$g" timeout $((SECS + 10)) iperf3 -c 198.18.0.100 -t "$SECS" -J 2>/dev/null |
		awk '/"sum_received"/ {r=1} r && /"bits_per_second"/ {gsub(/,/,""); printf "%.3f\n", $2/1e9; exit}'
	kill "$(cat "$run/iperf.pid" 2>/dev/null)" 2>/dev/null
	sleep 0.2
}
stats() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
		if (NR == 0) { print "n/a"; exit }
		m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
		printf "%.2f (%.2f-%.2f)", m, v[1], v[NR] }'
}
median() { stats "$@" | awk '{ print $1 }'; }
accel() { # on|off: g's acceleration
	if [ "$1" = off ]; then
		P accel "$dg" 0 off >/dev/null 2>&1
		sleep 1
		return
	fi
	P accel "$dg" 0 on pvnic >/dev/null
	wait_for 10 "P --json accel $dg 0 show | grep -q '\"accelstate\": \"4\"'" || echo "g: acceleration did not reach Connected" >&2
	ip netns exec "$g" ping -c 3 -i 0.2 -q 198.18.0.100 >/dev/null
}

# row LABEL PATH FLOODER: alone and flooded runs alternating; FLOODER
# "kernel" (macflood in f) or "vi" (evil_vi's txflood); PATH "" : not in
# bench/run.sh's table
out=$run/rows
row() {
	local label=$1 path=$2 how=$3 alone=() fl=() i t0 t1 s0 s1 k0 k1 e0 e1 offered=0 taken=0 dropped=0 ms=0 fp
	for i in $(seq "$REPS"); do
		alone+=("$(tcp)")
		t0=$(date +%s%N)
		if [ "$how" = kernel ]; then
			s0=$(vst "$df" tx_packets) k0=$(vst "$df" tx_storm_bcast) e0=$(f_eth0_tx)
			ip netns exec "$f" nice -n 19 timeout $((SECS + 2)) "$MACFLOOD" -d ff:ff:ff:ff:ff:ff \
				-S "$fmac" -r 0 eth0 100000000 >/dev/null 2>&1 &
			fp=$!
			fl+=("$(tcp)")
			wait "$fp"
			t1=$(date +%s%N)
			s1=$(vst "$df" tx_packets) k1=$(vst "$df" tx_storm_bcast) e1=$(f_eth0_tx)
			offered=$((offered + e1 - e0)) taken=$((taken + s1 - s0)) dropped=$((dropped + k1 - k0))
		else
			echo "txflood $((SECS + 1)) ff:ff:ff:ff:ff:ff" >&"$ev_out"
			fl+=("$(tcp)")
			hear RESULT $((SECS + 30)) || echo "evil_vi: no RESULT ($line)" >&2
			t1=$(date +%s%N)
			offered=$((offered + $(field tx_done) + $(field t_storm)))
			taken=$((taken + $(field tx_done) + $(field t_storm)))
			dropped=$((dropped + $(field t_storm)))
		fi
		ms=$((ms + (t1 - t0) / 1000000))
	done
	local a f share
	a=$(median "${alone[@]}") f=$(median "${fl[@]}")
	share=$(awk -v a="$a" -v f="$f" 'BEGIN { if (a > 0) printf "%.0f%%", 100 * f / a; else print "n/a" }')
	printf '%s|%s|%s|%s|%s|%s|%s\n' "$label" "$(stats "${alone[@]}")" "$(stats "${fl[@]}")" "$share" \
		"$(awk -v n="$offered" -v ms="$ms" 'BEGIN { printf "%.0f", ms ? n / ms : 0 }')" \
		"$(awk -v n="$taken" -v ms="$ms" 'BEGIN { printf "%.1f", ms ? n / ms : 0 }')" \
		"$(awk -v n="$taken" -v d="$dropped" 'BEGIN { printf "%.1f%%", n ? 100 * d / n : 0 }')" >>"$out"
	[ -n "$ROWS" ] && [ -n "$path" ] && {
		echo "1500|storm: guest -> ext alone, Gbit/s|$path|$(stats "${alone[@]}")"
		echo "1500|storm: guest -> ext, another guest's broadcast flood, Gbit/s|$path|$(stats "${fl[@]}") = $share"
	} >>"$ROWS"
	return 0
}

accel off
row "slow path (flood: kernel guest, raw socket)" slow kernel
accel on
row "fast path (flood: hostile frontend, its VI)" fast vi
row "fast path (flood: kernel guest, raw socket)" "" kernel
bc_def=$(cdefine src/lib/storm.h PV_STORM_DEFAULT_BCAST_PPS)
XSW() { "$BUILD"/tests/helpers/xs_write "$run/xenstored.sock" "/local/domain/0/backend/vif/$de/0/storm-broadcast" "$1"; }
if XSW 0 && wait_for 5 "[ \"\$(P --json accel $de 0 show | jget storm_bcast_pps)\" = 0 ]"; then
	row "fast path (hostile VI), storm control off" "" vi
	XSW "$bc_def"
else
	echo "storm-broadcast 0 did not reach evil's VI: no baseline row" >&2
fi
echo quit >&"$ev_out"

echo "storm control: g's TCP to ext (iperf3, 1 stream) alone and under another guest's full-rate broadcast flood,"
echo "${REPS}x${SECS}s each, alternating; flooders at nice 19 (a guest's own vCPU); $(nproc) cores shared with other work"
printf '%-46s %-22s %-22s %-7s %-13s %-11s %s\n' "path (flooder)" "alone Gbit/s" "flooded Gbit/s" "share" \
	"offered kfps" "taken kfps" "storm-dropped"
while IFS='|' read -r l a f s o t d; do
	printf '%-46s %-22s %-22s %-7s %-13s %-11s %s\n' "$l" "$a" "$f" "$s" "$o" "$t" "$d"
done <"$out"
echo "offered: what the flooder sent (a kernel guest: its eth0's tx_packets + tx_dropped, its own kernel"
echo "dropping what its queue cannot hold; a hostile VI: what the NIC read); taken: what pvnetd's netback"
echo "(a kernel guest) or the NIC (a VI) took off the guest's ring; storm-dropped: of what was taken"
echo "limits: the defaults of src/lib/storm.h ($(cdefine src/lib/storm.h PV_STORM_DEFAULT_BCAST_PPS) broadcasts/s, burst x$(cdefine src/lib/storm.h PV_STORM_BURST_FACTOR)); target: share >= 70% on each path"
