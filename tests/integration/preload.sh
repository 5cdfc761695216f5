#!/usr/bin/env bash
# preload.sh - libpvnet-preload.so (issue #11 layer 4): unmodified programs
# on the fast path by LD_PRELOAD, against the external namespace's kernel.
#
#  host (netns)                                               ext (netns)
#  sockperf / test program (uid 65534, LD_PRELOAD) --VI-- pvnet-nicd ══ veth ══ kernel sockets
#  pvnet-broker
#
# Checks: `sockperf ping-pong` (Debian's, unmodified) against `sockperf
# server` in ext completes its round trips, and they went through the VI
# (the preload's stack counters), in interrupt and spin modes; a program
# mixing an accelerated UDP socket with a Unix socketpair in one poll(),
# select() and epoll set gets both; a TCP program (the kernel API) sends
# and receives 2 MiB through lwIP, compared by sha256; a socket the policy
# refuses (a port outside it) stays the kernel's and works; iperf3 -u
# (TCP control, UDP data) and iperf3 (TCP) complete; the NIC is as before at the end.
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need setpriv timeout sockperf sha256sum iperf3
PRE=$BUILD/lib/libpvnet-preload.so
for b in pvnet-nicd pvnet-broker tests/helpers/preload_mix tests/helpers/pvnet_tcp_xfer tests/helpers/nic_info lib/libpvnet-preload.so; do
	[ -e "$BUILD/$b" ] || { skip "preload.sh: $b not built"; exit 0; }
done
rt=
if [ "$SANITIZED" = 1 ]; then
	# an instrumented library in uninstrumented programs (sockperf, iperf3):
	# the sanitizer's runtime must come first; their own leaks are not ours
	rt=$(clang -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null)
	[ -f "$rt" ] || { skip "preload.sh: no libclang_rt.asan-x86_64.so to preload first"; exit 0; }
	export ASAN_OPTIONS=detect_leaks=0
fi

host_begin preload
# The programs run as nobody, and what they load and exec must be theirs
# to reach: the build tree may not be (a checkout under a 0700 directory,
# as a fresh clone in mktemp -d's is).  Copies in the run directory (0711).
mkdir -m 0755 "$run/bin"
install -m 0755 "$PRE" "$BUILD/tests/helpers/preload_mix" "$BUILD/tests/helpers/pvnet_tcp_xfer" "$run/bin/"
PRE_OWN=$run/bin/libpvnet-preload.so	# for the test's own programs
PRE=$PRE_OWN				# for Debian's (sockperf, iperf3)
[ -n "$rt" ] && PRE="$rt $PRE"
M=$run/bin/preload_mix
X=$run/bin/pvnet_tcp_xfer
app_host <<'POL'
uid 65534 vis 8 bufs 512 addr 198.18.0.1 udp 5000-5099 tcp 6000-6099
POL

# pre PROG ARGS...: PROG as uid 65534 in the host namespace under the preload (60 s at most)
pre() {
	ip netns exec "$hostns" timeout 60 "${AS_NOBODY[@]}" env LD_PRELOAD="$PRE" \
		PVNET_BROKER="$brk" PVNET_PRELOAD_STATS=1 "$@"
}
# pre_own: the same for the test's own programs ($M, $X): built like the
# library, so under ASan they carry its runtime themselves (clang links it
# into executables) and must not get the shared one preloaded as well.
pre_own() {
	ip netns exec "$hostns" timeout 60 "${AS_NOBODY[@]}" env LD_PRELOAD="$PRE_OWN" \
		PVNET_BROKER="$brk" PVNET_PRELOAD_STATS=1 "$@"
}
info() { ip netns exec "$hostns" "$BUILD"/tests/helpers/nic_info "$nicdir/nic.sock" vis_active bufs_used filters_used | tr '\n' ' '; }
sum() { sha256sum "$1" | cut -d' ' -f1; }
base=$(info)

# 1. sockperf ping-pong, UDP, interrupt mode then spin mode.
ip netns exec "$ext" sockperf server -i 198.18.0.100 -p 7200 >"$run/sps.log" 2>&1 &
track_pid $!
wait_for 5 "ip netns exec '$ext' ss -Hlun 'sport = :7200' | grep -q ."
for mode in interrupt spin; do
	spin=0
	[ $mode = spin ] && spin=20000
	pre env PVNET_SPIN_US=$spin sockperf ping-pong -i 198.18.0.100 -p 7200 -m 64 -t 2 \
		>"$run/spp-$mode.log" 2>&1
	rc=$?
	rt=$(sed -n 's/.*\[Valid Duration\].*ReceivedMessages=\([0-9]*\).*/\1/p' "$run/spp-$mode.log")
	sent=$(sed -n 's/.*\[Valid Duration\].*SentMessages=\([0-9]*\);.*/\1/p' "$run/spp-$mode.log")
	st=$(grep 'pvnet-preload:' "$run/spp-$mode.log" | tail -n1)
	lat=$(grep -E 'percentile 50.000|avg-latency' "$run/spp-$mode.log" | tr -s ' ' | tr '\n' ';')
	echo "sockperf ($mode): rc=$rc sent=${sent:-?} received=${rt:-?}; $lat"
	echo "  $st"
	check "[ $rc = 0 ] && [ \"\${rt:-0}\" -gt 100 ] && [ \"\${rt:-0}\" = \"\${sent:-x}\" ]" \
		"sockperf ping-pong UDP ($mode mode) under the preload: ${rt:-0} of ${sent:-?} round trips"
	rx=$(sed -n 's/.*rx_delivered=\([0-9]*\).*/\1/p' <<<"$st")
	check "[[ '$st' == *'accelerated udp=1 '* ]] && [ \"\${rx:-0}\" -ge \"\${rt:-1}\" ]" \
		"sockperf's socket was accelerated: its replies came by the VI (rx_delivered=${rx:-0})"
done

# 2. Mixed fds: an accelerated UDP socket and a Unix socketpair in one wait.
ip netns exec "$ext" "$BUILD"/tests/helpers/pvnet_udp_echo kecho 7201 0 >/dev/null 2>&1 &
track_pid $!
wait_for 5 "ip netns exec '$ext' ss -Hlun 'sport = :7201' | grep -q ."
for how in poll select epoll; do
	out=$(pre_own "$M" "$how" 198.18.0.100:7201 2>"$run/mix-$how.err")
	check "[ '$out' = 'unix: ok; udp: ok; both ready: ok' ] && grep -q 'accelerated udp=1 ' '$run/mix-$how.err'" \
		"$how(): an accelerated UDP socket and a Unix socketpair in one set (${out//$'\n'/; }; $(tail -n1 "$run/mix-$how.err"))"
done
# a port outside the policy: the kernel's socket, and it works
out=$(pre_own "$M" bind7000 198.18.0.100:7201 2>"$run/mix-k.err")
check "[ '$out' = 'udp: ok' ] && grep -q 'accelerated udp=0 ' '$run/mix-k.err'" \
	"a bind the policy refuses (port 7000) stays the kernel's and works ($out; $(tail -n1 "$run/mix-k.err"))"

# 3. TCP: a kernel-API program, both directions, by sha256.
head -c 2097152 /dev/urandom >"$run/data"
chmod 0644 "$run/data"
touch "$run/in.app" && chown 65534 "$run/in.app"
ip netns exec "$ext" timeout 60 "$X" krecv 7202 "$run/in.ext" >"$run/krecv.out" 2>&1 &
kr=$!
track_pid $kr
wait_for 5 "grep -q ready '$run/krecv.out'"
out=$(pre_own "$X" ksend 198.18.0.100:7202 "$run/data" 2>"$run/ksend.err")
wait_for 20 "! kill -0 $kr 2>/dev/null"
check "[ '$out' = 'sent 2097152' ] && [ -s '$run/in.ext' ] && [ \"\$(sum '$run/in.ext')\" = \"\$(sum '$run/data')\" ] && grep -q 'accelerated udp=0 tcp=1 ' '$run/ksend.err'" \
	"TCP connect+send under the preload: 2 MiB to ext's kernel, the same sha256 ($out; $(tail -n1 "$run/ksend.err"))"
ip netns exec "$hostns" timeout 60 "${AS_NOBODY[@]}" env LD_PRELOAD="$PRE_OWN" PVNET_BROKER="$brk" \
	PVNET_PRELOAD_STATS=1 "$X" krecv 6010 "$run/in.app" >"$run/arecv.out" 2>"$run/arecv.err" &
ar=$!
track_pid $ar
wait_for 5 "grep -q ready '$run/arecv.out'"
out=$(ip netns exec "$ext" timeout 60 "$X" ksend 198.18.0.1:6010 "$run/data" 2>&1)
wait_for 20 "! kill -0 $ar 2>/dev/null"
check "[ '$out' = 'sent 2097152' ] && [ \"\$(sum '$run/in.app')\" = \"\$(sum '$run/data')\" ] && grep -q 'tcp=2 ' '$run/arecv.err'" \
	"TCP listen+accept+recv under the preload: 2 MiB from ext's kernel, the same sha256 ($(tail -n1 "$run/arecv.out"); $(tail -n1 "$run/arecv.err"))"

# 4. iperf3 -u (a TCP control connection and a UDP data socket, both accelerated)
ip netns exec "$ext" iperf3 -s -1 -B 198.18.0.100 -p 7203 >"$run/iperf-s.log" 2>&1 &
track_pid $!
wait_for 5 "ip netns exec '$ext' ss -Hltn 'sport = :7203' | grep -q ."
pre iperf3 -u -c 198.18.0.100 -p 7203 -b 10M -t 2 -l 1000 >"$run/iperf-c.log" 2>&1
rc=$?
st=$(grep 'pvnet-preload:' "$run/iperf-c.log" | tail -n1)
recv=$(grep -E 'receiver$' "$run/iperf-c.log" | tail -n1 | tr -s ' ')
echo "iperf3 -u: rc=$rc; $recv; $st"
check "[ $rc = 0 ] && [[ '$st' == *'accelerated udp=1 tcp=1 '* ]] && [ -n '$recv' ]" \
	"iperf3 -u under the preload completes, its control (TCP) and data (UDP) sockets accelerated"
ip netns exec "$ext" iperf3 -s -1 -B 198.18.0.100 -p 7204 >"$run/iperf-s2.log" 2>&1 &
track_pid $!
wait_for 5 "ip netns exec '$ext' ss -Hltn 'sport = :7204' | grep -q ."
pre iperf3 -c 198.18.0.100 -p 7204 -t 2 >"$run/iperf-c2.log" 2>&1
rc=$?
st=$(grep 'pvnet-preload:' "$run/iperf-c2.log" | tail -n1)
recv=$(grep -E 'receiver$' "$run/iperf-c2.log" | tail -n1 | tr -s ' ')
echo "iperf3 (TCP): rc=$rc; $recv; $st"
check "[ $rc = 0 ] && [[ '$st' == *'accelerated udp=0 tcp=2 '* ]] && [ -n '$recv' ]" \
	"iperf3 (TCP) under the preload completes, control and data connections through lwIP"

wait_for 10 "[ \"\$(info)\" = '$base' ]"
now=$(info)
check "[ '$now' = '$base' ]" "the NIC's VIs, buffers and filters are as before ($now)"
check "kill -0 $nicd_pid" "pvnet-nicd still runs"
keep_logs "$run"
finish
