#!/usr/bin/env bash
# pvnetd_poll.sh - pvnetd --poll-us (bounded adaptive polling, loop.h
# pv_loop_run_poll): two guests talk through a polling pvnetd (pings and
# TCP, nothing lost), and once they stop pvnetd sleeps again: an idle
# polling pvnetd costs (almost) no CPU.  The latency it saves is make
# bench's figure, not asserted here.
#
#  g1 .1, g2 .2 (pvnet-front) ==== pvnetd --poll-us 200 (bridge)
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout
host_begin pvpoll
host_netns g1 g2
host_pvnetd --poll-us 200 || die "pvnetd did not start"
start_guest "$g1" g1 198.18.0.1
start_guest "$g2" g2 198.18.0.2
check "wait_for 10 \"ip netns exec '$g1' ping -c1 -W1 198.18.0.2 >/dev/null 2>&1\"" "g1 reaches g2 through a polling pvnetd"
out=$(ip netns exec "$g1" ping -c 300 -i 0.005 -q 198.18.0.2 2>&1)
check "grep -q ' 0% packet loss' <<<\"\$out\"" "300 pings g1 -> g2 at 5 ms, none lost ($(grep -o '[0-9]*% packet loss' <<<"$out"))"
ip netns exec "$g2" timeout 20 iperf3 -s -1 -p 5311 >/dev/null 2>&1 &
wait_for 5 "ip netns exec '$g2' ss -Hltn 'sport = :5311' | grep -q ."
b=$(ip netns exec "$g1" timeout 15 iperf3 -c 198.18.0.2 -p 5311 -t 2 -J 2>/dev/null |
	awk '/"sum_received"/ { r = 1 } r && /"bytes"/ { gsub(/,/, ""); print $2; exit }')
check "[ \"\${b:-0}\" -gt 10000000 ]" "TCP g1 -> g2 through a polling pvnetd: ${b:-0} bytes in 2 s"
sleep 1
ticks() { awk '{ print $14 + $15 }' "/proc/$pvnetd_pid/stat"; }
t0=$(ticks); sleep 3; t1=$(ticks)
# idle: its 1 s timer opens a 200 us window a second; 10 ticks is 100 ms
check "[ $((t1 - t0)) -le 10 ]" "idle for 3 s, the polling pvnetd used $((t1 - t0)) ticks (at most 10)"
out=$(ip netns exec "$g1" ping -c 20 -i 0.05 -q 198.18.0.2 2>&1)
check "grep -q ' 0% packet loss' <<<\"\$out\"" "after idling it wakes for the next frame: 20 pings, none lost"
out=$("$BUILD"/pvnetd --run-dir "$run/bad" --poll-us 1000001 2>&1); rc=$?
check "[ $rc -eq 2 ] && grep -q 'bad --poll-us' <<<\"\$out\"" "--poll-us 1000001 refused: rc $rc"
out=$(PVNET_POLL_US=x "$BUILD"/pvnetd --run-dir "$run/bad" 2>&1); rc=$?
check "[ $rc -eq 2 ] && grep -q 'bad --poll-us' <<<\"\$out\"" "PVNET_POLL_US=x refused: rc $rc"
finish
