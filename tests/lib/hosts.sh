# hosts.sh - several pvnet hosts on one L2 segment (sourced after common.sh).
#
#   g1 (netns)      h1 (netns)                      wire (netns)              ext (netns)
#   eth0 ═ rings ═> pvnetd [+ pvnet-nicd] up0 ══veth══ h1p ┐
#   g2 (netns)      h2 (netns)                          br0 (Linux bridge) ─ e0 ══veth══ eth0 .100
#   eth0 ═ rings ═> pvnetd [+ pvnet-nicd] up0 ══veth══ h2p ┘                 198.18.0.100/24
#                                                                              fd00:18::100/64
# A host is a namespace hN with its own run directory $base/hN, its pvnetd
# reaching the wire through an AF_PACKET uplink on up0 (mode "uplink") or
# through a pvnet-nicd owning up0 (mode "nic").  The wire namespace holds the
# segment's switch (a Linux bridge) and the external host hangs off it.
#
# Mode "vxlan": the host's uplink is instead a kernel VXLAN device vx0 (VNI
# 42, UDP 4789, multicast group 239.1.1.42) over an underlay veth ul0
# (10.99.0.N/24, MTU 1600 so that vx0 carries 1500-byte frames) into a
# second bridge of the wire namespace, br-ul; no veth into br0.  pvnet
# uses the kernel's overlay engine; the guests of VXLAN hosts share one L2
# segment among themselves (the external host is not on it).
#
#   h1: pvnetd --uplink vx0 ── vx0 (VNI 42) ─ ul0 10.99.0.1 ══ h1u ┐
#                                                              br-ul (underlay)
#   h2: pvnetd --uplink vx0 ── vx0 (VNI 42) ─ ul0 10.99.0.2 ══ h2u ┘
#
# Usage:
#   wire_begin TAG            base dir, traps, wire + ext namespaces ($wire, $ext)
#   add_host N MODE           host N: namespace, veth into br0, daemons; dies on failure
#   use_host N                point common.sh's helpers at host N: $run, $hostns, $nicdir
#                             (P, domid_of, vstat, start_guest, start_nicd ... follow)
# Every host's daemons are tracked and stopped by the EXIT trap, every
# namespace removed, the logs kept after a failure (build/test-logs).

declare -A HOST_NS HOST_RUN HOST_MODE

wire_begin() {
	base=$(mktemp -d "/tmp/pvnet-$1.XXXXXX") || { fail "mktemp"; exit 1; }
	run=$base
	trap hosts_cleanup EXIT
	trap 'exit 130' INT TERM
	mk_ns wire wire && mk_ns ext ext || die "namespaces"
	ip -n "$wire" link add br0 type bridge || die "wire bridge"
	# No STP, no forward delay: ports forward at once; a short ageing so a
	# moved MAC is not pinned to its old port for 5 minutes when no frame
	# from it passes (the migrated guest's gratuitous ARP re-teaches it anyway).
	ip -n "$wire" link set br0 type bridge stp_state 0 forward_delay 0 ageing_time 3000
	ip -n "$wire" link set br0 up
	veth_pair "$wire" e0 "$ext" eth0 || die "ext veth"
	ip -n "$wire" link set e0 master br0
	ip -n "$ext" addr add 198.18.0.100/24 dev eth0
	ip -n "$ext" addr add fd00:18::100/64 dev eth0 nodad
}

hosts_cleanup() {
	local n
	declare -F on_cleanup >/dev/null && on_cleanup
	for n in "${!HOST_RUN[@]}"; do stop_pvnetd "${HOST_RUN[$n]}"; done
	ns_cleanup
	run=$base
	keep_logs "$base"
	rm -rf "$base"
}

use_host() {
	hostns=${HOST_NS[$1]}
	run=${HOST_RUN[$1]}
	nicdir=$run/nic
}

# add_host N MODE [pvnetd ARGS...]: MODE is "uplink" or "nic".
add_host() {
	local n=$1 mode=$2 ns; shift 2
	mk_ns ns "h$n" || die "namespace h$n"
	HOST_NS[$n]=$ns
	HOST_RUN[$n]=$base/h$n
	HOST_MODE[$n]=$mode
	mkdir -p "$base/h$n"
	if [ "$mode" = vxlan ]; then
		vxlan_underlay "$n" "$ns"
	else
		veth_pair "$ns" up0 "$wire" "h${n}p" || die "host $n veth"
		ip -n "$wire" link set "h${n}p" master br0
	fi
	use_host "$n"
	case $mode in
	uplink) host_pvnetd --uplink up0 --log-level debug "$@" || die "host $n: pvnetd did not start" ;;
	vxlan) host_pvnetd --uplink vx0 --log-level debug "$@" || die "host $n: pvnetd did not start" ;;
	nic) start_nicd "$hostns" "$nicdir" up0 "$run/nicd.log" || die "host $n: pvnet-nicd did not start"
	     host_pvnetd --nic "$nicdir" --log-level debug "$@" || die "host $n: pvnetd did not start" ;;
	*) die "add_host: mode '$mode'" ;;
	esac
}

# vxlan_underlay N NS: br-ul in the wire namespace (once), ul0 into it, vx0 on ul0.
vxlan_underlay() {
	local n=$1 ns=$2
	if ! ip -n "$wire" link show br-ul >/dev/null 2>&1; then
		ip -n "$wire" link add br-ul type bridge || die "underlay bridge"
		# No IGMP querier here: without snooping the group's frames flood.
		ip -n "$wire" link set br-ul type bridge stp_state 0 forward_delay 0 mcast_snooping 0
		ip -n "$wire" link set br-ul up
	fi
	veth_pair "$ns" ul0 "$wire" "h${n}u" || die "host $n underlay veth"
	ip -n "$wire" link set "h${n}u" master br-ul
	ip -n "$wire" link set "h${n}u" mtu 1600
	ip -n "$ns" link set ul0 mtu 1600
	ip -n "$ns" addr add "10.99.0.$n/24" dev ul0
	ip -n "$ns" link add vx0 type vxlan id 42 group 239.1.1.42 dev ul0 dstport 4789 ||
		die "host $n: vxlan device"
	ip -n "$ns" link set vx0 mtu 1500
	ip -n "$ns" link set vx0 up
}

# ping_ok NS ADDR [SECONDS]: ADDR answers a ping from NS within SECONDS (default 10).
ping_ok() {
	local ns=$1 addr=$2 t=${3:-10}
	wait_for "$t" "ip netns exec '$ns' ping -c1 -W1 $addr >/dev/null 2>&1"
}

# tcp_ok FROM_NS TO_NS TO_ADDR [SECONDS]: a TCP stream of pseudo-random bytes
# (tests/lib/stream.py, 1 s unless told) from FROM_NS to TO_ADDR (IPv4 or
# IPv6) in TO_NS; true when it ended cleanly and every byte arrived (sha256
# equal at both ends); "N bytes" or why not in tcp_said.
tcp_ok() {
	local f=$base/tcp.$$.$RANDOM r srs sn sh rrs rn rh rgap
	ip netns exec "$2" timeout 30 python3 "$(dirname "${BASH_SOURCE[0]}")/stream.py" recv "$f.rx" &
	r=$!
	track_pid "$r"
	if ! wait_for 5 "ip netns exec '$2' ss -ltn | grep -q ':5555 '"; then
		kill "$r" 2>/dev/null; wait "$r" 2>/dev/null
		tcp_said="no receiver"; return 1
	fi
	ip netns exec "$1" timeout 30 python3 "$(dirname "${BASH_SOURCE[0]}")/stream.py" send "$3" "${4:-1}" "$f.tx"
	wait "$r"
	read -r srs sn sh <"$f.tx" 2>/dev/null
	read -r rrs rn rh rgap <"$f.rx.done" 2>/dev/null
	tcp_said="${rn:-no} bytes received of ${sn:-?} (${srs:-?}/${rrs:-?})"
	[ "${srs:-}" = ok ] && [ "${rrs:-}" = ok ] && [ -n "${sh:-}" ] && [ "$sh" = "${rh:-x}" ] && [ "$sn" = "$rn" ]
}

# tcp_check FROM_NS TO_NS TO_ADDR NAME: tcp_ok as a check named NAME (what arrived appended).
tcp_check() {
	if tcp_ok "$1" "$2" "$3"; then pass "$4 ($tcp_said)"; else fail "$4 ($tcp_said)"; fi
}

# ---- downtime across a migration ------------------------------------------
# mig_ping_start NS ADDR OUT: 1 ms pings from NS to ADDR (ping -i 0.001
# needs root), each reply timestamped (-D) into OUT; the pid in
# mig_ping_pid (tracked).
mig_ping_start() {
	ip netns exec "$1" ping -D -n -i 0.001 -W 1 "$2" >"$3" 2>&1 &
	mig_ping_pid=$!
	track_pid "$mig_ping_pid"
}
# mig_ping_stop OUT: stop the pings of mig_ping_start; print "SENT LOST
# GAP_MS": the probes up to the last one answered, those of them not
# answered (a probe still in flight at the stop is not counted lost), the
# longest time between two replies.
mig_ping_stop() {
	kill -INT "$mig_ping_pid" 2>/dev/null
	wait "$mig_ping_pid" 2>/dev/null
	awk '/icmp_seq=/ { s = $0; sub(/.*icmp_seq=/, "", s); sub(/ .*/, "", s)
		t = substr($1, 2, length($1) - 2) + 0
		if (!n++) first = s; last = s
		if (n > 1 && t - pt > gap) gap = t - pt; pt = t }
	END { if (!n) { print "0 0 0"; exit }
		sent = last - first + 1; if (sent < n) sent += 65536	# icmp_seq wrapped
		printf "%d %d %.0f\n", sent, sent - n, gap * 1000 }' "$1"
}
# mig_ping_gap_before OUT T: the longest time (ms) between two replies in
# OUT before T (epoch seconds): the pauses the machine makes without a move.
mig_ping_gap_before() {
	awk -v t="$2" '/icmp_seq=/ { s = substr($1, 2, length($1) - 2) + 0; if (s > t) exit
		if (n++ && s - p > g) g = s - p; p = s } END { printf "%.0f\n", g * 1000 }' "$1"
}
# mig_ping_after OUT T: how many replies in OUT came after T (epoch seconds).
mig_ping_after() {
	awk -v t="$2" '/icmp_seq=/ && substr($1, 2, length($1) - 2) + 0 > t { n++ } END { print n + 0 }' "$1"
}
# mig_stream_gap GAPS T0 T1: the longest pause (ms) of a stream.py receiver
# (its OUT.gaps, STREAM_GAP_MS set low) that began between T0 and T1 (epoch
# seconds); 0 if none.
mig_stream_gap() {
	awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b && $2 > g { g = $2 } END { print g + 0 }' "$1" 2>/dev/null ||
		echo 0
}

# ---- what a host holds ------------------------------------------------------
# host_snap RUN: "fds F nodes N domains D maps M vis V bufs B filters L
# records R": pvnetd's descriptors, its store's nodes, the domains and the
# grant maps they hold (domain-list), the NIC's VIs, buffer table entries
# and filters in use (0 0 0 without a NIC), the migration records.
host_snap() {
	local pid c=() nic
	pid=$(cat "$1/pvnetd.pid" 2>/dev/null)
	c=(timeout 10 "$BUILD"/pvnetctl -r "$1" --json)
	nic=$("${c[@]}" nic 2>/dev/null)
	printf 'fds %s nodes %s domains %s maps %s vis %s bufs %s filters %s records %s\n' \
		"$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)" "$("${c[@]}" status | jget xs_nodes)" \
		"$("${c[@]}" status | jget domains)" \
		"$("${c[@]}" domain-list | grep -o '"maps": [0-9]*' | awk '{ s += $2 } END { print s + 0 }')" \
		"$(jget vis_active <<<"$nic")" "$(jget bufs_used <<<"$nic")" "$(jget filters_used <<<"$nic")" \
		"$(XENSTORED_PATH=$1/xenstored.sock xenstore-ls /local/domain/0/migrate 2>/dev/null | grep -c '^ ')"
}
# host_rss RUN: pvnetd's anonymous resident memory, kB (RssAnon: its heap
# and stacks; not the guests' memory it maps, resident or not as traffic
# touches it, which makes VmRSS swing by a megabyte under a stream).
host_rss() { awk '/^RssAnon:/ { print $2 }' "/proc/$(cat "$1/pvnetd.pid" 2>/dev/null)/status" 2>/dev/null; }
# logwatch OUT STEP...: tests/lib/logwatch.py in the background (steps
# "wait:FILE:REGEX", "kill:SIGNAL:PID", "sleep:S", 30 s in all; its report in
# OUT), its pid in logwatch_pid (tracked); returns once it has taken the
# files' sizes.  logwatch_end OUT: its exit status, its report on stdout.
logwatch() {
	local out=$1; shift
	python3 "$(dirname "${BASH_SOURCE[0]}")/logwatch.py" 30 "$@" >"$out" 2>&1 &
	logwatch_pid=$!
	track_pid "$logwatch_pid"
	wait_for 10 "grep -q '^ready' '$out' 2>/dev/null"
}
logwatch_end() {
	local rc
	wait "$logwatch_pid"; rc=$?
	grep -v '^ready' "$1"
	return $rc
}
