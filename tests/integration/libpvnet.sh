#!/usr/bin/env bash
# libpvnet.sh - user-level access (paper section 4): unprivileged
# applications (uid 65534) open their own VI of pvnet-nicd through
# pvnet-broker and talk UDP with the external host over it, sharing the
# host's address with the kernel's stack.
#
#  host (netns)                                                   ext (netns)
#  ┌──────────────────────────────────────────────────┐
#  │ apps (uid 65534, libpvnet)                       │
#  │   │ broker.sock (0666)     VI rings              │
#  │   v                         ║                    │
#  │ pvnet-broker ──nic.sock──> pvnet-nicd --port up0 │ veth  ┌────────────────┐
#  │ kernel stack: up0 198.18.0.1 ════════════════════│══════>│ eth0 .100      │
#  └──────────────────────────────────────────────────┘       │ kernel sockets │
#                                                              └────────────────┘
# Checks: echo both ways; two apps on two ports each get only their own
# datagrams; the kernel's own UDP and TCP on the same address keep
# working and the kernel sends no ICMP port unreachable for the apps'
# flows; ports outside the policy, a uid without a rule and a port held
# by another program are refused with their errors; a SIGKILLed app
# leaves the NIC's VIs, buffers and filters as they were; a spoofed
# source IPv4, a spoofed source MAC or a source port the app does not own
# is dropped and counted (tx_spoofed); a doorbell flood from one app
# leaves another's echo going and sends nothing; descriptors naming every buffer id of the table
# but its own are all refused while the app owning them keeps its
# traffic; 200 open/close cycles and 20 SIGKILLed apps leave nothing.
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need setpriv timeout iperf3
for b in pvnet-nicd pvnet-broker tests/helpers/pvnet_udp_echo tests/helpers/nic_info; do
	[ -x "$BUILD/$b" ] || { skip "libpvnet.sh: $b not built"; exit 0; }
done

host_begin lib
E=$BUILD/tests/helpers/pvnet_udp_echo
app_host --log-level debug <<'POL'
# the test's apps run as nobody
uid 65534 vis 24 bufs 512 addr 198.18.0.1 udp 5000-5099
POL

# app ARGS...: the test program as uid 65534 in the host namespace
# (at most 30 s; bg_app's has no limit)
app() { ip netns exec "$hostns" timeout 30 "${AS_NOBODY[@]}" "$E" "$@"; }
info() { ip netns exec "$hostns" "$BUILD"/tests/helpers/nic_info "$nicdir/nic.sock" vis_active bufs_used filters_used | tr '\n' ' '; }
snmp() { # NS PROTO FIELD: a counter of /proc/net/snmp in NS
	ip netns exec "$1" awk -v p="$2:" -v f="$3" '$1 == p { if (!h) { for (i = 2; i <= NF; i++) n[$i] = i; h = 1 } else print $n[f] }' /proc/net/snmp
}
# bg_app OUT ARGS...: an app in the background, its stdout in OUT; waits
# for "ready".  No function or subshell between: ip netns exec and setpriv
# exec, so bg_pid is the app itself (what SIGKILL must hit).
bg_app() {
	local out=$1; shift
	ip netns exec "$hostns" "${AS_NOBODY[@]}" "$E" "$@" >"$out" 2>>"$run/apps.log" &
	track_pid $!
	bg_pid=$!
	wait_for 5 "grep -q ready '$out'"
}

# The policy as the broker reads it: --check.
out=$("$BUILD"/pvnet-broker --check --policy "$run/policy" 2>&1); rc=$?
check "[ $rc = 0 ] && [ '$out' = 'line 2: uid 65534 vis 24 bufs 512 addrs 1 udp ranges 1 tcp ranges 0' ]" \
	"pvnet-broker --check prints the rule (${out})"
printf 'uid 65534 addr 198.18.0.1\nuid 1 addr 198.18.0.1 udp 70000\n' >"$run/bad.policy"
out=$("$BUILD"/pvnet-broker --check --policy "$run/bad.policy" 2>&1); rc=$?
check "[ $rc = 1 ] && [[ '$out' == *'line 2: bad port or range' ]]" "a bad policy is refused with its line and why (${out})"

base=$(info)
echo "NIC before the apps: $base"

# 1. app -> ext: the app's client against a kernel echo server in ext.
ip netns exec "$ext" "$E" kecho 7000 0 >/dev/null 2>&1 &
track_pid $!
wait_for 5 "ip netns exec '$ext' ss -Hlun 'sport = :7000' | grep -q ."
out=$(app client "$brk" 5001 198.18.0.100:7000 50 200 2>"$run/client.err")
check "[ '$out' = 'ok 50/50' ]" "app -> ext: 50 datagrams echoed by ext's kernel (${out:-nothing})"
st=$(grep 'neigh_triggers' "$run/client.err" | tail -n1)
echo "client's stack: $st"
check "[[ '$st' =~ neigh_triggers=[1-9] ]]" \
	"the host had no neighbour entry for ext: the app made the kernel resolve it (netlink, then a trigger)"

# 2. ext -> app: a kernel client in ext against the app's echo server.
icmp0=$(snmp "$hostns" Icmp OutDestUnreachs); inerr0=$(snmp "$hostns" Udp InErrors)
bg_app "$run/server.out" server "$brk" 5002 50 || fail "echo server did not start"
srv=$bg_pid
out=$(timeout 20 ip netns exec "$ext" "$E" kclient 198.18.0.1:5002 50 300 2>&1)
check "[ '$out' = 'ok 50/50' ]" "ext -> app: 50 datagrams echoed by the app (${out:-nothing})"
wait_for 5 "! kill -0 $srv 2>/dev/null"
st=$(grep 'rx_delivered' "$run/apps.log" | tail -n1)
echo "echo server's stack: $st"
check "[[ '$st' =~ rx_delivered=50\  ]]" "the app's datagrams came through its VI (stack rx_delivered=50)"
icmp1=$(snmp "$hostns" Icmp OutDestUnreachs); inerr1=$(snmp "$hostns" Udp InErrors)
check "[ '$icmp0' = '$icmp1' ]" "the host kernel sent no ICMP port unreachable for the app's flow (OutDestUnreachs $icmp0 -> $icmp1)"
check "[ $((inerr1 - inerr0)) -ge 50 ]" \
	"the kernel's copies of those datagrams were dropped by the OS socket's filter (Udp InErrors +$((inerr1 - inerr0)))"

# 1b. Spin mode (bounded busy polling, then sleep), and non-blocking calls.
out=$(PVNET_SPIN_US=20000 app client "$brk" 5006 198.18.0.100:7000 50 200 2>/dev/null)
check "[ '$out' = 'ok 50/50' ]" "spin mode (PVNET_SPIN_US=20000): app -> ext echo (${out:-nothing})"
out=$(app nonblock "$brk" 5007 2>&1)
echo "$out"
t_nb=$(sed -n 's/^nonblock: EAGAIN in \([0-9]*\)ms$/\1/p' <<<"$out")
t_dw=$(sed -n 's/^dontwait: EAGAIN in \([0-9]*\)ms$/\1/p' <<<"$out")
t_to=$(sed -n 's/^timeout: EAGAIN in \([0-9]*\)ms$/\1/p' <<<"$out")
check "[ -n '$t_nb' ] && [ '${t_nb:-999}' -lt 50 ] && [ -n '$t_dw' ] && [ '${t_dw:-999}' -lt 50 ]" \
	"non-blocking recv and MSG_DONTWAIT: EAGAIN at once (${t_nb:-?} ms, ${t_dw:-?} ms)"
check "[ -n '$t_to' ] && [ '${t_to:-0}' -ge 290 ] && [ '${t_to:-0}' -lt 1000 ]" \
	"a blocking recv with a 300 ms timeout sleeps and gives up: EAGAIN after ${t_to:-?} ms"

# 2a. Closing a stack right after a send does not drop the datagram.
ip netns exec "$ext" "$E" kcount 7002 3000 >"$run/kcount.out" 2>&1 &
kc=$!
track_pid $kc
wait_for 5 "grep -q ready '$run/kcount.out'"
out=$(app sendexit "$brk" 5005 198.18.0.100:7002 20 2>&1)
wait_for 10 "! kill -0 $kc 2>/dev/null"
got=$(sed -n 's/^got //p' "$run/kcount.out")
check "[ '$out' = 'sent 20/20' ] && [ '${got:-0}' = 20 ]" \
	"20 apps that send one datagram and close at once: ext got ${got:-0} of them ($out)"

# 2b. The VI API alone (layer 1): filter, RX buffers, wait, transmit.
bg_app "$run/l1.out" l1echo "$brk" 5004 5 || fail "layer-1 echo did not start"
l1=$bg_pid
out=$(timeout 20 ip netns exec "$ext" "$E" kclient 198.18.0.1:5004 5 64 2>&1)
check "[ '$out' = 'ok 5/5' ]" "layer 1: a VI API echo (frames sent back from the buffers they came in) (${out:-nothing})"
wait_for 5 "! kill -0 $l1 2>/dev/null"
check "grep -qx 'l1 rx=5 tx_done=5' '$run/l1.out'" "layer 1: 5 RX events, 5 TX_DONE ($(tail -n1 "$run/l1.out"))"

# 3. Two apps, two ports: each gets only its own datagrams.
bg_app "$run/a.out" recv "$brk" 5010 5 3000 || fail "app A did not start"
pa=$bg_pid
bg_app "$run/b.out" recv "$brk" 5011 5 3000 || fail "app B did not start"
pb=$bg_pid
for i in 1 2 3 4 5; do
	ip netns exec "$ext" bash -c "echo -n to-5010-$i >/dev/udp/198.18.0.1/5010; echo -n to-5011-$i >/dev/udp/198.18.0.1/5011"
done
wait_for 10 "! kill -0 $pa 2>/dev/null && ! kill -0 $pb 2>/dev/null"
na=$(grep -c '^to-5010-' "$run/a.out"); nb=$(grep -c '^to-5011-' "$run/b.out")
xa=$(grep -c '^to-5011-' "$run/a.out"); xb=$(grep -c '^to-5010-' "$run/b.out")
check "[ $na = 5 ] && [ $xa = 0 ]" "app A (port 5010) got its 5 datagrams and none of B's ($na, $xa)"
check "[ $nb = 5 ] && [ $xb = 0 ]" "app B (port 5011) got its 5 datagrams and none of A's ($nb, $xb)"

# 4. The kernel's own sockets on the same address, while an app holds a VI.
bg_app "$run/hold0.out" hold "$brk" 5003 || fail "holding app did not start"
hp=$bg_pid
ip netns exec "$ext" "$E" kecho 7001 0 >/dev/null 2>&1 &
track_pid $!
wait_for 5 "ip netns exec '$ext' ss -Hlun 'sport = :7001' | grep -q ."	# bound before the first datagram
out=$(timeout 20 ip netns exec "$hostns" "$E" kclient 198.18.0.100:7001 20 100 2>&1)
check "[ '$out' = 'ok 20/20' ]" "the host kernel's UDP with ext works beside the apps (${out:-nothing})"
ip netns exec "$ext" iperf3 -s -1 -D -I "$run/iperf.pid" >/dev/null 2>&1
wait_for 5 "ip netns exec '$ext' ss -Hltn 'sport = :5201' | grep -q ."
got=$(ip netns exec "$hostns" timeout 15 iperf3 -c 198.18.0.100 -t 1 -J 2>/dev/null |
	awk '/"sum_received"/ {r=1} r && /"bytes"/ {gsub(/,/,""); print $2; exit}')
check "[ \"\${got:-0}\" -gt 100000 ]" "the host kernel's TCP with ext works beside the apps (${got:-0} bytes)"
kill -TERM "$hp" 2>/dev/null
check "wait_for 5 \"[ \\\"\\\$(info)\\\" = '$base' ]\"" "an app stopped by SIGTERM leaves the NIC as before"

# 5. Refusals, with their errors.
out=$(app bind "$brk" 6000 2>&1)
check "[ '$out' = 'bind: Permission denied' ]" "a port outside the policy is refused: EACCES (${out})"
out=$(timeout 10 ip netns exec "$hostns" setpriv --reuid=65533 --regid=65533 --clear-groups "$E" bind "$brk" 5000 2>&1)
check "[ '$out' = 'open: Permission denied' ]" "a uid without a policy rule gets no VI: EACCES (${out})"
ip netns exec "$hostns" "$E" kecho 5040 0 >/dev/null 2>&1 &
track_pid $!
kp=$!
wait_for 5 "ip netns exec '$hostns' ss -Hlun 'sport = :5040' | grep -q ."
out=$(app bind "$brk" 5040 2>&1)
check "[ '$out' = 'bind: Address already in use' ]" "a port a kernel program holds is refused: EADDRINUSE (${out})"
kill -TERM "$kp" 2>/dev/null
ip netns exec "$hostns" "$E" kecho 5041 0 reuse >/dev/null 2>&1 &
track_pid $!
kp=$!
wait_for 5 "ip netns exec '$hostns' ss -Hlun 'sport = :5041' | grep -q ."
out=$(app bind "$brk" 5041 2>&1)
check "[ '$out' = 'bind: Address already in use' ]" \
	"also when that program's socket has SO_REUSEADDR (the broker binds without it) (${out})"
kill -TERM "$kp" 2>/dev/null
out=$(app bind "$brk" 0 2>&1)
p=${out#bind: ok }
check "[ \"\${out%% *}\" = bind: ] && [ \"\$p\" -ge 5000 ] 2>/dev/null && [ \"\$p\" -le 5099 ]" \
	"port 0 gets a free port of the policy's range (${out})"

# 6. Spoofing: a frame from another source IPv4, from a port without a
#    filter of the app's, or from another source MAC is dropped and counted.
out=$(app spoof "$brk" 198.18.0.100:7000 2>&1)
echo "$out"
check "grep -qx 'spoofed source: error TX_SPOOF' <<<'$out'" "a spoofed source IPv4 gets ERROR TX_SPOOF"
check "grep -qx 'unbound port: error TX_SPOOF' <<<'$out'" \
	"a source port the app has no filter for gets ERROR TX_SPOOF (PV_NIC_MAC_F_PORTS)"
check "grep -qx 'spoofed MAC: error TX_SPOOF' <<<'$out'" "a spoofed source MAC gets ERROR TX_SPOOF"
check "grep -qx 'own source: tx_done' <<<'$out'" "the same frame from its own MAC, address and port goes out"
check "grep -qx 'tx_spoofed=3 tx_frames=1' <<<'$out'" "the NIC counted them: vi tx_spoofed=3, tx_frames=1"

# 6b. A flood of doorbells (every eventfd of the hostile app written as
#     fast as it can for 3 s, nothing posted): another app's echo with the
#     external host goes on meanwhile, and the NIC read the doorbells
#     (counted) without sending anything for them.
bg_app "$run/dbv.out" server "$brk" 5072 50 || fail "the flood's victim app did not start"
vp=$bg_pid
bg_app "$run/dbf.out" dbflood "$brk" 3000 || fail "the doorbell flooder did not start"
fp=$bg_pid
out=$(timeout 20 ip netns exec "$ext" "$E" kclient 198.18.0.1:5072 50 100 2>&1)
check "[ '$out' = 'ok 50/50' ]" "doorbell flood: another app's 50 echoes meanwhile (${out:-nothing})"
wait_for 10 "! kill -0 $fp 2>/dev/null"
read -r w_ d_ t_ <<<"$(sed -En 's/written=([0-9]+) doorbells=([0-9]+) tx_frames=([0-9]+)/\1 \2 \3/p' "$run/dbf.out")"
check "[ \"\${w_:-0}\" -gt 1000 ] && [ \"\${d_:-0}\" -ge 1 ] && [ \"\${t_:-x}\" = 0 ]" \
	"doorbell flood: the NIC counted ${d_:-?} doorbells of ${w_:-?} eventfd writes and sent nothing ($(tr '\n' ' ' <"$run/dbf.out"))"
wait_for 5 "! kill -0 $vp 2>/dev/null"

# 7. Another app's buffers: descriptors naming buffer ids that are not its
#    own are refused one by one, while the app that owns them keeps its
#    traffic.
bg_app "$run/victim.out" server "$brk" 5070 10 || fail "victim app did not start"
vp=$bg_pid
nbufs=$(ip netns exec "$hostns" "$BUILD"/tests/helpers/nic_info "$nicdir/nic.sock" nr_bufs)
out=$(app steal "$brk" "$nbufs" 2>&1)	# every id of the table: the victim's 512 among them
read -r r_ p_ s_ <<<"$(sed -E 's/refused=([0-9]+) of=([0-9]+) sent=([0-9]+)/\1 \2 \3/' <<<"$out")"
check "[ \"\${p_:-0}\" -eq $((nbufs - 2)) ] && [ \"\$r_\" = \"\$p_\" ] && [ \"\$s_\" = 0 ]" \
	"descriptors naming another app's (or no) buffers are all refused, none sent (${out})"
out=$(timeout 20 ip netns exec "$ext" "$E" kclient 198.18.0.1:5070 10 100 2>&1)
check "[ '$out' = 'ok 10/10' ]" "the app that owns those buffers keeps its traffic (${out:-nothing})"
wait_for 5 "! kill -0 $vp 2>/dev/null"

# 7b. A hostile broker client (no libpvnet): memory the broker must not
#     lend the NIC, and malformed requests; the connection keeps serving.
out=$(app badreq "$brk" 2>&1)
echo "$out"
while IFS='|' read -r case want; do
	got=$(sed -n "s/^$case: //p" <<<"$out")
	check "[ '$got' = '$want' ]" "broker: $case -> $want (${got:-nothing})"
done <<'CASES'
unsealed memfd|EINVAL
sealed against growing only|EINVAL
not whole pages|EINVAL
a pipe|EINVAL
the VI's own rings|EINVAL
chunks past the end|EINVAL
a sealed memfd, 512 buffers|ok
one buffer past the policy|EDQUOT
OPEN again|EALREADY
wrong body length|EINVAL
unknown type|EINVAL
a descriptor where none is taken|EINVAL
filter on another address|EADDRNOTAVAIL
filter with reserved bits|EINVAL
filter for ICMP|EINVAL
the connection still serves|ok
CASES

# 8. Lifecycle: open/close cycles and SIGKILLed apps leave nothing.
out=$(app cycle "$brk" 5075 200 2>&1 | tail -n1)
check "[ '$out' = 'cycles 200/200' ]" "200 open/bind/close cycles (${out})"
wait_for 5 "[ \"\$(info)\" = '$base' ]"
now=$(info)
check "[ '$now' = '$base' ]" "after 200 cycles the NIC holds what it held before ($now)"
kp=()
for i in $(seq 20); do
	bg_app "$run/k$i.out" hold "$brk" $((5079 + i)) || fail "app $i did not start"
	kp+=("$bg_pid")
done
n20=$(info)
kill -KILL "${kp[@]}" 2>/dev/null
wait_for 10 "[ \"\$(info)\" = '$base' ]"
now=$(info)
check "[ '$n20' != '$base' ] && [ '$now' = '$base' ]" \
	"20 SIGKILLed apps (NIC with them: $n20) leave the NIC's VIs, buffers and filters as before ($now)"

# 9. SIGKILL: nothing left in the NIC, and the port is free again.
wait_for 5 "[ \"\$(info)\" = '$base' ]"
bg_app "$run/hold.out" hold "$brk" 5020 || fail "holding app did not start"
hp=$bg_pid
during=$(info)
kill -KILL "$hp"
wait_for 5 "[ \"\$(info)\" = '$base' ]"
after=$(info)
echo "NIC: before $base; with the app $during; after SIGKILL $after"
check "[ '$during' != '$base' ]" "a holding app has a VI, buffers and a filter on the NIC ($during)"
check "[ '$after' = '$base' ]" "after SIGKILL the NIC's VIs, buffers and filters are as before ($after)"
out=$(app bind "$brk" 5020 2>&1)
check "[ '$out' = 'bind: ok 5020' ]" "its port is free again (${out})"

check "kill -0 $nicd_pid" "pvnet-nicd still runs"
keep_logs "$run"
finish
