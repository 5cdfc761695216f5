#!/usr/bin/env bash
# libpvnet_tcp.sh - libpvnet layer 3: TCP through lwIP over an
# application's own VI, against the external namespace's kernel TCP.
#
#  host (netns)                                           ext (netns)
#  app (uid 65534, libpvnet + lwIP) --VI-- pvnet-nicd --port up0 ══ veth ══ eth0, kernel TCP
#  pvnet-broker (filters, OS sockets listening with a drop-all filter)
#
# Checks: 4 MiB of random bytes app -> ext and ext -> app, compared by
# sha256; the segments went through the VI (the stack's rx_tcp/tx_tcp) and
# the host's kernel answered none of them (no RST sent: Tcp OutRsts); a
# connect where nobody listens is refused (ECONNREFUSED); a TCP port
# outside the policy is refused (EACCES); non-blocking connect, recv and
# accept; the NIC's VIs, buffers and filters are as before at the end.
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need setpriv timeout sha256sum head
for b in pvnet-nicd pvnet-broker tests/helpers/pvnet_tcp_xfer tests/helpers/nic_info; do
	[ -x "$BUILD/$b" ] || { skip "libpvnet_tcp.sh: $b not built"; exit 0; }
done

host_begin libtcp
X=$BUILD/tests/helpers/pvnet_tcp_xfer
app_host --log-level debug <<'POL'
uid 65534 vis 8 bufs 512 addr 198.18.0.1 udp 5000-5099 tcp 6000-6099
POL

app() { ip netns exec "$hostns" timeout 60 "${AS_NOBODY[@]}" "$X" "$@"; }
info() { ip netns exec "$hostns" "$BUILD"/tests/helpers/nic_info "$nicdir/nic.sock" vis_active bufs_used filters_used | tr '\n' ' '; }
snmp() { # NS PROTO FIELD
	ip netns exec "$1" awk -v p="$2:" -v f="$3" '$1 == p { if (!h) { for (i = 2; i <= NF; i++) n[$i] = i; h = 1 } else print $n[f] }' /proc/net/snmp
}
sum() { sha256sum "$1" | cut -d' ' -f1; }

head -c 4194304 /dev/urandom >"$run/data"
chmod 0644 "$run/data"
touch "$run/in.app" && chown 65534 "$run/in.app"
base=$(info)
echo "NIC before the apps: $base"
rst0=$(snmp "$hostns" Tcp OutRsts)

# 1. app -> ext: the app connects to ext's kernel and sends.
ip netns exec "$ext" timeout 60 "$X" krecv 7100 "$run/in.ext" >"$run/krecv.out" 2>&1 &
kr=$!
track_pid $kr
wait_for 5 "grep -q ready '$run/krecv.out'" || fail "ext's receiver did not start"
out=$(app send "$brk" 198.18.0.100:7100 "$run/data" 2>"$run/send.err")
wait_for 20 "! kill -0 $kr 2>/dev/null"
echo "app: $out; $(cat "$run/send.err"); ext: $(tail -n1 "$run/krecv.out")"
check "[ '$out' = 'sent 4194304' ] && [ -s '$run/in.ext' ] && [ \"\$(sum '$run/in.ext')\" = \"\$(sum '$run/data')\" ]" \
	"app -> ext: 4 MiB through lwIP, the same sha256 at ext's kernel"
check "grep -Eq 'rx_tcp=[1-9][0-9]* tx_tcp=[1-9][0-9]{3,}' '$run/send.err'" \
	"the sender's segments went out of its VI and the ACKs came in by it ($(cat "$run/send.err"))"

# 2. ext -> app: the app listens, ext's kernel connects and sends.
ip netns exec "$hostns" timeout 60 "${AS_NOBODY[@]}" "$X" recv "$brk" 6001 "$run/in.app" \
	>"$run/recv.out" 2>"$run/recv.err" &
ar=$!
track_pid $ar
wait_for 5 "grep -q ready '$run/recv.out'" || fail "the app's listener did not start"
out=$(ip netns exec "$ext" timeout 60 "$X" ksend 198.18.0.1:6001 "$run/data" 2>&1)
wait_for 20 "! kill -0 $ar 2>/dev/null"
got=$(tail -n1 "$run/recv.out")
echo "ext: $out; app: $got; $(cat "$run/recv.err")"
check "[ '$out' = 'sent 4194304' ] && [[ '$got' == 'got 4194304 from 198.18.0.100:'* ]] && [ \"\$(sum '$run/in.app')\" = \"\$(sum '$run/data')\" ]" \
	"ext -> app: 4 MiB accepted by the app's lwIP listener, the same sha256"
rst1=$(snmp "$hostns" Tcp OutRsts)
check "[ '$rst0' = '$rst1' ]" \
	"the host's kernel answered none of the apps' segments (its OS sockets listen and drop: Tcp OutRsts $rst0 -> $rst1)"

# 3. Errors: nobody listening, a port outside the policy, non-blocking calls.
out=$(app refused "$brk" 198.18.0.100:7199 2>/dev/null)
check "[ '$out' = 'connect: Connection refused' ]" "connect where nobody listens: ECONNREFUSED (${out})"
out=$(app bind "$brk" 7000 2>/dev/null)
check "[ '$out' = 'bind: Permission denied' ]" "a TCP port outside the policy: EACCES (${out})"
out=$(app bind "$brk" 0 2>/dev/null)
check "[[ '$out' =~ ^bind:\ ok\ 60[0-9][0-9]$ ]]" "port 0: one of the policy's tcp range (${out})"
ip netns exec "$ext" timeout 20 "$X" krecv 7101 /dev/null >"$run/krecv2.out" 2>&1 &
track_pid $!
wait_for 5 "grep -q ready '$run/krecv2.out'"
out=$(app nonblock "$brk" 198.18.0.100:7101 2>/dev/null | tr '\n' ';')
check "[ '$out' = 'connect: Operation now in progress;events: POLLOUT;connect again: Transport endpoint is already connected;recv: Resource temporarily unavailable;accept: Invalid argument;' ]" \
	"non-blocking: connect EINPROGRESS, POLLOUT once established, EISCONN, recv EAGAIN, accept EINVAL (${out})"

wait_for 10 "[ \"\$(info)\" = '$base' ]"
now=$(info)
check "[ '$now' = '$base' ]" "the NIC's VIs, buffers and filters are as before ($now)"
check "kill -0 $nicd_pid" "pvnet-nicd still runs"
keep_logs "$run"
finish
