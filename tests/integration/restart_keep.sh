#!/usr/bin/env bash
# restart_keep.sh - the toolstack's vif settings survive a pvnetd restart
# (src/back/keep.c): g1's vif accelerated, with Xen's ip key, a storm
# limit and a filter quota written in its backend directory; pvnetd
# stopped (SIGTERM) and started again on the same run directory.  g1's
# pvnet-front reconnects under a new domid with the same MAC, and its new
# vif has all of it again: the keys, acceleration back to Connected with
# its fast path carrying TCP again.  The kept file is gone once read.  A
# pvnetd killed with SIGKILL keeps them too: the running pvnetd rewrites
# vifs.kept (atomically) within a second of each change of a vif.
#
#  g1 (netns) ==== pvnetd --nic (stopped, started again) ==== pvnet-nicd --port up0 ==== ext
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout xenstore-read xenstore-write
[ -x "$BUILD/pvnet-nicd" ] || { skip "restart_keep.sh: no pvnet-nicd"; exit 0; }

host_begin keep
host_netns g1
host_nic_pvnetd
start_guest "$g1" g1 198.18.0.1
check "wait_for 10 \"ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1\"" "g1 reaches ext"
XS() { XENSTORED_PATH=$run/xenstored.sock "$@"; }
d1=$(domid_of g1)
be=/local/domain/0/backend/vif/$d1/0
mac=$(XS xenstore-read "$be/mac")
P vif-set "$d1" 0 ip=198.18.0.1 >/dev/null
XS xenstore-write "$be/storm-broadcast" "700,1400" "$be/limits/max-filters" 6
P accel "$d1" 0 on pvnic >/dev/null
ashow() { P --json accel "$1" 0 show | jget "$2"; }
check "wait_for 10 \"[ \\\"\\\$(ashow $d1 accelstate)\\\" = 4 ]\"" "g1 accelerated before the restart"

# tcp: bytes g1 sent to ext in 2 s
tcp() {
	ip netns exec "$ext" timeout 15 iperf3 -s -1 -p 5331 >/dev/null 2>&1 &
	wait_for 5 "ip netns exec '$ext' ss -Hltn 'sport = :5331' | grep -q ."
	ip netns exec "$g1" timeout 12 iperf3 -c 198.18.0.100 -p 5331 -t 2 -J 2>/dev/null |
		awk '/"sum_received"/ { r = 1 } r && /"bytes"/ { gsub(/,/, ""); print $2; exit }'
}

# A clean stop: the settings are kept.
stop_pvnetd "$run"
check "[ -s '$run/vifs.kept' ] && grep -q 'storm-broadcast 700,1400' '$run/vifs.kept'" \
	"pvnetd's clean stop kept the vif's settings ($(wc -l <"$run/vifs.kept" 2>/dev/null) lines in vifs.kept)"
host_pvnetd --nic "$nicdir" --log-level debug || die "pvnetd did not start again"
check "[ ! -e '$run/vifs.kept' ]" "the new pvnetd read vifs.kept and removed it"
check "wait_for 15 \"[ -n \\\"\\\$(domid_of g1)\\\" ]\"" \
	"g1 reconnected to the new pvnetd (a new domain: domid $d1 before, $(domid_of g1) now)"
n1=$(domid_of g1)
be=/local/domain/0/backend/vif/$n1/0
check "[ \"\$(XS xenstore-read $be/mac)\" = '$mac' ]" "the same MAC ($mac)"
check "[ \"\$(XS xenstore-read $be/storm-broadcast)\" = 700,1400 ] && [ \"\$(XS xenstore-read $be/limits/max-filters)\" = 6 ] && [ \"\$(XS xenstore-read $be/ip)\" = 198.18.0.1 ]" \
	"its vif has the kept keys (storm-broadcast, limits/max-filters, ip)"
check "[ \"\$(XS xenstore-read $be/accel)\" = pvnic ]" "and its accel key"
check "wait_for 15 \"[ \\\"\\\$(ashow $n1 accelstate)\\\" = 4 ]\"" "acceleration back to Connected by itself"
ip netns exec "$g1" ping -c 3 -i 0.2 -q 198.18.0.100 >/dev/null 2>&1	# g1 learns ext on the VI
v0=$(ashow "$n1" vi_tx_bytes)
b=$(tcp)
v1=$(ashow "$n1" vi_tx_bytes)
check "[ \"\${b:-0}\" -gt 10000000 ] && [ \$(( ${v1:-0} - ${v0:-0} )) -ge \$(( ${b:-0} * 9 / 10 )) ]" \
	"TCP g1 -> ext after the restart on the fast path (${b:-0} bytes, VI +$(( ${v1:-0} - ${v0:-0} )))"
check "grep -q 'kept vif settings wait for their guests' '$run/pvnetd.log'" "pvnetd logs what it restored"

# Killed (SIGKILL): the settings were kept while pvnetd ran (vifs.kept
# rewritten within a second of each change), so they come back all the same.
check "wait_for 5 \"grep -q '/backend/accel pvnic\$' '$run/vifs.kept' && grep -q 'storm-broadcast 700,1400' '$run/vifs.kept'\"" \
	"the running pvnetd keeps vifs.kept up to date (accel, storm keys)"
P vif-set "$n1" 0 ip=198.18.0.1,198.18.0.11 >/dev/null
check "wait_for 5 \"grep -qF 'x20198.18.0.11' '$run/vifs.kept'\"" \
	"a vif-set is in vifs.kept within a second"
check "[ ! -e '$run/vifs.kept.tmp' ]" "no temporary file left (written, fsynced, renamed)"
kill -KILL "$(cat "$run/pvnetd.pid")"
sleep 0.3
check "[ -s '$run/vifs.kept' ]" "a killed pvnetd leaves its last vifs.kept"
host_pvnetd --nic "$nicdir" --log-level debug || die "pvnetd did not start a third time"
check "wait_for 15 \"[ -n \\\"\\\$(domid_of g1)\\\" ]\"" "g1 reconnected again"
n2=$(domid_of g1)
be=/local/domain/0/backend/vif/$n2/0
check "[ \"\$(XS xenstore-read $be/mac)\" = '$mac' ] && [ \"\$(XS xenstore-read $be/storm-broadcast)\" = 700,1400 ] && [ \"\$(XS xenstore-read $be/ip)\" = '198.18.0.1 198.18.0.11' ]" \
	"after the kill: its vif has the kept keys (mac, storm-broadcast, the last ip)"
check "[ \"\$(XS xenstore-read $be/accel)\" = pvnic ]" "and its accel key"
check "wait_for 15 \"[ \\\"\\\$(ashow $n2 accelstate)\\\" = 4 ]\"" "acceleration back to Connected after the kill"
check "ip netns exec '$g1' ping -c 3 -i 0.2 -W 2 -q 198.18.0.100 >/dev/null 2>&1" "g1 reaches ext after the kill"
finish
