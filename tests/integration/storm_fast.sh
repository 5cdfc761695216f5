#!/usr/bin/env bash
# storm_fast.sh - storm control on the fast path: a hostile accelerated
# guest (tests/helpers/evil_vi: its own frontend half, a real VI of
# pvnet-nicd) writes broadcast, multicast and unknown-unicast frames
# straight onto its VI, as fast as the VI takes them, while the good
# accelerated guest g1 pings the external host and runs TCP to it.
#
#   - the pvnic backend gave evil's VI its vif's limits (the defaults of
#     src/lib/storm.h: no storm keys set), shown by pvnetctl accel show;
#   - broadcast: the NIC refuses what is over the bucket (ERROR TX_STORM,
#     as evil_vi counts its events), counts it on evil's VI
#     (vi_tx_storm_bcast), logs it rate-limited; what went out is at most
#     the burst and the rate over the flood's time, and ext receives no
#     more (tcpdump in ext): counts, not throughput;
#   - multicast: the same with its own bucket (vi_tx_storm_mcast);
#   - unknown unicast: never limited on the fast path (the NIC floods
#     nothing, src/nic/vi.c): every frame goes, nothing is counted as storm;
#   - a storm key written at run time reaches the VI (watched): a lower
#     limit holds at once, "0" removes it;
#   - g1 meanwhile: its pings to ext lose at most 2%, its TCP to ext moves
#     data, and its VI's TX counters keep growing (still on the fast path).
#
#  g1 .1 (pvnet-front + pvnic) ═╗                          ╔═ ext .100 (tcpdump, iperf3 -s)
#  evil_vi (its own VI)        ═╩═ pvnetd --nic ═ pvnet-nicd (up0) ═╝
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout tcpdump ss nice
EVIL=$BUILD/tests/helpers/evil_vi
XSWRITE=$BUILD/tests/helpers/xs_write
for b in "$BUILD/pvnet-nicd" "$EVIL" "$XSWRITE"; do
	[ -x "$b" ] || { fail "storm_fast.sh: $b not built"; exit 1; }
done
bc_def=$(cdefine src/lib/storm.h PV_STORM_DEFAULT_BCAST_PPS)
mc_def=$(cdefine src/lib/storm.h PV_STORM_DEFAULT_MCAST_PPS)
factor=$(cdefine src/lib/storm.h PV_STORM_BURST_FACTOR)
[ -n "$bc_def" ] && [ -n "$mc_def" ] && [ -n "$factor" ] || { fail "storm_fast.sh: storm.h's defaults not found"; exit 1; }

on_cleanup() {
	[ -n "${td_pid:-}" ] && kill -INT "$td_pid" 2>/dev/null
	[ -n "${ev_pid:-}" ] && kill "$ev_pid" 2>/dev/null
	return 0
}
host_begin sfast
host_netns g1 evns:evil
extmac=$(ip -n "$ext" -br link show eth0 | awk '{ print $3 }')
host_nic_pvnetd

start_guest "$g1" g1 198.18.0.1
wait_for 10 "ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1" || die "g1 reaches ext"
d1=$(domid_of g1)
P accel "$d1" 0 on pvnic >/dev/null
ashow() { P --json accel "$1" 0 show | jget "$2"; }	# DOMID KEY
wait_for 10 "[ \"\$(ashow $d1 accelstate)\" = 4 ]" || die "g1's acceleration reaches Connected"
ip netns exec "$g1" timeout 10 ping -c 5 -i 0.2 198.18.0.100 >/dev/null

coproc EV { ip netns exec "$evns" nice -n 19 timeout 240 "$EVIL" --run-dir "$run" --name evil \
	--dst-mac "$extmac" --seconds 20 2>"$run/evil.log"; }
ev_pid=$EV_PID
track_pid "$ev_pid"
ev_in=${EV[0]} ev_out=${EV[1]}
say() { echo "$1" >&"$ev_out"; }
hear() { line=""; read -r -t "${2:-30}" line <&"$ev_in" && [ "${line%% *}" = "$1" ]; }
field() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p" | head -n1; }
hear READY || die "evil_vi: no READY ('$line')"
read -r _ edom emac <<<"$line"
P accel "$edom" 0 on pvnic >/dev/null
hear VI || die "evil_vi: no VI ('$line')"
be=/local/domain/0/backend/vif/$edom/0
check "[ \"\$(ashow $edom storm_bcast_pps)\" = $bc_def ] && [ \"\$(ashow $edom storm_mcast_pps)\" = $mc_def ]" \
	"evil's VI has its vif's storm limits (no keys: the defaults, $bc_def and $mc_def frames/s): $(ashow "$edom" storm_bcast_pps), $(ashow "$edom" storm_mcast_pps)"

# ext counts evil's group frames as they arrive.
ip netns exec "$ext" tcpdump -i eth0 -n -U -s 64 -w "$run/ext.pcap" "ether src $emac and ether multicast" \
	2>"$run/tcpdump.err" &
td_pid=$!
track_pid "$td_pid"
wait_for 5 "grep -q listening '$run/tcpdump.err'" || die "tcpdump in ext"
ext_frames() { # DSTMAC: evil's frames to DSTMAC in ext's capture so far (a line each, hex dumps left out)
	timeout 20 tcpdump -r "$run/ext.pcap" -n "ether dst $1" 2>/dev/null | grep -c '^[0-9]'
}

vi_snap() { vi0=$(P --json accel "$edom" 0 show); }
vd() { # KEY: how much evil's vi_KEY grew since vi_snap
	local v1; v1=$(P --json accel "$edom" 0 show)
	echo $(( $(jget "vi_$1" <<<"$v1") - $(jget "vi_$1" <<<"$vi0") ))
}
# flood N DSTMAC: evil sends N frames to DSTMAC as fast as its VI takes
# them; sets done, storm (its events), msecs (the flood's time, from the
# request to the result: an upper bound), allowed PPS BURST (frames the bucket lets go meanwhile)
flood() {
	local t0 t1
	vi_snap
	t0=$(date +%s%N)
	say "legit $1 $2"
	hear RESULT 120 || die "evil_vi: no RESULT for legit $1 $2 ('$line')"
	t1=$(date +%s%N)
	done=$(field tx_done) storm=$(field t_storm)
	msecs=$(( (t1 - t0) / 1000000 + 1 ))
}
allowed() { echo $(( ${2:-$(( $1 * factor ))} + $1 * (msecs + 999) / 1000 )); }

ip netns exec "$g1" ping -c 100 -i 0.02 -W 1 198.18.0.100 >"$run/ping.bc" 2>&1 &
ping_pid=$!
g1tx0=$(ashow "$d1" vi_tx_frames)
flood 300000 ff:ff:ff:ff:ff:ff
wait "$ping_pid"
lost=$(sed -n 's/.* \([0-9]*\)% packet loss.*/\1/p' "$run/ping.bc")
a=$(allowed "$bc_def")
check "[ \"\$(field verdict)\" = ok ] && [ \$(( done + storm )) = 300000 ] && [ \"$storm\" -gt 0 ] && [ \"$storm\" = \"\$(vd tx_storm_bcast)\" ] && [ \"$done\" -le $a ]" \
	"broadcast flood: evil posted 300000 in $msecs ms; the NIC sent $done (at most $a: ${bc_def}/s, burst x$factor), refused $storm TX_STORM, counted $(vd tx_storm_bcast) (vi_tx_storm_bcast)"
check "[ \"\$(vd tx_frames)\" = \"$done\" ]" "broadcast flood: the NIC's vi_tx_frames grew by what it sent: $(vd tx_frames)"
sleep 0.5
n=$(ext_frames ff:ff:ff:ff:ff:ff)
check "[ \"$n\" -gt 0 ] && [ \"$n\" -le $a ]" "broadcast flood: ext received $n of evil's broadcasts (at most $a)"
check "[ \"\${lost:-100}\" -le 2 ]" "broadcast flood: g1's 100 pings to ext meanwhile lost ${lost:-?}%"
check "grep -q 'broadcast over $bc_def frames/s: dropped (storm control)' '$run/nicd.log'" \
	"broadcast flood: pvnet-nicd logs the storm, rate-limited"

flood 100000 01:00:5e:7f:00:01
a=$(allowed "$mc_def")
check "[ \$(( done + storm )) = 100000 ] && [ \"$storm\" = \"\$(vd tx_storm_mcast)\" ] && [ \"\$(vd tx_storm_bcast)\" = 0 ] && [ \"$done\" -le $a ]" \
	"multicast flood: sent $done of 100000 in $msecs ms (at most $a), refused $storm, counted $(vd tx_storm_mcast) (vi_tx_storm_mcast), none as broadcast"

flood 20000 02:00:00:00:99:99
check "[ \"$done\" = 20000 ] && [ \"$storm\" = 0 ] && [ \"\$(vd tx_storm_bcast)\" = 0 ] && [ \"\$(vd tx_storm_mcast)\" = 0 ]" \
	"unknown unicast: all $done of 20000 sent, none refused ($storm): the NIC floods nothing, unicast is not limited on the fast path"

# A key written at run time reaches the VI.
"$XSWRITE" "$run/xenstored.sock" "$be/storm-broadcast" 50,10 || die "xs_write storm-broadcast"
wait_for 5 "[ \"\$(ashow $edom storm_bcast_pps)\" = 50 ]"
flood 20000 ff:ff:ff:ff:ff:ff
a=$(allowed 50 10)
check "[ \"\$(ashow $edom storm_bcast_pps)\" = 50 ] && [ \$(( done + storm )) = 20000 ] && [ \"$done\" -le $a ]" \
	"storm-broadcast 50,10 at run time: the VI's limit is $(ashow "$edom" storm_bcast_pps); sent $done of 20000 in $msecs ms (at most $a)"
"$XSWRITE" "$run/xenstored.sock" "$be/storm-broadcast" 0 || die "xs_write storm-broadcast"
wait_for 5 "[ \"\$(ashow $edom storm_bcast_pps)\" = 0 ]"
flood 5000 ff:ff:ff:ff:ff:ff
check "[ \"$done\" = 5000 ] && [ \"$storm\" = 0 ]" "storm-broadcast 0: no limit, all $done of 5000 sent"
"$XSWRITE" "$run/xenstored.sock" "$be/storm-broadcast" "" || die "xs_write storm-broadcast"
wait_for 5 "[ \"\$(ashow $edom storm_bcast_pps)\" = $bc_def ]"
check "[ \"\$(ashow $edom storm_bcast_pps)\" = $bc_def ]" "storm-broadcast malformed (empty): back to the default, $(ashow "$edom" storm_bcast_pps)"

# g1's TCP to ext during a full-rate broadcast flood on evil's VI.
ip netns exec "$ext" timeout 30 iperf3 -s -1 -p 5306 >/dev/null 2>&1 &
wait_for 5 "ip netns exec '$ext' ss -Hltn 'sport = :5306' | grep -q ." || die "iperf3 server in ext"
say "txflood 5 ff:ff:ff:ff:ff:ff"
b=$(ip netns exec "$g1" timeout 15 iperf3 -c 198.18.0.100 -p 5306 -t 3 -J 2>/dev/null |
	awk '/"sum_received"/ { r = 1 } r && /"bytes"/ { gsub(/,/, ""); print $2; exit }')
hear RESULT 30 || die "evil_vi: no RESULT for txflood ('$line')"
check "[ \"\$(field t_storm)\" -gt 0 ]" "txflood of broadcasts: the NIC refused $(field t_storm) and sent $(field tx_done)"
check "[ \"\${b:-0}\" -gt 1000000 ]" "g1's TCP to ext during the flood moved ${b:-0} bytes in 3 s"
g1tx1=$(ashow "$d1" vi_tx_frames)
check "[ \"\$(ashow $d1 accelstate)\" = 4 ] && [ \$(( g1tx1 - g1tx0 )) -gt 1000 ]" \
	"g1 kept its fast path: accelstate $(ashow "$d1" accelstate), its VI sent $((g1tx1 - g1tx0)) frames meanwhile"

say quit
wait_for 5 "! kill -0 $ev_pid 2>/dev/null" || kill "$ev_pid" 2>/dev/null
check "kill -0 $nicd_pid && kill -0 $pvnetd_pid" "pvnet-nicd and pvnetd still run"
finish
