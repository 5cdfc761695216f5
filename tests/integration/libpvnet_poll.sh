#!/usr/bin/env bash
# libpvnet_poll.sh - pvnet-nicd's polling mode (--poll-us, here through
# PVNET_NIC_POLL_US) with libpvnet apps: traffic works in interrupt and
# spin mode while the NIC polls; the app's sends are found by polling,
# without a doorbell (pvnet-nicd counts them: "VI turns found without a
# doorbell"); and once traffic stops the NIC goes back to sleep: its CPU
# time over 3 idle seconds stays near 0 (a spinner would take most of a
# CPU).  Behaviour, not timing: figures are bench/libpvnet.sh's.
#
#  host (netns): app (libpvnet) -> pvnet-broker -> pvnet-nicd --port up0 ══ veth ══ ext: kernel echo
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need setpriv timeout
for b in pvnet-nicd pvnet-broker tests/helpers/pvnet_udp_echo; do
	[ -x "$BUILD/$b" ] || { skip "libpvnet_poll.sh: $b not built"; exit 0; }
done

host_begin lpoll
E=$BUILD/tests/helpers/pvnet_udp_echo
export PVNET_NIC_POLL_US=2000
app_host <<'POL'
uid 65534 vis 4 bufs 512 addr 198.18.0.1 udp 5000-5099
POL
unset PVNET_NIC_POLL_US
app() { ip netns exec "$hostns" timeout 30 "${AS_NOBODY[@]}" "$E" "$@"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$nicd_pid/stat" 2>/dev/null || echo -1; }

check "grep -q 'polling 2000 us' '$run/nicd.log'" "pvnet-nicd took PVNET_NIC_POLL_US=2000 (its start line)"

ip netns exec "$ext" "$E" kecho 7000 0 >/dev/null 2>&1 &
track_pid $!
wait_for 5 "ip netns exec '$ext' ss -Hlun 'sport = :7000' | grep -q ."

out=$(app client "$brk" 5001 198.18.0.100:7000 200 200 2>/dev/null)
check "[ '$out' = 'ok 200/200' ]" "interrupt mode, NIC polling: app -> ext echo (${out:-nothing})"
out=$(PVNET_SPIN_US=20000 app client "$brk" 5002 198.18.0.100:7000 200 200 2>/dev/null)
check "[ '$out' = 'ok 200/200' ]" "spin mode, NIC polling: app -> ext echo (${out:-nothing})"
out=$(app pingpong "$brk" 5003 198.18.0.100:7000 2000 64 2>/dev/null | grep '^rtt_us')
check "[[ '$out' == *' lost=0 '* || '$out' == *' lost=0' ]]" "2000 ping-pong round trips, none lost (${out:-nothing})"

# Idle: traffic over, the NIC stops polling within 2 ms and sleeps.
sleep 1
t0=$(ticks)
sleep 3
t1=$(ticks)
hz=$(getconf CLK_TCK)
echo "pvnet-nicd CPU over 3 idle seconds: $((t1 - t0)) ticks of 1/$hz s"
check "[ $t0 -ge 0 ] && [ $((t1 - t0)) -le $((hz / 10)) ]" \
	"an idle polling NIC does not spin: $((t1 - t0)) ticks in 3 s (at most $((hz / 10)))"

# The app's sends were found by polling, without a doorbell: the count at exit.
kill -TERM "$nicd_pid"
wait_for 5 "! kill -0 $nicd_pid 2>/dev/null"
line=$(grep 'VI turns found without a doorbell' "$run/nicd.log" | tail -n1)
n=$(sed -n 's/.*polling: \([0-9]*\) VI turns.*/\1/p' <<<"$line")
check "[ '${n:-0}' -gt 0 ]" "TX found by polling, no doorbell needed (${line:-no line})"
keep_logs "$run"
finish
