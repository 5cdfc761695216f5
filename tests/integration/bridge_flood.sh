#!/usr/bin/env bash
# bridge_flood.sh - random source MACs flooding pvnetd's bridge (BADINPUTS
# 20): from the outside through the uplink they are learned only up to the
# port's cap (--mac-cap 32) and age out (--mac-aging 3) once the flood
# stops; from a guest they never get past netback (tx_spoofed).  The
# guests' static entries stay, and guest-to-guest and guest-to-outside
# pings keep answering during and after the flood.
#
#  guest g1 (netns)           host (netns)                        ext (netns)
#  ┌─────────────────┐  rings ┌──────────────────────────────┐    ┌─────────────────┐
#  │ eth0 198.18.0.1 │<══════>│ pvnetd --mac-cap 32          │    │ eth0            │
#  │ macflood (spoof)│        │        --mac-aging 3         │    │ 198.18.0.100    │
#  │ ping g2, ext    │        │   bridge: vif<g1>.0 static   │    │ macflood: 4000  │
#  └─────────────────┘        │           vif<g2>.0 static   │    │ random src MACs │
#  ┌─────────────────┐  rings │           uplink:up0 <= 32 ══│════│                 │
#  │ eth0 198.18.0.2 │<══════>│                              │veth└─────────────────┘
#  └─────────────────┘        └──────────────────────────────┘
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need ping timeout
FLOOD=${FLOOD_COUNT:-4000}
CAP=32
AGING=3
MACFLOOD=$BUILD/tests/helpers/macflood
[ -x "$MACFLOOD" ] || { fail "$MACFLOOD not built"; exit 1; }

host_begin bfl
uplink_entries() { P mac-table | grep -c ' uplink:up0 '; }
learned_except() { P mac-table | grep ' learned ' | grep -vic "^$1 "; }	# MAC
# pings NAME NS DST COUNT: background ping every 50 ms, output in $run/NAME.ping
pings() {
	ip netns exec "$2" timeout 60 ping -n -i 0.05 -c "$4" -W 1 "$3" >"$run/$1.ping" 2>&1 &
	track_pid $!
	printf -v "ping_pid_$1" '%s' $!
}
# ping_loss_ok NAME: waits for it; at most 2% lost
ping_loss_ok() {
	local v="ping_pid_$1" sent recv
	wait "${!v}"
	sent=$(awk '/packets transmitted/ { print $1 }' "$run/$1.ping")
	recv=$(awk '/packets transmitted/ { print $4 }' "$run/$1.ping")
	check "[ \"${sent:-0}\" -gt 0 ] && [ $(( (${sent:-0} - ${recv:-0}) * 100 )) -le $((2 * ${sent:-0})) ]" \
		"$2: ping $1 keeps answering (${recv:-0}/${sent:-0})"
}

host_netns g1 g2
# Only what the test sends: no IPv6 chatter refreshing ext's entry.
ip netns exec "$ext" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
host_pvnetd --uplink up0 --mac-cap "$CAP" --mac-aging "$AGING" || die "pvnetd starts"
start_guest "$g1" g1 198.18.0.1
start_guest "$g2" g2 198.18.0.2
for g in "$g1" "$g2"; do ip netns exec "$g" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1; done
d1=$(domid_of g1); d2=$(domid_of g2)
wait_for 10 "[ \"\$(vstat $d1 connected)\" = 1 ] && [ \"\$(vstat $d2 connected)\" = 1 ]" || die "vifs connect"
mac1=$(vstat "$d1" mac); mac2=$(vstat "$d2" mac)
extmac=$(ip -n "$ext" -br link show eth0 | awk '{ print $3 }')
wait_for 10 "ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1" || die "g1 reaches ext"
check "P mac-table | grep -qi '^$extmac .*uplink:up0 .*learned'" "setup: ext's MAC learned on the uplink"

# ---- flood from the outside, with traffic across it ----
pings g1_g2 "$g1" 198.18.0.2 80
pings g1_ext "$g1" 198.18.0.100 80
sleep 0.3
ip netns exec "$ext" timeout 30 "$MACFLOOD" -r 4000 eth0 "$FLOOD" >"$run/flood-ext.out" 2>&1 &
fpid=$!
track_pid $fpid
max=0
while kill -0 $fpid 2>/dev/null; do
	n=$(uplink_entries)
	[ "${n:-0}" -gt $max ] && max=$n
	sleep 0.2
done
wait $fpid
frc=$?
check "[ $frc -eq 0 ] && grep -q '^sent $FLOOD\$' '$run/flood-ext.out'" "ext floods $FLOOD frames with random source MACs"
n=$(uplink_entries)
[ "${n:-0}" -gt $max ] && max=$n
P mac-table | head -n 5
echo "# uplink entries: at most $max seen during the flood, $n right after"
check "[ $max -le $CAP ] && [ $max -ge $((CAP / 2)) ]" "uplink port's learned MACs capped at $CAP (max seen $max)"
check "P mac-table | grep -qi '^$mac1 .*vif$d1.0 .*static' && P mac-table | grep -qi '^$mac2 .*vif$d2.0 .*static'" \
	"guests' static entries survive the flood"
check "P mac-table | grep -qi '^$extmac .*uplink:up0'" "ext's live entry is not evicted by the flood"
entries=$(P --json status | jget bridge_entries)
check "[ \"$entries\" -le $((CAP + 2)) ]" "bridge holds <= $((CAP + 2)) entries in all ($entries)"
capdrops=$(P --json status | jget bridge_cap_drops)
check "[ \"\${capdrops:-0}\" -ge $((FLOOD / 2)) ]" "the MACs refused at the cap are counted (bridge_cap_drops $capdrops)"
ping_loss_ok g1_g2 "during the uplink flood"
ping_loss_ok g1_ext "during the uplink flood"
check "kill -0 $pvnetd_pid" "pvnetd survives the flood"

# ---- flood from a guest: spoofed sources stop at netback ----
sp0=$(vstat "$d1" tx_spoofed)
before=$(P mac-table | wc -l)
pings g2_g1 "$g2" 198.18.0.1 40
ip netns exec "$g1" timeout 30 "$MACFLOOD" -r 2000 eth0 500 >"$run/flood-g1.out" 2>&1
check "[ \$? -eq 0 ]" "g1 sends 500 frames with random source MACs"
wait_for 5 "[ \$((\$(vstat $d1 tx_spoofed) - $sp0)) -ge 500 ]"
sp1=$(vstat "$d1" tx_spoofed)
check "[ $((sp1 - sp0)) -eq 500 ]" "netback drops every spoofed frame of g1's (tx_spoofed +$((sp1 - sp0)))"
check "[ \"\$(P mac-table | grep -c ' vif$d1.0 ')\" = 1 ]" "nothing learned on g1's vif (only its static MAC)"
check "[ \"\$(vstat $d1 connected)\" = 1 ] && [ \"\$(vstat $d1 fatal)\" = 0 ]" "g1's vif stays connected (drops, not fatal)"
ping_loss_ok g2_g1 "during the guest's spoofing"
echo "# mac-table lines before/after the guest flood: $before / $(P mac-table | wc -l)"

# ---- aging: all quiet, the learned entries expire ----
sleep 0.2
wait_for $((AGING + 5)) "[ \"\$(P mac-table | grep -c ' learned ')\" = 0 ]"
left=$(P mac-table | grep -c ' learned ')
check "[ $left -eq 0 ]" "after $AGING s of quiet every learned entry aged out ($left left)"
check "[ \"\$(P mac-table | grep -c ' static ')\" = 2 ]" "the 2 static entries remain after aging"
check "ip netns exec '$g1' timeout 10 ping -c 3 -i 0.2 -W 2 198.18.0.100 >/dev/null" "g1 -> ext after aging"
check "P mac-table | grep -qi '^$extmac .*uplink:up0 .*learned'" "ext's MAC learned again by live traffic"
check "ip netns exec '$g2' timeout 10 ping -c 3 -i 0.2 -W 2 198.18.0.1 >/dev/null" "g2 -> g1 after aging"
finish
