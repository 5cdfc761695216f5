#!/usr/bin/env bash
# fastpath_nicd_restart.sh - pvnet-nicd killed (SIGKILL) and restarted while
# an accelerated guest streams TCP to the external host: the guest falls
# back to the slow path, the TCP connection survives the outage, and once
# the NIC is back the vif is accelerated again (accelstate 4, a new VI
# whose counters grow).
#
#  g1 (netns)                  host (netns)                                ext (netns)
#  ┌───────────────┐  rings   ┌───────────────────────┐
#  │ eth0 .1       │<════════>│ pvnetd --nic          │ host VI ┌────────────────┐      ┌──────────┐
#  │ pvnet-front   │          │  netback, bridge ─────│────────>│ pvnet-nicd     │ veth │ eth0 .100│
#  │ + pvnic front │══════════│═══ VI (fast path) ════│════════>│  --port up0    │══════│ iperf3 -s│
#  └───────────────┘          │  pvnic backend (ctl)  │─control>│  kill -9, then │      └──────────┘
#                             └───────────────────────┘         │  started again │
#                                                               └────────────────┘
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout
[ -x "$BUILD/pvnet-nicd" ] || { skip "fastpath_nicd_restart.sh: no pvnet-nicd"; exit 0; }

host_begin fpr

host_netns g1
host_nic_pvnetd
start_guest "$g1" g1 198.18.0.1
wait_for 10 "ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1" ||
	die "slow path: g1 does not reach ext"
d1=$(domid_of g1)

accel_state() { P --json accel "$d1" 0 show | jget accelstate; }
ashow() { P --json accel "$d1" 0 show | jget "$1"; }
P accel "$d1" 0 on pvnic >/dev/null
check "wait_for 10 \"[ \\\"\\\$(accel_state)\\\" = 4 ]\"" "g1's vif accelerated (accelstate 4)"

ip netns exec "$ext" iperf3 -s -1 -D -I "$run/iperf.pid" >/dev/null 2>&1
wait_for 5 "ip netns exec '$ext' ss -ltn | grep -q ':5201 '" || die "iperf3 server"
ip netns exec "$g1" timeout 40 iperf3 -c 198.18.0.100 -t 12 -J >"$run/iperf.json" 2>/dev/null &
ipid=$!
check "wait_for 5 \"[ \\\"\\\$(ashow vi_tx_bytes)\\\" -gt 10000000 ] 2>/dev/null\"" \
	"before: the stream is on the fast path (more than 10 MB through the VI)"
echo "VI tx bytes before the kill: $(ashow vi_tx_bytes)"

sleep 2
kill -KILL "$nicd_pid"
wait "$nicd_pid" 2>/dev/null
check "wait_for 5 \"[ \\\"\\\$(accel_state)\\\" = 6 ] && [ \\\"\\\$(ashow accel_frontend)\\\" = '' ]\"" \
	"pvnet-nicd killed: the backend takes the fast path down (accelstate 6, accel-frontend gone)"
check "wait_for 5 \"[ \\\"\\\$(P --json nic | jget connected)\\\" = 0 ]\"" \
	"pvnetctl nic: not connected"
sleep 2
start_nicd "$hostns" "$nicdir" up0 "$run/nicd.log" || die "pvnet-nicd did not start again"
check "wait_for 10 \"[ \\\"\\\$(accel_state)\\\" = 4 ]\"" \
	"pvnet-nicd back: accelerated again (accelstate 4)"
check "[ \"\$(P --json nic | jget connects)\" = 2 ]" "the backend reconnected to the new pvnet-nicd"
v0=$(ashow vi_tx_bytes)
check "wait_for 8 \"[ \\\"\\\$(ashow vi_tx_bytes)\\\" -gt $(( ${v0:-0} + 1000000 )) ] 2>/dev/null\"" \
	"the new VI's counters grow: the stream is on the fast path again"
echo "new VI tx bytes: ${v0:-0} at accelstate 4, then $(ashow vi_tx_bytes)"
wait "$ipid"; rc=$?
got=$(awk '/"sum_received"/ {r=1} r && /"bytes"/ {gsub(/,/,""); print $2; exit}' "$run/iperf.json")
check "[ $rc -eq 0 ] && [ \"\${got:-0}\" -gt 10000000 ]" \
	"the TCP stream survived pvnet-nicd's restart (iperf3 rc $rc, ${got:-0} bytes)"
check "[ \"\$(ashow filters)\" -ge 1 ]" "flow filters learned again ($(ashow filters))"
P accel "$d1" 0 show | grep -E '^(accelstate|filters|vi_id|vi_tx_bytes|vi_rx_frames) '
check "[ -f '$run/pvnetd.pid' ] && kill -0 \$(cat '$run/pvnetd.pid')" "pvnetd still running"
finish
