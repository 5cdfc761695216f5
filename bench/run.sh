#!/usr/bin/env bash
# bench/run.sh - pvnet's benchmarks, each side by side with its baseline,
# measured in the same run.  Figures are printed, not asserted.
#
#   native:  g1 --veth-- [linux bridge in ns "br"] --veth-- g2
#   pvnet:   g1 (pvnet-front) ==rings== pvnetd (netback, bridge) ==rings== g2 (pvnet-front)
#   raw:     pvnet-bench gen ==rings== pvnetd (netback, bridge) ==rings== pvnet-bench sink
#            (netfront's frame API: no TAP, no kernel stack; 60 and 1514-byte frames)
#   to ext:  one guest to an external host and the external host to it:
#            natively on a veth, and through pvnetd --nic and pvnet-nicd on
#            a veth, slow path then fast path: TCP both ways, UDP at 1 and
#            5 Gbit/s offered, the highest rate losing at most 0.1% (RFC
#            2544, by bisection), ping RTT; then TCP and ping again
#            through a pvnet-nicd polling 50 us after its last frame
#            (--poll-us 50), and TCP with every interface at MTU 9000
#   the table: all of these (and guest <-> guest) in one table, native /
#            slow / fast side by side, CPU seconds of all pvnet processes
#            per GB beside each TCP figure; also written, with a gnuplot
#            chart of the TCP rows, to $BENCH_OUT (default build/bench):
#            table.txt, tcp.dat, chart.svg
#   storm:   a guest's TCP to the external host under another guest's
#            full-rate broadcast flood, beside the same guest alone, slow
#            and fast path (bench/storm.sh, also runnable alone)
#   N to ext: 1, 2 and 4 guests sending to the external host at once (one
#            iperf3 stream each, one server per guest on its own port in
#            the external namespace), on each path:
#              native: n1..n4 --veth-- [Linux bridge in ns "mbr"] --veth-- ext
#              pvnet:  m1..m4 (pvnet-front) ==== pvnetd --nic ==== pvnet-nicd --veth-- ext
#            Fair because both have the same shape: N senders, one switch
#            (the Linux bridge; pvnetd's bridge or the NIC), one shared link
#            to the external host, its kernel receiving every stream.  The
#            fast path is every guest's acceleration on, the slow path off.
#   migration: a guest moved 10 times between two hosts under 1 ms pings
#            and a TCP stream: lost pings, longest gaps, the fast path back;
#            guest <-> guest TCP across the hosts (bench/migrate.sh)
#
# usage: bench/run.sh [-r REPS] [-t SECONDS]     (as root)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. tests/lib/common.sh
BUILD=$top/${PVNET_BUILD:-build}
REPS=3 SECS=5
while getopts "r:t:" o; do
	case $o in r) REPS=$OPTARG ;; t) SECS=$OPTARG ;; *) exit 2 ;; esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench needs root"; exit 1; }
run=$(mktemp -d /tmp/pvnet-bench.XXXXXX)
out=$run/results
cleanup() {
	stop_pvnetd "$run"
	[ -d "$run/fp" ] && stop_pvnetd "$run/fp"
	[ -d "$run/fp9" ] && stop_pvnetd "$run/fp9"
	[ -d "$run/poll" ] && stop_pvnetd "$run/poll"
	[ -d "$run/fpp" ] && stop_pvnetd "$run/fpp"
	[ -d "$run/gg9" ] && stop_pvnetd "$run/gg9"
	ns_cleanup
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stats VALUES...: "median (min-max)"
stats() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
		if (NR == 0) { print "n/a"; exit }
		m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
		printf "%.2f (%.2f-%.2f)", m, v[1], v[NR] }'
}
iperf_gbps() { # CLIENT_NS SERVER_NS SERVER_IP [STREAMS]
	ip netns exec "$2" iperf3 -s -1 -D -I "$run/iperf.pid" >/dev/null 2>&1
	sleep 0.3
	ip netns exec "$1" timeout $((SECS + 10)) iperf3 -c "$3" -t "$SECS" -P "${4:-1}" -J 2>/dev/null |
		awk '/"sum_received"/ {r=1} r && /"bits_per_second"/ {gsub(/,/,""); printf "%.3f\n", $2/1e9; exit}'
	kill "$(cat "$run/iperf.pid" 2>/dev/null)" 2>/dev/null
	sleep 0.2
}
ping_pct() { # NS DST -> "p50 p99" in microseconds over 500 pings
	ip netns exec "$1" ping -c 500 -i 0.002 "$2" 2>/dev/null |
		sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -g |
		awk '{v[NR]=$1*1000} END { if (!NR) {print "n/a n/a"; exit}
			printf "%.0f %.0f\n", v[int(NR*0.5)+1], v[int(NR*0.99)] }'
}
measure() { # LABEL CLIENT_NS SERVER_NS SERVER_IP
	local t=() t2=() i p
	for i in $(seq "$REPS"); do t+=("$(iperf_gbps "$2" "$3" "$4")"); done
	for i in $(seq "$REPS"); do t2+=("$(iperf_gbps "$2" "$3" "$4" 2)"); done
	p=$(ping_pct "$2" "$4")
	echo "$1|$(stats "${t[@]}")|$(stats "${t2[@]}")|${p% *}|${p#* }" >>"${mout:-$out}"
}

# --- native baseline: veth + Linux bridge -------------------------------
mk_ns nbr nbr; mk_ns n1 n1; mk_ns n2 n2
ip -n "$nbr" link add br0 type bridge && ip -n "$nbr" link set br0 up
veth_pair "$n1" eth0 "$nbr" p1 && veth_pair "$n2" eth0 "$nbr" p2
ip -n "$nbr" link set p1 master br0 && ip -n "$nbr" link set p2 master br0
ip -n "$n1" addr add 198.18.1.1/24 dev eth0; ip -n "$n2" addr add 198.18.1.2/24 dev eth0
wait_for 5 "ip netns exec '$n1' ping -c1 -W1 198.18.1.2 >/dev/null 2>&1"
measure "native veth + bridge" "$n1" "$n2" 198.18.1.2

# --- pvnet slow path ------------------------------------------------------
mk_ns hostns host; mk_ns g1 g1; mk_ns g2 g2
ip netns exec "$hostns" "$BUILD"/pvnetd --run-dir "$run" 2>"$run/pvnetd.log" &
wait_for 5 "[ -S '$run/ctl.sock' ]" || { echo "pvnetd did not start"; cat "$run/pvnetd.log"; exit 1; }
# two_guests RUNDIR PREFIX NET NS1 NS2 [MTU]: pvnet-fronts PREFIX1 in NS1
# (NET.1) and PREFIX2 in NS2 (NET.2) on the pvnetd of RUNDIR, their eth0 up
two_guests() {
	local dir=$1 pre=$2 net=$3 mtu=${6:-1500} g ns
	for g in 1 2; do
		ns=$4; [ $g = 2 ] && ns=$5
		ip netns exec "$ns" "$BUILD"/pvnet-front --run-dir "$dir" --name "$pre$g" --mtu "$mtu" \
			2>"$dir/$pre$g.log" &
		track_pid $!
		wait_for 10 "ip -n '$ns' link show eth0 >/dev/null 2>&1"
		ip -n "$ns" addr add "$net.$g/24" dev eth0; ip -n "$ns" link set eth0 up
	done
}
two_guests "$run" g 198.18.2 "$g1" "$g2"
wait_for 10 "ip netns exec '$g1' ping -c1 -W1 198.18.2.2 >/dev/null 2>&1"
cpu0=$(awk '{print $14 + $15}' "/proc/$(cat "$run/pvnetd.pid")/stat")
measure "pvnet slow path" "$g1" "$g2" 198.18.2.2
cpu1=$(awk '{print $14 + $15}' "/proc/$(cat "$run/pvnetd.pid")/stat")

# --- the same slow path while pvnetctl captures g1's vif ---------------------
# Every frame of vif(g1) mirrored to pvnetctl capture -w /dev/null (a reader
# that keeps up): what a capture costs the data path; its own drops (reader
# too slow) are reported beside the figure.
capout=$run/capresults
cap_d1=$("$BUILD"/pvnetctl -r "$run" domain-list | awk '$2 == "g1" {print $1; exit}')
if [ -n "$cap_d1" ]; then
	cap_t=() cap_sum=""
	for i in $(seq "$REPS"); do
		"$BUILD"/pvnetctl -r "$run" capture "$cap_d1" 0 -w /dev/null 2>"$run/cap.err" &
		cpid=$!
		sleep 0.3
		cap_t+=("$(iperf_gbps "$g1" "$g2" 198.18.2.2)")
		kill -INT $cpid 2>/dev/null; wait $cpid 2>/dev/null
		cap_sum="$cap_sum; $(sed -n 's/^pvnetctl: capture: //p' "$run/cap.err")"
	done
	echo "pvnet slow path, vif captured|$(stats "${cap_t[@]}")|${cap_sum#; }" >"$capout"
fi

# --- the same two guests' ping through a polling pvnetd (--poll-us 200) -------
# Bounded adaptive polling (pvnetd.8): pvnetd stays awake 200 us after
# each event; the RTT row beside the default (sleeping) pvnetd's.
pollout=$run/pollrtt
mkdir -p "$run/poll"
mk_ns p1 p1; mk_ns p2 p2; mk_ns phost phost
ip netns exec "$phost" "$BUILD"/pvnetd --run-dir "$run/poll" --poll-us 200 2>"$run/poll/pvnetd.log" &
if wait_for 5 "[ -S '$run/poll/ctl.sock' ]"; then
	two_guests "$run/poll" p 198.18.3 "$p1" "$p2"
	wait_for 10 "ip netns exec '$p1' ping -c1 -W1 198.18.3.2 >/dev/null 2>&1" &&
		ping_pct "$p1" 198.18.3.2 >"$pollout"
	stop_pvnetd "$run/poll"
fi

# --- raw frames through pvnetd, guest to guest ------------------------------
# A sink and a generator (build/pvnet-bench), each a guest with its own vif,
# in the root namespace (no TAP: the run directory is all they need).  Per
# run: the sink connects and prints its MAC, the generator sends SIZE-byte
# frames to it for SECS seconds as fast as its ring allows, then an END
# frame with its count; both print a RESULT line.  pvnetd's CPU (utime +
# stime) is read around each run and divided by the frames the generator
# got onto its ring (each one netback took: forwarded, or dropped at the
# sink's full queue).
rawout=$run/raw raw_noend=0
pvnetd_ticks() { awk '{print $14 + $15}' "/proc/$(cat "$run/pvnetd.pid")/stat"; }
# result_field FILE KEY: KEY=value from FILE's RESULT line
result_field() { awk -v k="$2" '/^RESULT / { for (i = 2; i <= NF; i++) {
	n = index($i, "="); if (substr($i, 1, n - 1) == k) { print substr($i, n + 1); exit } } }' "$1"; }
raw_once() { # SIZE: sets raw_r to "gen_kpps sink_kpps lost_pct cpu_ms_per_Mframe", or ""
	local spid gpid mac c0 c1 gf gp gs sf sl ss
	raw_r=""
	rm -f "$run/sink.out" "$run/gen.out"
	"$BUILD"/pvnet-bench --run-dir "$run" --mode sink --name raw-sink --seconds $((SECS + 20)) \
		>"$run/sink.out" 2>>"$run/raw.log" &
	spid=$!; track_pid $spid
	if ! wait_for 10 "grep -q '^MAC ' '$run/sink.out'"; then
		kill -TERM $spid 2>/dev/null; wait $spid 2>/dev/null; return
	fi
	mac=$(awk '/^MAC / {print $2; exit}' "$run/sink.out")
	c0=$(pvnetd_ticks)
	"$BUILD"/pvnet-bench --run-dir "$run" --mode gen --name raw-gen --dst-mac "$mac" --size "$1" \
		--seconds "$SECS" >"$run/gen.out" 2>>"$run/raw.log" &
	gpid=$!; track_pid $gpid
	wait $gpid
	# The sink stops at the END frame; if all the END frames were lost, stop it.
	wait_for 3 "! kill -0 $spid 2>/dev/null" || kill -TERM $spid 2>/dev/null
	wait $spid 2>/dev/null
	c1=$(pvnetd_ticks)
	gf=$(result_field "$run/gen.out" frames); gp=$(result_field "$run/gen.out" pps)
	gs=$(result_field "$run/gen.out" seconds)
	sf=$(result_field "$run/sink.out" frames); sl=$(result_field "$run/sink.out" lost)
	ss=$(result_field "$run/sink.out" sent)
	[ -n "$gf" ] && [ -n "$sf" ] && [ "$gf" -gt 0 ] || return
	# No END frame: the sink's loss is a guess from sequence numbers.
	case $ss in \?*) raw_noend=$((raw_noend + 1)) ;; esac
	# Received rate: the sink's frames over the generator's sending time.
	raw_r=$(awk -v gp="$gp" -v gs="$gs" -v gf="$gf" -v sf="$sf" -v t=$((c1 - c0)) \
	    -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f %.2f %.2f %.0f\n", gp / 1000,
		(gs > 0 ? sf / gs / 1000 : 0), (gf > sf ? 100 * (gf - sf) / gf : 0),
		t * 1000 / hz / (gf / 1e6) }')
}
raw_measure() { # LABEL SIZE
	local g=() s=() l=() c=() i a b x y
	for i in $(seq "$REPS"); do
		raw_once "$2"	# not in $(...): its processes must be tracked for cleanup
		if [ -z "$raw_r" ]; then
			echo "raw run failed (size $2):" >&2; tail -5 "$run/raw.log" >&2 2>/dev/null
			continue
		fi
		read -r a b x y <<<"$raw_r"
		g+=("$a"); s+=("$b"); l+=("$x"); c+=("$y")
	done
	if [ ${#g[@]} -eq 0 ]; then echo "$1|n/a|n/a|n/a|n/a" >>"$rawout"; return; fi
	echo "$1|$(stats "${g[@]}")|$(stats "${s[@]}")|$(stats "${l[@]}")|$(stats "${c[@]}")" >>"$rawout"
}
raw_measure "60 B (64 with FCS)" 60
raw_measure "1514 B (MTU 1500)" 1514

# --- guest <-> external host: native, slow path, fast path; MTU 1500 and 9000 ---
#   native: a namespace on a plain veth to the external host;
#   pvnet:  a guest -> pvnetd (--nic) -> pvnet-nicd owning a veth -> external,
#           with the guest's acceleration off (slow path) and then on (fast path).
#   Once at MTU 1500 (nat/ext1, fph/g3/ext2: also used by the sections after
#   this one) and once with every interface at MTU 9000 (nat9/ext9n,
#   fph9/g9/ext9).  CPU: utime + stime of every pvnet process of that host
#   (pvnetd, pvnet-nicd, the guest's pvnet-front) per GB received.
tab=$run/table	# MTU|row|path|cell
# ext_host NAME MTU NET RUNDIR: sets xn_nat xn_ext (the native pair,
# NET.3.x), xp_host xp_guest xp_ext (pvnet: guest NAME of a pvnetd on
# RUNDIR, NET.4.x), xp_dom, xp_pids (pvnetd, pvnet-nicd, pvnet-front)
ext_host() {
	local s=$1 mtu=$2 n=$3 gp
	xnet=$n xp_run=$4
	mk_ns xn_nat "nat-$s"; mk_ns xn_ext "extn-$s"
	veth_pair "$xn_nat" eth0 "$xn_ext" eth0
	ip -n "$xn_nat" link set eth0 mtu "$mtu"; ip -n "$xn_ext" link set eth0 mtu "$mtu"
	ip -n "$xn_nat" addr add "$n.3.1/24" dev eth0; ip -n "$xn_ext" addr add "$n.3.100/24" dev eth0
	mkdir -p "$xp_run/nic"
	mk_ns xp_host "fph-$s"; mk_ns xp_guest "$s"; mk_ns xp_ext "ext-$s"
	veth_pair "$xp_host" up0 "$xp_ext" eth0
	ip -n "$xp_host" link set up0 mtu "$mtu"; ip -n "$xp_ext" link set eth0 mtu "$mtu"
	ip -n "$xp_ext" addr add "$n.4.100/24" dev eth0
	start_nicd "$xp_host" "$xp_run/nic" up0 "$run/nicd$s.log"
	ip netns exec "$xp_host" "$BUILD"/pvnetd --run-dir "$xp_run" --nic "$xp_run/nic" \
		2>"$xp_run/pvnetd.log" &
	wait_for 5 "[ -S '$xp_run/ctl.sock' ]"
	ip netns exec "$xp_guest" "$BUILD"/pvnet-front --run-dir "$xp_run" --name "$s" --mtu "$mtu" \
		2>"$run/$s.log" &
	gp=$!; track_pid "$gp"
	wait_for 10 "ip -n '$xp_guest' link show eth0 >/dev/null 2>&1"
	ip -n "$xp_guest" addr add "$n.4.3/24" dev eth0; ip -n "$xp_guest" link set eth0 up
	wait_for 10 "ip netns exec '$xp_guest' ping -c1 -W1 $n.4.100 >/dev/null 2>&1"
	wait_for 5 "ip netns exec '$xn_nat' ping -c1 -W1 $n.3.100 >/dev/null 2>&1"
	xp_pids="$(cat "$xp_run/pvnetd.pid") $nicd_pid $gp"
	xp_dom=$("$BUILD"/pvnetctl -r "$xp_run" --json domain-list |
		sed -n "s/.*\"domid\": \([0-9]*\), \"name\": \"$s\".*/\1/p")
}
# ticks PIDS...: their utime + stime, in clock ticks
ticks() { local p s=0; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$s"; }
# tcp_cell CLIENT_NS SERVER_NS SERVER_IP [PIDS]: "median (range)" Gbit/s [, CPU s/GB]
tcp_cell() {
	local t=() i c0 c1 gb=0 g cn=$1 ce=$2 ip=$3
	shift 3
	c0=$(ticks "$@")
	for i in $(seq "$REPS"); do
		g=$(iperf_gbps "$cn" "$ce" "$ip"); t+=("$g")
		gb=$(awk -v a="$gb" -v g="${g:-0}" -v s="$SECS" 'BEGIN { print a + g * s / 8 }')
	done
	c1=$(ticks "$@")
	if [ $# -gt 0 ]; then
		echo "$(stats "${t[@]}"), $(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v gb="$gb" \
			'BEGIN { printf "%.2f", (gb > 0 ? t / hz / gb : 0) }') s/GB"
	else
		stats "${t[@]}"
	fi
}
# udp_run CLIENT_NS SERVER_NS SERVER_IP RATE SECONDS: "delivered_gbps loss_pct" (1470-byte datagrams)
udp_run() {
	ip netns exec "$2" iperf3 -s -1 -D -I "$run/iperf.pid" >/dev/null 2>&1
	sleep 0.3
	ip netns exec "$1" timeout $(($5 + 10)) iperf3 -c "$3" -u -b "$4" -l 1470 -t "$5" -J 2>/dev/null |
		awk '/"sum_received"/ { r = 1 } r && /"bits_per_second"/ { gsub(/,/, ""); b = $2 }
		     r && /"lost_percent"/ { gsub(/,/, ""); l = $2; exit }
		     END { if (b == "") print "0 100"; else printf "%.3f %.3f\n", b / 1e9, l }'
	kill "$(cat "$run/iperf.pid" 2>/dev/null)" 2>/dev/null
	sleep 0.2
}
udp_cell() { # CLIENT SERVER IP RATE: "G Gbit/s, L % lost"
	local r; r=$(udp_run "$1" "$2" "$3" "$4" "$SECS")
	echo "${r% *} Gbit/s, ${r#* }% lost"
}
# rfc2544 CLIENT SERVER IP: the highest offered rate (Gbit/s) losing at most
# 0.1% (RFC 2544's "throughput"): doubling from 0.25 Gbit/s until a trial
# loses more, then 5 bisection steps; 2-second trials.
rfc2544() {
	local lo=0 hi="" r=0.25 i l
	while [ -z "$hi" ]; do
		l=$(udp_run "$1" "$2" "$3" "${r}G" 2); l=${l#* }
		if awk -v l="$l" 'BEGIN { exit !(l <= 0.1) }'; then
			lo=$r; r=$(awk -v r="$r" 'BEGIN { print r * 2 }')
			awk -v r="$r" 'BEGIN { exit !(r > 40) }' && hi=$r
		else
			hi=$r
		fi
	done
	for i in 1 2 3 4 5; do
		r=$(awk -v a="$lo" -v b="$hi" 'BEGIN { print (a + b) / 2 }')
		l=$(udp_run "$1" "$2" "$3" "${r}G" 2); l=${l#* }
		if awk -v l="$l" 'BEGIN { exit !(l <= 0.1) }'; then lo=$r; else hi=$r; fi
	done
	awk -v r="$lo" 'BEGIN { printf "%.2f Gbit/s\n", r }'
}
rtt_cell() { local p; p=$(ping_pct "$1" "$2"); echo "${p% *} / ${p#* } us"; }
# ext_rows MTU FULL [NOTE]: every row of the table for the host made by
# ext_host; FULL 0: TCP only; NOTE (", pvnet-nicd --poll-us 50") goes into
# the rows' names, and with it the ping row is measured too.
ext_rows() {
	local m=$1 full=$2 note=${3:-} path cn ce ip_n ip_e pids ig ie
	for path in native slow fast; do
		case $path in
		native) cn=$xn_nat ce=$xn_ext ip_n=${xnet}.3.1 ip_e=${xnet}.3.100 pids="" ;;
		slow) cn=$xp_guest ce=$xp_ext ip_n=${xnet}.4.3 ip_e=${xnet}.4.100 pids=$xp_pids ;;
		fast)
			cn=$xp_guest ce=$xp_ext ip_n=${xnet}.4.3 ip_e=${xnet}.4.100 pids=$xp_pids
			"$BUILD"/pvnetctl -r "$xp_run" accel "$xp_dom" 0 on pvnic >/dev/null
			wait_for 10 "'$BUILD'/pvnetctl -r '$xp_run' --json accel $xp_dom 0 show | grep -q '\"accelstate\": \"4\"'" ||
				echo "g: acceleration did not reach Connected (MTU $m)" >&2
			ip netns exec "$xp_guest" ping -c 3 -i 0.2 -q "${xnet}.4.100" >/dev/null
			;;
		esac
		echo "$m|TCP guest -> ext$note, Gbit/s|$path|$(tcp_cell "$cn" "$ce" "$ip_e" $pids)" >>"$tab"
		echo "$m|TCP ext -> guest$note, Gbit/s|$path|$(tcp_cell "$ce" "$cn" "$ip_n" $pids)" >>"$tab"
		[ -n "$note" ] && echo "$m|ping RTT guest -> ext$note, p50 / p99|$path|$(rtt_cell "$cn" "$ip_e")" >>"$tab"
		[ "$full" = 1 ] || continue
		for r in 1G 5G; do
			echo "$m|UDP $r offered, guest -> ext|$path|$(udp_cell "$cn" "$ce" "$ip_e" $r)" >>"$tab"
			echo "$m|UDP $r offered, ext -> guest|$path|$(udp_cell "$ce" "$cn" "$ip_n" $r)" >>"$tab"
		done
		echo "$m|UDP at most 0.1% lost (RFC 2544), guest -> ext|$path|$(rfc2544 "$cn" "$ce" "$ip_e")" >>"$tab"
		echo "$m|UDP at most 0.1% lost (RFC 2544), ext -> guest|$path|$(rfc2544 "$ce" "$cn" "$ip_n")" >>"$tab"
		echo "$m|ping RTT guest -> ext, p50 / p99|$path|$(rtt_cell "$cn" "$ip_e")" >>"$tab"
	done
}
ext_host g3 1500 198.18 "$run/fp"
ext_rows 1500 1
# the names the sections below use
nat=$xn_nat ext1=$xn_ext fph=$xp_host g3=$xp_guest ext2=$xp_ext d3=$xp_dom
fp_pids=$xp_pids
fp_ticks() { ticks ${fp_pids% *}; }	# pvnetd and pvnet-nicd

# --- the same through a polling pvnet-nicd (--poll-us 50) --------------------
# Bounded adaptive polling in the NIC (pvnet-nicd.8): it stays awake 50 us
# after the last frame it moved, then sleeps.  Measured: the default NIC
# leaves ~20% of the two CPUs idle during a fast-path TCP stream into a
# guest, each stage waiting to be woken; polling fills those gaps.  A host of
# its own (g4, NET 10.21), so that the rows above keep the default NIC.
PVNET_NIC_POLL_US=50 ext_host g4 1500 10.21 "$run/fpp"
ext_rows 1500 0 ", pvnet-nicd --poll-us 50"
stop_pvnetd "$run/fpp"
kill "$nicd_pid" 2>/dev/null

# --- the fast path beside another VI's TX flood ------------------------------
#   g3 (accelerated) -> ext2 as above while evil_vi, another accelerated
#   guest of the same pvnetd, sends valid 1514-byte frames to ext2 as fast
#   as its VI takes them: the NIC's share of its port between VIs (deficit
#   round robin by wire bytes, src/nic/vi.c), seen as throughput.
floodout=$run/floodresults
mk_ns fpe fpe
ext2mac=$(ip -n "$ext2" -br link show eth0 | awk '{ print $3 }')
coproc EVB { ip netns exec "$fpe" nice -n 19 timeout $((REPS * (SECS + 20) + 60)) \
	"$BUILD"/tests/helpers/evil_vi --run-dir "$run/fp" --name evil --dst-mac "$ext2mac" \
	--seconds $((SECS + 2)) 2>"$run/evil.log"; }
evb_pid=$EVB_PID
track_pid "$evb_pid"
evb_in=${EVB[0]} evb_out=${EVB[1]}
evb_hear() { evb_line=""; read -r -t "${2:-30}" evb_line <&"$evb_in" && [ "${evb_line%% *}" = "$1" ]; }
if evb_hear READY; then
	read -r _ edom _ <<<"$evb_line"
	"$BUILD"/pvnetctl -r "$run/fp" accel "$edom" 0 on pvnic >/dev/null
	if evb_hear VI; then
		gs=() es=()
		for i in $(seq "$REPS"); do
			echo "txflood $SECS" >&"$evb_out"
			gs+=("$(iperf_gbps "$g3" "$ext2" 198.18.4.100)")
			evb_hear RESULT $((SECS + 20)) &&
				es+=("$(tr ' ' '\n' <<<"$evb_line" | sed -n 's/^mbps=//p' | awk '{ printf "%.3f", $1 / 1000 }')")
		done
		echo "pvnet fast path, another VI flooding|$(stats "${gs[@]}")|$(stats "${es[@]}")" >>"$floodout"
	else
		echo "evil_vi got no VI ($evb_line): no TX flood figures" >&2
	fi
	echo quit >&"$evb_out"
else
	echo "evil_vi did not start ($evb_line): no TX flood figures" >&2
fi
wait_for 5 "! kill -0 $evb_pid 2>/dev/null" || kill "$evb_pid" 2>/dev/null
# Storm control (issue 9): a guest's TCP under another guest's full-rate
# broadcast flood beside the same guest alone, slow and fast path, on a
# host of its own (bench/storm.sh; its rows go into the table too).
stormout=$run/stormresults
"$top/bench/storm.sh" -r "$REPS" -t "$SECS" -o "$tab" >"$stormout" 2>&1 ||
	echo "bench/storm.sh failed: $(tail -n 3 "$stormout")" >&2

# --- N guests to the external host at once ----------------------------------
multiout=$run/multiresults
# multi_once EXT_NS EXT_IP NS...: every NS sends to EXT_IP at once, for SECS;
# sets multi_r to "aggregate_gbps slowest_gbps bytes" (or "" if one failed).
multi_once() {
	local ext=$1 ip=$2 i=0 ns pids=() f bps bytes agg=0 min="" tot=0
	shift 2
	multi_r=""
	for ns in "$@"; do
		i=$((i + 1))
		ip netns exec "$ext" timeout $((SECS + 20)) iperf3 -s -1 -p $((5300 + i)) >/dev/null 2>&1 &
		track_pid $!
	done
	for i in $(seq $#); do
		wait_for 5 "ip netns exec '$ext' ss -Hltn 'sport = :$((5300 + i))' | grep -q ." || return
	done
	i=0
	for ns in "$@"; do
		i=$((i + 1))
		ip netns exec "$ns" timeout $((SECS + 15)) iperf3 -c "$ip" -p $((5300 + i)) -t "$SECS" -J \
			>"$run/multi.$i.json" 2>/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	for i in $(seq $#); do
		f=$run/multi.$i.json
		bps=$(awk '/"sum_received"/ { r = 1 } r && /"bits_per_second"/ { gsub(/,/, ""); print $2; exit }' "$f")
		bytes=$(awk '/"sum_received"/ { r = 1 } r && /"bytes"/ { gsub(/,/, ""); print $2; exit }' "$f")
		[ -n "$bps" ] && [ -n "$bytes" ] || return
		agg=$(awk -v a="$agg" -v b="$bps" 'BEGIN { print a + b / 1e9 }')
		min=$(awk -v m="$min" -v b="$bps" 'BEGIN { b /= 1e9; print (m == "" || b < m) ? b : m }')
		tot=$((tot + bytes))
	done
	multi_r="$agg $min $tot"
}
# multi_measure LABEL N EXT_NS EXT_IP TICKS_FN|- NS...: REPS runs of N senders
multi_measure() {
	local label=$1 n=$2 ext=$3 ip=$4 ticks=$5 a=() m=() bytes=0 c0=0 c1=0 cpu="n/a" i x y z
	shift 5
	[ "$ticks" != - ] && c0=$($ticks)
	for i in $(seq "$REPS"); do
		multi_once "$ext" "$ip" "${@:1:$n}"	# not in $(...): its servers are tracked
		[ -n "$multi_r" ] || { echo "multi run failed ($label, $n guests)" >&2; continue; }
		read -r x y z <<<"$multi_r"
		a+=("$x"); m+=("$y"); bytes=$((bytes + z))
	done
	[ "$ticks" != - ] && c1=$($ticks) &&
		cpu=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v gb="$bytes" \
			'BEGIN { printf "%.3f", (gb > 0 ? t / hz / (gb / 1e9) : 0) }')
	echo "$label|$n|$(stats "${a[@]}")|$(stats "${m[@]}")|$cpu" >>"$multiout"
}
mk_ns mbr mbr; mk_ns ext3 ext3
ip -n "$mbr" link add br0 type bridge && ip -n "$mbr" link set br0 up
veth_pair "$mbr" up0 "$ext3" eth0 && ip -n "$mbr" link set up0 master br0
ip -n "$ext3" addr add 198.18.5.100/24 dev eth0
natns=() pvns=()
for k in 1 2 3 4; do
	mk_ns nk "mn$k"
	veth_pair "$nk" eth0 "$mbr" "p$k" && ip -n "$mbr" link set "p$k" master br0
	ip -n "$nk" addr add "198.18.5.$k/24" dev eth0
	natns+=("$nk")
	mk_ns mk "mg$k"
	ip netns exec "$mk" "$BUILD"/pvnet-front --run-dir "$run/fp" --name "m$k" 2>"$run/m$k.log" &
	track_pid $!
	wait_for 10 "ip -n '$mk' link show eth0 >/dev/null 2>&1"
	ip -n "$mk" addr add "198.18.4.$((10 + k))/24" dev eth0; ip -n "$mk" link set eth0 up
	pvns+=("$mk")
done
for k in 1 2 3 4; do
	wait_for 5 "ip netns exec '${natns[k-1]}' ping -c1 -W1 198.18.5.100 >/dev/null 2>&1"
	wait_for 10 "ip netns exec '${pvns[k-1]}' ping -c1 -W1 198.18.4.100 >/dev/null 2>&1"
done
for n in 1 2 4; do
	multi_measure "native veth + bridge" $n "$ext3" 198.18.5.100 - "${natns[@]}"
done
for n in 1 2 4; do
	multi_measure "pvnet slow path" $n "$ext2" 198.18.4.100 fp_ticks "${pvns[@]}"
done
for k in 1 2 3 4; do
	dk=$("$BUILD"/pvnetctl -r "$run/fp" --json domain-list |
		sed -n "s/.*\"domid\": \([0-9]*\), \"name\": \"m$k\".*/\1/p")
	"$BUILD"/pvnetctl -r "$run/fp" accel "$dk" 0 on pvnic >/dev/null
	wait_for 10 "'$BUILD'/pvnetctl -r '$run/fp' --json accel $dk 0 show | grep -q '\"accelstate\": \"4\"'" ||
		echo "m$k: acceleration did not reach Connected" >&2
	ip netns exec "${pvns[k-1]}" ping -c 3 -i 0.2 -q 198.18.4.100 >/dev/null
done
for n in 1 2 4; do
	multi_measure "pvnet fast path" $n "$ext2" 198.18.4.100 fp_ticks "${pvns[@]}"
done

# --- the same at MTU 9000 (TCP) --------------------------------------------
ext_host g9 9000 198.19 "$run/fp9"
ext_rows 9000 0

# --- guest <-> guest at MTU 9000 ----------------------------------------------
# Native: two namespaces through a Linux bridge, every veth at 9000; pvnet:
# two pvnet-fronts --mtu 9000 (their vifs 9000) on a pvnetd of their own.
out9=$run/results9
mk_ns j1 j1; mk_ns j2 j2; mk_ns jbr jbr
ip -n "$jbr" link add br0 type bridge && ip -n "$jbr" link set br0 up
veth_pair "$j1" eth0 "$jbr" p1 && veth_pair "$j2" eth0 "$jbr" p2
for l in "$j1 eth0" "$j2 eth0" "$jbr p1" "$jbr p2"; do ip -n ${l% *} link set ${l#* } mtu 9000; done
ip -n "$jbr" link set p1 master br0 && ip -n "$jbr" link set p2 master br0
ip -n "$j1" addr add 198.18.6.1/24 dev eth0; ip -n "$j2" addr add 198.18.6.2/24 dev eth0
wait_for 5 "ip netns exec '$j1' ping -c1 -W1 198.18.6.2 >/dev/null 2>&1"
mout=$out9 measure "native veth + bridge" "$j1" "$j2" 198.18.6.2
mkdir -p "$run/gg9"
mk_ns k1 k1; mk_ns k2 k2; mk_ns khost khost
ip netns exec "$khost" "$BUILD"/pvnetd --run-dir "$run/gg9" 2>"$run/gg9/pvnetd.log" &
if wait_for 5 "[ -S '$run/gg9/ctl.sock' ]"; then
	two_guests "$run/gg9" k 198.18.7 "$k1" "$k2" 9000
	wait_for 10 "ip netns exec '$k1' ping -c1 -W1 198.18.7.2 >/dev/null 2>&1" &&
		mout=$out9 measure "pvnet slow path" "$k1" "$k2" 198.18.7.2
	stop_pvnetd "$run/gg9"
fi

echo
echo "pvnet benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), ${REPS}x${SECS}s iperf3"
printf '%-24s %-24s %-24s %10s %10s\n' "guest to guest" "TCP 1 stream Gbit/s" "TCP 2 streams Gbit/s" \
	"RTT p50 us" "RTT p99 us"
while IFS='|' read -r l t t2 p50 p99; do
	printf '%-24s %-24s %-24s %10s %10s\n' "$l" "$t" "$t2" "$p50" "$p99"
done <"$out"
awk -F'|' '{ split($2, a, " "); split($3, b, " "); one[NR] = a[1]; two[NR] = b[1] }
	END { if (NR == 2 && one[1] > 0 && two[1] > 0)
		printf "pvnet / native (medians): %.2fx with 1 stream, %.2fx with 2 streams\n",
			one[2] / one[1], two[2] / two[1] }' "$out"
echo "pvnetd CPU during the pvnet runs: $(( (cpu1 - cpu0) / $(getconf CLK_TCK) )) s"
if [ -s "$capout" ]; then
	IFS='|' read -r l t c <"$capout"
	printf '%-24s %-24s %s\n' "$l" "$t" "capture: $c"
fi
echo
echo "raw frames through pvnetd, guest to guest (pvnet-bench on netfront's frame API), ${REPS}x${SECS}s"
printf '%-22s %-28s %-28s %-22s %s\n' "frame size" "sent kpps median (range)" \
	"received kpps median (range)" "lost % median (range)" "pvnetd CPU ms/Mframe"
while IFS='|' read -r l g s lo c; do
	printf '%-22s %-28s %-28s %-22s %s\n' "$l" "$g" "$s" "$lo" "$c"
done <"$rawout"
echo "sent: frames the generator got onto its ring; received: frames the sink counted;"
echo "lost: sent but not received (dropped at the sink's full queue); CPU: per million sent"
[ "$raw_noend" -eq 0 ] || echo "warning: in $raw_noend raw runs the sink never saw the generator's END" \
	"frame: frames stuck in a ring (a lost wakeup?)"
echo
if [ -s "$floodout" ]; then
	echo
	echo "the fast path beside another accelerated guest's TX flood (1514-byte frames to the same external host), ${REPS}x${SECS}s"
	printf '%-38s %-26s %s\n' "path" "guest Gbit/s median (range)" "flooder Gbit/s median (range)"
	while IFS='|' read -r l g e; do
		printf '%-38s %-26s %s\n' "$l" "$g" "$e"
	done <"$floodout"
	echo "(the same guest alone: \"pvnet fast path\" above)"
fi
if [ -s "$stormout" ]; then
	echo
	cat "$stormout"
fi
echo
echo "N guests to the external host at once, TCP (iperf3, 1 stream each), ${REPS}x${SECS}s;"
echo "native: N namespaces through a Linux bridge and one veth; pvnet: pvnetd --nic, pvnet-nicd on a veth"
printf '%-22s %6s  %-26s %-26s %s\n' "path" "guests" "aggregate Gbit/s" "slowest guest Gbit/s" \
	"pvnetd + pvnet-nicd CPU s per GB"
while IFS='|' read -r l n a m c; do
	printf '%-22s %6s  %-26s %-26s %s\n' "$l" "$n" "$a" "$m" "$c"
done <"$multiout"

# --- the table: native / slow path / fast path side by side ------------------
# guest <-> guest (from the first section): the fast path is not used between
# guests of one host (the NIC sends only out of its port), as in the original.
awk -F'|' 'NR <= 2 { p = (NR == 1) ? "native" : "slow"
	print "1500|TCP guest <-> guest, 1 stream, Gbit/s|" p "|" $2
	print "1500|TCP guest <-> guest, 2 streams, Gbit/s|" p "|" $3
	print "1500|ping RTT guest <-> guest, p50 / p99|" p "|" $4 " / " $5 " us" }' "$out" >>"$tab"
for r in "TCP guest <-> guest, 1 stream, Gbit/s" "TCP guest <-> guest, 2 streams, Gbit/s" \
	"ping RTT guest <-> guest, p50 / p99"; do
	echo "1500|$r|fast|- (slow path between guests)" >>"$tab"
done
[ -s "$out9" ] && awk -F'|' 'NR <= 2 { p = (NR == 1) ? "native" : "slow"
	print "9000|TCP guest <-> guest, 1 stream, Gbit/s|" p "|" $2
	print "9000|TCP guest <-> guest, 2 streams, Gbit/s|" p "|" $3 }' "$out9" >>"$tab"
for r in "TCP guest <-> guest, 1 stream, Gbit/s" "TCP guest <-> guest, 2 streams, Gbit/s"; do
	echo "9000|$r|fast|- (slow path between guests)" >>"$tab"
done
if [ -s "$pollout" ]; then
	read -r pp50 pp99 <"$pollout"
	echo "1500|ping RTT guest <-> guest, pvnetd --poll-us 200|slow|$pp50 / $pp99 us" >>"$tab"
	echo "1500|ping RTT guest <-> guest, pvnetd --poll-us 200|fast|- (slow path between guests)" >>"$tab"
fi
bout=${BENCH_OUT:-$BUILD/bench}
mkdir -p "$bout"
{
echo
echo "the table: guest <-> external host (pvnet-nicd on a veth) and guest <-> guest; ${REPS}x${SECS}s iperf3 TCP, 1 stream"
echo "(median (min-max), and CPU seconds of all pvnet processes per GB: pvnetd, pvnet-nicd, pvnet-front);"
echo "UDP: iperf3, 1470-byte datagrams, ${SECS} s, delivered and lost as the receiver counted; RFC 2544: 2 s trials, bisection"
awk -F'|' '{ k = $1 "|" $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k }; c[k, $3] = $4 }
	END {
		printf "%-5s %-48s %-34s %-34s %-34s %s\n", "MTU", "measurement", "native", "pvnet slow path", "pvnet fast path", "slow, fast / native"
		for (i = 1; i <= n; i++) {
			k = order[i]; split(k, f, "|"); r = ""
			if (f[2] ~ /^TCP/) {
				split(c[k, "native"], a, " "); split(c[k, "slow"], b, " "); split(c[k, "fast"], d, " ")
				if (a[1] > 0) r = sprintf("%.2fx, %s", b[1] / a[1], (d[1] ~ /^[0-9.]+$/) ? sprintf("%.2fx", d[1] / a[1]) : "-")
			}
			printf "%-5s %-48s %-34s %-34s %-34s %s\n", f[1], f[2], c[k, "native"], c[k, "slow"], c[k, "fast"], r
		}
	}' "$tab"
} | tee "$bout/table.txt"
# The chart: the TCP rows' medians, one group of three bars per row.
awk -F'|' '$2 ~ /^TCP/ { k = $1 " " $2; sub(/, Gbit\/s/, "", k); if (!(k in seen)) { seen[k] = 1; o[++n] = k }
	split($4, v, " "); c[k, $3] = (v[1] ~ /^[0-9.]+$/) ? v[1] : "NaN" }
	END { for (i = 1; i <= n; i++) printf "\"%s\" %s %s %s\n", o[i], c[o[i], "native"], c[o[i], "slow"], c[o[i], "fast"] }' \
	"$tab" >"$bout/tcp.dat"
if command -v gnuplot >/dev/null 2>&1; then
	gnuplot <<GP 2>"$bout/gnuplot.log" && echo "chart: $bout/chart.svg (data $bout/tcp.dat, table $bout/table.txt)"
set terminal svg size 1200,600 dynamic font "sans,11"
set output "$bout/chart.svg"
set title "pvnet TCP throughput beside native, $(date -u '+%Y-%m-%d'), $(nproc) cores, $(uname -r)"
set ylabel "Gbit/s (median of ${REPS}x${SECS}s)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -25 scale 0 font ",9"
set key top right
set grid ytics
set yrange [0:*]
plot "$bout/tcp.dat" using 2:xtic(1) title "native", "" using 3 title "pvnet slow path", "" using 4 title "pvnet fast path"
GP
else
	echo "no gnuplot: no chart (data $bout/tcp.dat, table $bout/table.txt)"
fi

# Live migration (issue #10): downtime per move, slow and fast path, and
# guest-to-guest TCP across two hosts (bench/migrate.sh; table in $BENCH_OUT/migrate.txt).
BENCH_OUT=$bout "$top/bench/migrate.sh" -t "$SECS" || echo "bench/migrate.sh failed"

# User-level access (paper section 4): UDP ping-pong latency, the kernel's
# sockets beside libpvnet's in interrupt and spin modes (bench/libpvnet.sh).
echo
echo "libpvnet: UDP ping-pong, kernel sockets beside an application's own VI"
"$top/bench/libpvnet.sh" || echo "bench/libpvnet.sh failed"
