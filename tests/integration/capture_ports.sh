#!/usr/bin/env bash
# capture_ports.sh - pvnetctl capture on any port of the switch, by the
# name pvnetctl port-list shows (the uplink here, and a vif by name), with
# a pcap-filter(7) expression: only matching frames are written and
# counted, the others are reported as not matching; a bad filter, a port
# that does not exist and a bad first word are refused (rc 2 / 1 / 2).
#
#  g1 198.18.0.1 (pvnet-front) ==== pvnetd (bridge, uplink up0) ==== ext 198.18.0.100
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need tcpdump ping timeout python3
host_begin capp
C() { "$BUILD"/pvnetctl -r "$run" "$@"; }

host_netns g1
host_pvnetd --uplink up0 || die "pvnetd did not start"
start_guest "$g1" g1 198.18.0.1
check "wait_for 10 \"ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1\"" "g1 reaches ext"
d1=$(domid_of g1)

# ---- port-list: every port, by name and kind ----
C --json port-list >"$run/ports.json"
check "python3 -c 'import json,sys; p={r[\"port\"]: r[\"kind\"] for r in json.load(open(sys.argv[1]))}; sys.exit(0 if p.get(\"uplink:up0\") == \"uplink\" and p.get(\"vif$d1.0\") == \"vif\" else 1)' '$run/ports.json'" \
	"port-list --json: uplink:up0 (uplink) and vif$d1.0 (vif) ($(tr -d '\n' <"$run/ports.json" | head -c 200))"
check "C port-list | grep -qE '^uplink:up0 +uplink +[0-9]+'" "port-list as a table"

# ---- errors ----
out=$(timeout 10 "$BUILD"/pvnetctl -r "$run" capture uplink:nope -c 1 2>&1); rc=$?
check "[ $rc -eq 1 ] && grep -q \"no such port 'uplink:nope'\" <<<\"\$out\"" "capture of a port that does not exist: rc 1 ($rc), names it"
out=$(timeout 10 "$BUILD"/pvnetctl -r "$run" capture uplink:up0 -c 1 'icmp and and' 2>&1); rc=$?
check "[ $rc -eq 2 ] && grep -q 'bad FILTER' <<<\"\$out\"" "a filter that does not compile: rc 2 ($rc), says so ($out)"
out=$(timeout 10 "$BUILD"/pvnetctl -r "$run" capture nosuch -c 1 2>&1); rc=$?
check "[ $rc -eq 2 ] && grep -q 'bad DOMID or PORT' <<<\"\$out\"" "neither ids nor a port name: rc 2 ($rc)"
out=$(timeout 10 "$BUILD"/pvnetctl -r "$run" capture vi:0 -c 1 2>&1); rc=$?
check "[ $rc -eq 1 ] && grep -q 'pvnetd has no NIC' <<<\"\$out\"" "capture vi:0 on a pvnetd without a NIC: rc 1 ($rc)"
out=$(timeout 10 "$BUILD"/pvnetctl -r "$run" capture uplink:up0 -c 1 -z 2>&1); rc=$?
check "[ $rc -eq 2 ] && grep -q 'usage' <<<\"\$out\"" "an unknown option: rc 2 ($rc)"

started() { grep -c "capture of $1 started" "$run/pvnetd.log"; }

# ---- the uplink, filtered: UDP noise beside the pings is left out ----
n0=$(started uplink:up0)
timeout 20 "$BUILD"/pvnetctl -r "$run" capture uplink:up0 -c 8 -w "$run/up.pcap" icmp and host 198.18.0.1 \
	2>"$run/up.err" &
cap=$!
track_pid $cap
wait_for 5 "[ \$(started uplink:up0) -gt $n0 ]" || fail "capture of the uplink did not start"
for i in 1 2 3 4 5; do
	ip netns exec "$g1" bash -c 'echo noise >/dev/udp/198.18.0.100/9' 2>/dev/null
done
ip netns exec "$g1" timeout 15 ping -q -c 4 -i 0.1 -W 2 198.18.0.100 >/dev/null
wait $cap; rc=$?
check "[ $rc -eq 0 ]" "capture uplink:up0 -c 8 FILTER ends by itself, rc 0 ($rc)"
tcpdump -nn -r "$run/up.pcap" >"$run/up.txt" 2>/dev/null
check "[ \$(wc -l <'$run/up.txt') -eq 8 ] && [ \$(grep -c ICMP '$run/up.txt') -eq 8 ]" \
	"tcpdump reads 8 frames, all ICMP ($(wc -l <"$run/up.txt") lines)"
# The pings carry no offload: their checksums are complete on the wire.
# (The UDP noise did: ext's port-unreachables quote it with its partial
# checksum, as the kernel sent it; those are left out here.)
tcpdump -vv -nn -r "$run/up.pcap" 'icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply' \
	>"$run/upv.txt" 2>/dev/null
check "[ \$(grep -c 'ICMP echo' '$run/upv.txt') -ge 2 ] && ! grep -qiE 'bad|wrong|incorrect' '$run/upv.txt'" \
	"tcpdump -vv finds the echo frames' IPv4 and ICMP checksums right ($(grep -c 'ICMP echo' "$run/upv.txt" 2>/dev/null) frames)"
check "grep -q '198.18.0.1 > 198.18.0.100: ICMP echo request' '$run/up.txt' &&
	grep -q '198.18.0.100 > 198.18.0.1: ICMP echo reply' '$run/up.txt'" "both directions of the uplink"
check "grep -qE '^pvnetctl: capture: 8 frames, 0 dropped .*, [1-9][0-9]* not matching the filter' '$run/up.err'" \
	"the UDP noise was seen and left out ($(cat "$run/up.err"))"

# ---- a vif by its port name, as lines ----
n0=$(started "vif$d1.0")
timeout 20 "$BUILD"/pvnetctl -r "$run" capture "vif$d1.0" -c 2 -- icmp >"$run/vif.txt" 2>"$run/vif.err" &
cap=$!
track_pid $cap
wait_for 5 "[ \$(started vif$d1.0) -gt $n0 ]" || fail "capture of vif$d1.0 did not start"
ip netns exec "$g1" timeout 15 ping -q -c 2 -i 0.1 -W 2 198.18.0.100 >/dev/null
wait $cap; rc=$?
check "[ $rc -eq 0 ] && [ \$(grep -c 'ICMP' '$run/vif.txt') -eq 2 ]" "capture vif$d1.0 -- icmp: 2 lines, rc $rc ($(head -n1 "$run/vif.txt"))"
finish
