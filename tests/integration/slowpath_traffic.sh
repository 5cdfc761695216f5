#!/usr/bin/env bash
# slowpath_traffic.sh - the slow path end to end: two guests and an external
# host through pvnetd's bridge and uplink.  ARP and IPv6 neighbour discovery
# (with DAD) resolve to the vifs' MACs, frames at the MTU pass and one byte
# more is refused locally, iperf3 TCP both ways on every pair beats a floor,
# the guests' TX really uses 64 KiB GSO frames, and then the same again
# with MTU 9000 everywhere.
#
#  guest g1 (netns)           host (netns)                        ext (netns)
#  ┌─────────────────┐  rings ┌──────────────────────────────┐    ┌─────────────────┐
#  │ eth0 198.18.0.1 │<══════>│ pvnetd  netback vif<g1>.0    │    │ eth0            │
#  │ 2001:db8::1     │        │         netback vif<g2>.0    │    │ 198.18.0.100    │
#  │ pvnet-front     │        │         bridge               │    │ 2001:db8::100   │
#  └─────────────────┘        │         uplink up0 ══════════│════│ iperf3, ping    │
#  ┌─────────────────┐  rings │   (AF_PACKET on a veth)      │veth└─────────────────┘
#  │ eth0 198.18.0.2 │<══════>│                              │
#  │ 2001:db8::2     │        └──────────────────────────────┘
#  │ pvnet-front     │
#  └─────────────────┘
#  phase 1: MTU 1500 everywhere; phase 2: pvnetd restarted, MTU 9000 on the
#  veth, ext's eth0 and the vifs (pvnet-front --mtu 9000).
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout ss
SECS=${SLOWPATH_SECS:-2}
FLOOR_MBPS=${SLOWPATH_FLOOR_MBPS:-50}

host_begin spt

start_daemon() { host_pvnetd --uplink up0 || die "pvnetd starts"; }
stop_guest() { # NAME
	local v="front_pid_$1"
	kill -TERM "${!v}" 2>/dev/null
	for _ in $(seq 50); do kill -0 "${!v}" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "${!v}" 2>/dev/null
}
no_tentative() { [ -z "$(ip -n "$1" -6 addr show dev eth0 tentative 2>/dev/null)" ]; }

# iperf_run NAME CLIENT_NS SERVER_NS SERVER_IP [client args]: iperf3 -J to $run/NAME.json
iperf_run() {
	local name=$1 cns=$2 sns=$3 ip=$4; shift 4
	ip netns exec "$sns" timeout $((SECS + 30)) iperf3 -s -1 >"$run/$name.srv" 2>&1 &
	track_pid $!
	wait_for 10 "ip netns exec '$sns' ss -Hltn 'sport = :5201' | grep -q ." ||
		{ echo "iperf3 server in $sns did not listen"; return 1; }
	ip netns exec "$cns" timeout $((SECS + 25)) iperf3 -c "$ip" -t "$SECS" --connect-timeout 5000 -J "$@" \
		>"$run/$name.json" 2>"$run/$name.err"
}
# iperf_end FILE: "sent_bytes received_bytes received_bits_per_second" from the end section
iperf_end() {
	awk '/^\t"end":/ { e = 1 }
	     e && /"sum_sent":/ { s = "s" }
	     e && /"sum_received":/ { s = "r" }
	     e && s && $1 == "\"bytes\":" { gsub(/,/, "", $2); b[s] = $2 }
	     e && s && $1 == "\"bits_per_second\":" { gsub(/,/, "", $2); bps[s] = $2; s = "" }
	     END { printf "%.0f %.0f %.0f\n", b["s"], b["r"], bps["r"] }' "$1"
}
# tcp NAME CLIENT_NS SERVER_NS SERVER_IP [client args]: run and assert success and the floor
tcp() {
	local name=$1 rc out sent recv bps
	iperf_run "$@"
	rc=$?
	out=$(iperf_end "$run/$name.json")
	read -r sent recv bps <<<"$out"
	echo "# iperf3 $name: rc $rc, sent $sent B, received $recv B, $((bps / 1000000)) Mbit/s"
	check "[ $rc -eq 0 ] && [ $recv -gt 0 ] && [ $bps -gt $((FLOOR_MBPS * 1000000)) ]" \
		"iperf3 TCP $name: succeeds, > $FLOOR_MBPS Mbit/s ($((bps / 1000000)) Mbit/s)"
	[ $rc -eq 0 ] || { cat "$run/$name.err"; tail -n 5 "$run/$name.json"; }
}
# pingok NAME NS ARGS...: ping must succeed
pingok() {
	local name=$1 ns=$2; shift 2
	check "ip netns exec '$ns' timeout 15 ping -q -c 3 -i 0.2 -W 2 $* >/dev/null 2>&1" "$name"
}
# neigh_ok NS ADDR MAC: the neighbour entry resolves ADDR to MAC and is usable
neigh_ok() {
	ip -n "$1" neigh show "$2" dev eth0 | grep -qiE "lladdr $3 .*(REACHABLE|STALE|DELAY|PROBE)"
}

host_netns g1 g2
ip -n "$ext" addr add 2001:db8::100/64 dev eth0
start_daemon
pass "pvnetd starts with --uplink"

# ---------------- phase 1: MTU 1500 ----------------
start_guest "$g1" g1 "198.18.0.1 2001:db8::1"
start_guest "$g2" g2 "198.18.0.2 2001:db8::2"
d1=$(domid_of g1); d2=$(domid_of g2)
check "[ -n '$d1' ] && [ -n '$d2' ] && [ '$d1' != '$d2' ]" "guests registered (domids $d1, $d2)"
wait_for 10 "[ \"\$(vstat $d1 backend_state)\" = Connected ] && [ \"\$(vstat $d2 backend_state)\" = Connected ]"
check "[ \"\$(vstat $d1 connected)\" = 1 ] && [ \"\$(vstat $d2 connected)\" = 1 ]" "both vifs Connected"
mac1=$(vstat "$d1" mac); mac2=$(vstat "$d2" mac)
extmac=$(ip -n "$ext" -br link show eth0 | awk '{print $3}')
echo "# g1 dom $d1 mac $mac1; g2 dom $d2 mac $mac2; ext mac $extmac"
check "ip -n '$g1' link show eth0 | grep -qi 'ether $mac1' && ip -n '$g2' link show eth0 | grep -qi 'ether $mac2'" \
	"guests' eth0 carry their vif MACs"

wait_for 10 "no_tentative '$g1' && no_tentative '$g2' && no_tentative '$ext'"
check "no_tentative '$g1' && no_tentative '$g2' && no_tentative '$ext'" "IPv6 DAD completes on every host"
check "! ip -n '$g1' -6 addr show dadfailed | grep -q . && ! ip -n '$g2' -6 addr show dadfailed | grep -q . && ! ip -n '$ext' -6 addr show dadfailed | grep -q ." \
	"no address fails DAD (no echo of a host's own NS)"

pingok "ping g1 -> g2" "$g1" 198.18.0.2
pingok "ping g2 -> g1" "$g2" 198.18.0.1
pingok "ping g1 -> ext (uplink)" "$g1" 198.18.0.100
pingok "ping ext -> g2 (uplink)" "$ext" 198.18.0.2
check "neigh_ok '$g1' 198.18.0.2 '$mac2'" "ARP: g1 resolves g2 to vif MAC $mac2"
check "neigh_ok '$g2' 198.18.0.1 '$mac1'" "ARP: g2 resolves g1 to vif MAC $mac1"
check "neigh_ok '$ext' 198.18.0.2 '$mac2'" "ARP: ext resolves g2 to vif MAC $mac2"
check "neigh_ok '$g1' 198.18.0.100 '$extmac'" "ARP: g1 resolves ext to its MAC"

pingok "ping -6 g1 -> g2" "$g1" -6 2001:db8::2
pingok "ping -6 g2 -> ext" "$g2" -6 2001:db8::100
pingok "ping -6 ext -> g1" "$ext" -6 2001:db8::1
check "neigh_ok '$g1' 2001:db8::2 '$mac2'" "NDP: g1 resolves 2001:db8::2 to vif MAC $mac2"
check "neigh_ok '$ext' 2001:db8::1 '$mac1'" "NDP: ext resolves 2001:db8::1 to vif MAC $mac1"
check "neigh_ok '$g2' 2001:db8::100 '$extmac'" "NDP: g2 resolves ext"

pingok "ping -M do -s 1472 g1 -> g2 (a 1500-byte IP packet)" "$g1" -M do -s 1472 198.18.0.2
pingok "ping -M do -s 1472 g2 -> ext" "$g2" -M do -s 1472 198.18.0.100
pingok "ping -M do -s 1472 ext -> g1" "$ext" -M do -s 1472 198.18.0.1
out=$(ip netns exec "$g1" timeout 10 ping -c 1 -W 1 -M do -s 1473 198.18.0.2 2>&1)
rc=$?
check "[ $rc -ne 0 ] && grep -qiE 'too long|mtu' <<<\"\$out\"" "ping -M do -s 1473 refused locally (MTU 1500)"

s1_0=$(vstat "$d1" tx_bytes); p1_0=$(vstat "$d1" tx_packets)
r2_0=$(vstat "$d2" rx_bytes); q2_0=$(vstat "$d2" rx_packets)
tcp g1-to-g2 "$g1" "$g2" 198.18.0.2
s1_1=$(vstat "$d1" tx_bytes); p1_1=$(vstat "$d1" tx_packets)
r2_1=$(vstat "$d2" rx_bytes); q2_1=$(vstat "$d2" rx_packets)
avg_tx=$(( (s1_1 - s1_0) / (p1_1 - p1_0 > 0 ? p1_1 - p1_0 : 1) ))
avg_rx=$(( (r2_1 - r2_0) / (q2_1 - q2_0 > 0 ? q2_1 - q2_0 : 1) ))
echo "# g1 TX: $((p1_1 - p1_0)) frames, $((s1_1 - s1_0)) bytes, avg $avg_tx; g2 RX avg $avg_rx"
check "[ $avg_tx -gt 10000 ]" "GSO: g1's TX frames average > 10000 bytes during iperf3 ($avg_tx)"
check "[ $avg_rx -gt 10000 ]" "GSO: g2 receives GSO frames, average > 10000 bytes ($avg_rx)"
tcp g1-to-g2-R "$g1" "$g2" 198.18.0.2 -R
tcp g1-to-ext "$g1" "$ext" 198.18.0.100
tcp g1-to-ext-R "$g1" "$ext" 198.18.0.100 -R
tcp ext-to-g2 "$ext" "$g2" 198.18.0.2
tcp ext-to-g2-R "$ext" "$g2" 198.18.0.2 -R
tcp g2-to-g1-v6 "$g2" "$g1" 2001:db8::1
pingok "ping g1 -> g2 after the TCP runs" "$g1" 198.18.0.2
for d in "$d1" "$d2"; do
	check "[ \"\$(vstat $d fatal)\" = 0 ] && [ -z \"\$(vstat $d disabled_reason)\" ]" \
		"vif$d.0 never disabled"
done

# ---------------- phase 2: MTU 9000 ----------------
stop_guest g1
stop_guest g2
stop_pvnetd "$run"
wait_for 5 "! ip -n '$g1' link show eth0 >/dev/null 2>&1 && ! ip -n '$g2' link show eth0 >/dev/null 2>&1"
ip -n "$hostns" link set up0 mtu 9000
ip -n "$ext" link set eth0 mtu 9000
start_daemon
start_guest "$g1" g1 "198.18.0.1 2001:db8::1" --mtu 9000 --mac "$mac1"
start_guest "$g2" g2 "198.18.0.2 2001:db8::2" --mtu 9000 --mac "$mac2"
d1=$(domid_of g1); d2=$(domid_of g2)
wait_for 10 "[ \"\$(vstat $d1 connected)\" = 1 ] && [ \"\$(vstat $d2 connected)\" = 1 ]"
check "[ \"\$(vstat $d1 mac)\" = '$mac1' ] && [ \"\$(vstat $d2 mac)\" = '$mac2' ]" \
	"MTU 9000: vifs got the MACs asked for (--mac)"
check "[ \"\$(vstat $d1 mtu)\" = 9000 ] && [ \"\$(vstat $d2 mtu)\" = 9000 ]" "MTU 9000: vifs have mtu 9000"
check "ip -n '$g1' link show eth0 | grep -q 'mtu 9000' && ip -n '$g2' link show eth0 | grep -q 'mtu 9000'" \
	"MTU 9000: guests' eth0 mtu 9000"
wait_for 10 "no_tentative '$g1' && no_tentative '$g2'"
pingok "MTU 9000: ping g1 -> g2" "$g1" 198.18.0.2
pingok "MTU 9000: ping -M do -s 8972 g1 -> g2" "$g1" -M do -s 8972 198.18.0.2
pingok "MTU 9000: ping -M do -s 8972 g1 -> ext" "$g1" -M do -s 8972 198.18.0.100
pingok "MTU 9000: ping -M do -s 8972 ext -> g2" "$ext" -M do -s 8972 198.18.0.2
pingok "MTU 9000: ping -6 -M do -s 8952 g2 -> ext" "$g2" -6 -M do -s 8952 2001:db8::100
out=$(ip netns exec "$g1" timeout 10 ping -c 1 -W 1 -M do -s 8973 198.18.0.2 2>&1)
rc=$?
check "[ $rc -ne 0 ] && grep -qiE 'too long|mtu' <<<\"\$out\"" "MTU 9000: ping -M do -s 8973 refused locally"
tcp mtu9000-g1-to-g2 "$g1" "$g2" 198.18.0.2
tcp mtu9000-g1-to-ext "$g1" "$ext" 198.18.0.100
tcp mtu9000-ext-to-g2 "$ext" "$g2" 198.18.0.2
check "kill -0 \$(cat '$run/pvnetd.pid')" "pvnetd still running"
finish
