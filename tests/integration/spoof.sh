#!/usr/bin/env bash
# spoof.sh - a guest sends only as itself, on both paths (issue 9, points
# 1 and 2): evil's root, with raw AF_PACKET sockets in its namespace
# (tests/helpers/spoof_send: well-formed frames a receiver would take),
# claims the victim's addresses: ARP replies and gratuitous ARPs for the
# victim's IPv4, IPv4 and IPv6 from the victim's source, Neighbour
# Advertisements (override) for the victim's IPv6 target.  Each round sends
# 20 of each kind.
#
#  victim .1 / 2001:db8::1 (pvnet-front, accelerated: flow filters, VI)
#  evil  .66 / 2001:db8::66 (pvnet-front; slow path, then accelerated)
#        ==== pvnetd --nic (netback, bridge) ==== pvnet-nicd (port up0) ==== ext .100 / ::100
#
# Two modes of the vifs' addresses (docs/xenbus.md, "ip"):
#   learned   no `ip` key: the victim's addresses are its own because it
#             used them first; evil's claims are refused (tx_ip_conflict);
#   ip        pvnetctl vif-set D 0 ip=...: the toolstack's list; evil's
#             claims are spoofs (tx_spoof_arp/ipv4/ipv6/nd).
# In each mode, on the slow path (evil not accelerated: every frame through
# netback) and on the fast path (evil accelerated: its unicast frames to
# ext go out of its VI and the NIC refuses them, vi_tx_spoofed; broadcast
# and multicast still go through netback):
#   - every spoofed frame dropped and counted, on evil's vif or VI;
#   - ext's neighbour entries for the victim's addresses never move to evil;
#   - the victim keeps its pings, and its fast path: its VI's RX counter
#     keeps growing (ext's ACKs of its TCP) and filter_ip_conflicts stays;
#   - pvnetd logs the refusals (rate-limited).
# And the CLI: bad ip= values are usage errors (rc 2), a missing vif rc 1.
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need ping timeout iperf3
[ -x "$BUILD/pvnet-nicd" ] || { skip "spoof.sh: no pvnet-nicd"; exit 0; }
SPOOF=$BUILD/tests/helpers/spoof_send
[ -x "$SPOOF" ] || die "no $SPOOF (make all)"

host_begin spoof
on_cleanup() { [ -n "${iperf_pid:-}" ] && kill "$iperf_pid" 2>/dev/null; true; }
host_netns vns:victim ens:evil
ip -n "$ext" addr add 2001:db8::100/64 dev eth0 nodad
host_nic_pvnetd
start_guest "$vns" victim "198.18.0.1"
start_guest "$ens" evil "198.18.0.66"
ip -n "$vns" addr add 2001:db8::1/64 dev eth0 nodad
ip -n "$ens" addr add 2001:db8::66/64 dev eth0 nodad
dv=$(domid_of victim); de=$(domid_of evil)
vmac=$(vstat "$dv" mac); emac=$(vstat "$de" mac)
xmac=$(ip -n "$ext" link show eth0 | awk '/link\/ether/ { print $2 }')
ell=$(ip -n "$ens" -6 addr show dev eth0 scope link | awk '/inet6/ { sub(/\/.*/, "", $2); print $2; exit }')

# Each guest uses its addresses first (learned mode: they become its own).
for g in "$vns" "$ens"; do
	wait_for 10 "ip netns exec '$g' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1" || die "IPv4 to ext"
	wait_for 10 "ip netns exec '$g' ping -6 -c1 -W1 2001:db8::100 >/dev/null 2>&1" || die "IPv6 to ext"
done
check "[ \"\$(vstat $dv ip_mode)\" = learned ] && [ \"\$(vstat $dv ip)\" = '198.18.0.1 2001:db8::1' ]" \
	"learned: the victim owns 198.18.0.1 and 2001:db8::1 ($(vstat "$dv" ip))"
check "[ \"\$(vstat $de ip)\" = '198.18.0.66 2001:db8::66' ]" "learned: evil owns its own ($(vstat "$de" ip))"

astate() { P --json accel "$1" 0 show | jget "$2"; }
P accel "$dv" 0 on pvnic >/dev/null
wait_for 10 "[ \"\$(astate $dv accelstate)\" = 4 ]" || die "the victim's acceleration reaches Connected"

# The victim's TCP to ext for the whole test: ext's ACKs arrive on its VI (flow filter).
ip netns exec "$ext" timeout 120 iperf3 -s -1 -p 5310 >/dev/null 2>&1 &
wait_for 5 "ip netns exec '$ext' ss -Hltn 'sport = :5310' | grep -q ."
ip netns exec "$vns" timeout 110 iperf3 -c 198.18.0.100 -p 5310 -t 100 -b 20M >/dev/null 2>&1 &
iperf_pid=$!
wait_for 10 "[ \"\$(astate $dv filter_installs)\" -ge 1 ] 2>/dev/null" || die "the victim's flow gets a filter"
sleep 1

# evil's TCP to ext for a second: ext's replies on its VI teach its frontend
# ext as a fast-path destination (when accelerated).
teach() {
	local srv
	ip netns exec "$ext" timeout 10 iperf3 -s -1 -p 5311 >/dev/null 2>&1 &
	srv=$!
	wait_for 5 "ip netns exec '$ext' ss -Hltn 'sport = :5311' | grep -q ."
	ip netns exec "$ens" timeout 10 iperf3 -c 198.18.0.100 -p 5311 -t 1 -b 5M >/dev/null 2>&1
	wait "$srv"
}

# attack: 20 of each kind from evil's eth0
attack() {
	local S="ip netns exec $ens $SPOOF -n 20 -i 5 eth0"
	$S arp-reply "$emac" "$xmac" 198.18.0.1 198.18.0.100 &&
	$S arp-grat "$emac" ff:ff:ff:ff:ff:ff 198.18.0.1 &&
	$S ipv4 "$emac" "$xmac" 198.18.0.1 198.18.0.100 &&
	$S ipv6 "$emac" "$xmac" 2001:db8::1 2001:db8::100 &&
	$S na "$emac" 33:33:00:00:00:01 "$ell" ff02::1 2001:db8::1 &&
	$S na "$emac" "$xmac" "$ell" 2001:db8::100 2001:db8::1
}

counters="tx_ip_conflict tx_spoof_arp tx_spoof_ipv4 tx_spoof_ipv6 tx_spoof_nd"
snap() { # snap PREFIX: evil's drop counters, its VI's spoof count, the victim's fast path
	local c
	for c in $counters; do printf -v "$1_$c" '%s' "$(vstat "$de" "$c")"; done
	printf -v "$1_vi" '%s' "$(astate "$de" vi_tx_spoofed)"
	printf -v "$1_rx" '%s' "$(astate "$dv" vi_rx_frames)"
	printf -v "$1_conf" '%s' "$(astate "$dv" filter_ip_conflicts)"
}
d() { local a=b_$1 b=a_$1; echo $(( ${!b:-0} - ${!a:-0} )); }

# round MODE PATH: the attack, then the checks of that mode and path
round() {
	local mode=$1 path=$2 loss
	snap b
	ip netns exec "$vns" ping -c 40 -i 0.05 -W 1 198.18.0.100 >"$run/ping.$mode.$path.log" 2>&1 &
	local ping_pid=$!
	check "attack" "$mode/$path: evil sent 120 spoofed frames"
	wait "$ping_pid"
	sleep 0.5
	snap a
	loss=$(sed -n 's/.* \([0-9]*\)% packet loss.*/\1/p' "$run/ping.$mode.$path.log")
	local netback=$(( $(d tx_ip_conflict) + $(d tx_spoof_arp) + $(d tx_spoof_ipv4) + $(d tx_spoof_ipv6) + $(d tx_spoof_nd) ))
	if [ "$path" = slow ]; then
		if [ "$mode" = learned ]; then
			check "[ $(d tx_ip_conflict) -eq 120 ]" \
				"$mode/$path: all 120 refused by netback as another vif's (tx_ip_conflict +$(d tx_ip_conflict))"
		else
			check "[ $(d tx_spoof_arp) -eq 40 ] && [ $(d tx_spoof_ipv4) -eq 20 ] && [ $(d tx_spoof_ipv6) -eq 20 ] && [ $(d tx_spoof_nd) -eq 40 ]" \
				"$mode/$path: dropped by netback per reason: arp +$(d tx_spoof_arp) ipv4 +$(d tx_spoof_ipv4) ipv6 +$(d tx_spoof_ipv6) nd +$(d tx_spoof_nd) (want 40/20/20/40)"
		fi
	else
		# The broadcast gratuitous ARPs and multicast NAs (40) go through
		# netback; the unicast ones (80) too, since evil's pvnic frontend
		# sends on the VI only sources the NIC allows (accel-src-addrs): a
		# frontend that ignored that would meet the NIC's own check
		# (vi_tx_spoofed; fastpath_evil.sh and test_nic_vi drive the VI
		# directly).  Either way every one is dropped and counted.
		check "[ $(( $(d vi) + netback )) -eq 120 ]" \
			"$mode/$path: the NIC refused $(d vi) on evil's VI (vi_tx_spoofed), netback $netback: 120 in all"
	fi
	check "! ip -n '$ext' neigh show 198.18.0.1 | grep -qi '$emac'" \
		"$mode/$path: ext's neighbour entry for 198.18.0.1 stays the victim's ($(ip -n "$ext" neigh show 198.18.0.1))"
	check "! ip -n '$ext' -6 neigh show 2001:db8::1 | grep -qi '$emac'" \
		"$mode/$path: ext's neighbour entry for 2001:db8::1 stays the victim's ($(ip -n "$ext" -6 neigh show 2001:db8::1))"
	check "[ \"\${loss:-100}\" -le 5 ]" "$mode/$path: the victim's 40 pings meanwhile lost ${loss:-?}%${loss:+}${loss:-: $(tail -n 3 "$run/ping.$mode.$path.log" | tr '\n' ' ')}"
	check "[ $(d rx) -gt 50 ] && [ $(d conf) -eq 0 ]" \
		"$mode/$path: the victim keeps its fast path: its VI received +$(d rx) frames, filter_ip_conflicts +$(d conf)"
}

round learned slow
P accel "$de" 0 on pvnic >/dev/null
wait_for 10 "[ \"\$(astate $de accelstate)\" = 4 ]" || die "evil's acceleration reaches Connected"
teach
check "[ \"\$(astate $de src_addrs_programmed)\" -ge 1 ]" \
	"learned: evil's addresses programmed into the NIC's TX check ($(astate "$de" guest_ips))"
round learned fast

# ---- the toolstack's ip key ----
rc_of() { "$@" >"$run/out" 2>&1; echo $?; }
check "[ $(rc_of P vif-set "$dv" 0 ip=bogus) = 2 ] && grep -q \"usage: .*bad ip 'bogus'\" '$run/out'" \
	"vif-set ip=bogus: usage error, rc 2 ($(cat "$run/out"))"
check "[ $(rc_of P vif-set "$dv" 0 ip=224.0.0.1) = 2 ]" "vif-set ip=224.0.0.1 (multicast): rc 2"
check "[ $(rc_of P vif-set "$dv" 0 ip=10.0.0.1,10.0.0.1000) = 2 ]" "vif-set with one bad address of two: rc 2"
check "[ $(rc_of P vif-set "$dv" 0 mtu=1400) = 2 ]" "vif-set mtu=1400 (not a setting): rc 2"
check "[ $(rc_of P vif-set 999 0 ip=10.0.0.1) = 1 ] && grep -q 'no such vif' '$run/out'" "vif-set on no vif: rc 1"
check "[ $(rc_of P vif-create "$dv" devid=3 ip=1.2.3) = 2 ]" "vif-create ip=1.2.3: usage error, rc 2"
check "[ \"\$(vstat $dv ip_mode)\" = learned ]" "refused settings changed nothing"

P vif-set "$dv" 0 ip=198.18.0.1,2001:db8::1 >/dev/null
P vif-set "$de" 0 ip=198.18.0.66,2001:db8::66 >/dev/null
check "wait_for 5 \"[ \\\"\\\$(vstat $de ip_mode)\\\" = ip ]\" && [ \"\$(P store-dump /local/domain/0/backend/vif/$de/0/ip | grep -c 198.18.0.66)\" -ge 1 ]" \
	"vif-set writes the ip key, netback takes it (evil: $(vstat "$de" ip_mode) $(vstat "$de" ip))"
teach
round ip fast
P accel "$de" 0 off >/dev/null
wait_for 10 "[ -z \"\$(astate $de accelstate)\" ] || [ \"\$(astate $de accelstate)\" != 4 ]"
sleep 0.5
round ip slow

P vif-set "$de" 0 ip= >/dev/null
check "wait_for 5 \"[ \\\"\\\$(vstat $de ip_mode)\\\" = learned ]\" && [ \"\$(vstat $de ip)\" = '198.18.0.66 2001:db8::66' ]" \
	"vif-set ip= : learned again, the addresses the key gave kept ($(vstat "$de" ip_mode): $(vstat "$de" ip))"
check "grep -q 'source address refused' '$run/pvnetd.log'" "pvnetd logs the refusals"
check "[ \$(grep -c 'source address refused' '$run/pvnetd.log') -lt 100 ]" \
	"... rate-limited ($(grep -c 'source address refused' "$run/pvnetd.log") lines for 240 frames)"
check "kill -0 $pvnetd_pid" "pvnetd survived"
finish
