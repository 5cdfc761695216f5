#!/usr/bin/env bash
# slowpath_guest_kill.sh - a guest killed (SIGKILL) in the middle of a TCP
# transfer: pvnetd reclaims everything it held (vif, domain, MAC table
# entry, grant mappings, event channels) within a few seconds, and the
# other guest's traffic to the outside goes on without losses; a new
# guest under the same name then works again.
#
#  guest g1 (netns)           host (netns)                        ext (netns)
#  ┌─────────────────┐  rings ┌──────────────────────────────┐    ┌─────────────────┐
#  │ eth0 198.18.0.1 │<══════>│ pvnetd  vif<g1>.0  ← killed  │    │ eth0            │
#  │ pvnet-front  ✗  │        │         vif<g2>.0            │    │ 198.18.0.100    │
#  │ iperf3 -c g2    │        │         bridge               │    │                 │
#  └─────────────────┘        │         uplink up0 ══════════│════│ (answers ping)  │
#  ┌─────────────────┐  rings │                              │veth└─────────────────┘
#  │ eth0 198.18.0.2 │<══════>│                              │
#  │ iperf3 -s       │        └──────────────────────────────┘
#  │ ping -i 0.05 ext│
#  └─────────────────┘
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout ss

host_begin spk

host_netns g1 g2
host_pvnetd --uplink up0 || die "pvnetd starts"

start_guest "$g1" g1 198.18.0.1
start_guest "$g2" g2 198.18.0.2
d1=$(domid_of g1); d2=$(domid_of g2)
wait_for 10 "[ \"\$(vstat $d1 connected)\" = 1 ] && [ \"\$(vstat $d2 connected)\" = 1 ]" || die "vifs connect"
mac1=$(vstat "$d1" mac)
wait_for 10 "ip netns exec '$g1' ping -c1 -W1 198.18.0.2 >/dev/null 2>&1" || die "g1 reaches g2"
wait_for 10 "ip netns exec '$g2' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1" || die "g2 reaches ext"
pass "setup: g1 (dom $d1, $mac1) and g2 (dom $d2) connected, traffic flows"
check "P mac-table | grep -qi '^$mac1 .*vif$d1.0'" "before: mac-table has g1's MAC on vif$d1.0"
maps_before=$(P --json domain-list | grep '"name": "g1"' | jget maps)
check "[ \"$maps_before\" -ge 2 ]" "before: g1 has grant mappings ($maps_before)"

# Traffic: g1 -> g2 TCP (6 s), g2 -> ext ping every 50 ms across the kill.
ip netns exec "$g2" timeout 40 iperf3 -s -1 >"$run/iperf-s.out" 2>&1 &
track_pid $!
wait_for 10 "ip netns exec '$g2' ss -Hltn 'sport = :5201' | grep -q ." || die "iperf3 server"
ip netns exec "$g1" timeout 20 iperf3 -c 198.18.0.2 -t 6 -J >"$run/iperf.json" 2>&1 &
iperf_pid=$!
track_pid $iperf_pid
ip netns exec "$g2" timeout 30 ping -n -i 0.05 -c 120 -W 1 198.18.0.100 >"$run/ping.out" 2>&1 &
ping_pid=$!
track_pid $ping_pid
sleep 1.5
tx_before=$(vstat "$d1" tx_bytes)
check "[ \"${tx_before:-0}\" -gt 1000000 ]" "g1 is mid-transfer (${tx_before:-0} bytes sent) when killed"

kill -KILL "$front_pid_g1"
wait "$front_pid_g1" 2>/dev/null
t0=$(date +%s.%N)
gone() {
	! P vif-list | grep -q "^vif$d1\.0 " &&
	! P --json domain-list | grep -q '"name": "g1"' &&
	! P mac-table | grep -qi "^$mac1 "
}
wait_for 5 gone
el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
check "! P vif-list | grep -q '^vif$d1\.0 '" "vif$d1.0 gone from vif-list (${el}s)"
check "! P --json domain-list | grep -q '\"name\": \"g1\"'" "g1's domain gone from domain-list"
check "! P mac-table | grep -qi '^$mac1 '" "g1's MAC gone from the mac-table"
check "P vif-stats $d1 0 >/dev/null 2>&1; [ \$? -ne 0 ]" "vif-stats $d1 0 refused: no such vif"
status=$(P --json status)
check "[ \"\$(jget domains <<<'$status')\" = 1 ]" "status: 1 domain left"
check "[ \"\$(jget domains_destroyed <<<'$status')\" = 1 ]" "status: 1 domain destroyed"
dl=$(P --json domain-list)
echo "$dl"
# The only grant mappings left are g2's two ring pages; Domain-0's event
# channels are g2's only (one per vif).
check "[ \"\$(grep '\"name\": \"g2\"' <<<'$dl' | jget maps)\" = 2 ]" "grant maps balanced: g2 keeps its 2 ring maps"
check "[ \"\$(awk -F'\"maps\": ' 'NF > 1 { split(\$2, a, \",\"); s += a[1] } END { print s }' <<<'$dl')\" = 2 ]" \
	"grant maps balanced: 2 in all, none left of g1"
check "[ \"\$(grep '\"name\": \"Domain-0\"' <<<'$dl' | jget evtchns)\" = 1 ]" \
	"event channels balanced: Domain-0 holds only g2's"
check "kill -0 $pvnetd_pid" "pvnetd survives the kill"

wait "$ping_pid"
sent=$(awk '/packets transmitted/ { print $1 }' "$run/ping.out")
recv=$(awk '/packets transmitted/ { print $4 }' "$run/ping.out")
echo "# ping g2 -> ext across the kill: $sent sent, $recv received"
check "[ \"${sent:-0}\" -ge 100 ] && [ $((${sent:-0} - ${recv:-0})) -le 2 ]" \
	"g2 -> ext ping across the kill: at most 2 of ${sent:-0} lost ($((${sent:-0} - ${recv:-0})) lost)"
# The killed guest's iperf3 client has lost its interface: stop it.
kill "$iperf_pid" 2>/dev/null
wait "$iperf_pid" 2>/dev/null
check "ip netns exec '$ext' timeout 10 ping -c 3 -i 0.2 -W 2 198.18.0.2 >/dev/null" "ext -> g2 ping after the kill"
check "[ \"\$(vstat $d2 connected)\" = 1 ] && [ \"\$(vstat $d2 fatal)\" = 0 ]" "g2's vif untouched"

# A new g1 (same name, same MAC) gets a fresh domain and works.
start_guest "$g1" g1 198.18.0.1 >/dev/null
wait_for 10 "ip -n '$g1' link show eth0 >/dev/null 2>&1"
d1b=$(domid_of g1)
check "[ -n '$d1b' ] && [ '$d1b' != '$d1' ]" "a new g1 registers (dom $d1b)"
check "wait_for 10 \"ip netns exec '$g1' ping -c1 -W1 198.18.0.2 >/dev/null 2>&1\"" "new g1 reaches g2"
check "ip netns exec '$g1' timeout 10 ping -c 2 -W 2 198.18.0.100 >/dev/null" "new g1 reaches ext"
finish
