#!/usr/bin/env bash
# slowpath_evil.sh - a malicious frontend (tests/helpers/evil_front: the
# guest library, no pvnet-front) attacks netback with BADINPUTS classes
# 1-7 and 12-17, one case at a time, while two good guests ping each other
# every 50 ms and run iperf3.  After every case: pvnetd alive, the evil
# vif's counters in `pvnetctl --json vif-stats` moved as they should (a drop
# counted under its reason for malformed-but-possible frames; the vif
# disabled with its reason for impossible ones, and usable again after
# Closed -> Initialising); at the end the good guests lost <= 2% of their
# pings and their iperf3 completed.
#
#  guest g1 (netns)           host (netns)                        ext (netns)
#  ┌─────────────────┐  rings ┌──────────────────────────────┐    ┌─────────────────┐
#  │ eth0 198.18.0.1 │<══════>│ pvnetd  vif<g1>.0            │    │ eth0            │
#  │ ping g2, iperf3 │        │         vif<g2>.0            │    │ 198.18.0.100    │
#  └─────────────────┘        │         vif<evil>.0 ← abused │    │ pokes the evil  │
#  ┌─────────────────┐  rings │         bridge               │    │ vif's MAC (RX   │
#  │ eth0 198.18.0.2 │<══════>│         uplink up0 ══════════│════│ cases) with     │
#  └─────────────────┘        │                              │veth│ macflood -d MAC │
#  ┌─────────────────┐  rings │                              │    └─────────────────┘
#  │ evil_front      │<══════>│                              │
#  │ (no TAP)        │ by hand└──────────────────────────────┘
#  └─────────────────┘
# EVIL_CASES (default "all") selects cases; evil_front --list names them.
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout ss
EVIL=$BUILD/tests/helpers/evil_front
MACFLOOD=$BUILD/tests/helpers/macflood
[ -x "$EVIL" ] && [ -x "$MACFLOOD" ] || { fail "$EVIL or $MACFLOOD not built"; exit 1; }
CASES=${EVIL_CASES:-all}

on_cleanup() { [ -n "${ev_pid:-}" ] && kill "$ev_pid" 2>/dev/null; return 0; }
host_begin spe

host_netns g1 g2 evns:evil
extmac=$(ip -n "$ext" -br link show eth0 | awk '{ print $3 }')
host_pvnetd --uplink up0 || die "pvnetd starts"
start_guest "$g1" g1 198.18.0.1
start_guest "$g2" g2 198.18.0.2
d1=$(domid_of g1); d2=$(domid_of g2)
wait_for 10 "[ \"\$(vstat $d1 connected)\" = 1 ] && [ \"\$(vstat $d2 connected)\" = 1 ]" || die "vifs connect"
wait_for 10 "ip netns exec '$g1' ping -c1 -W1 198.18.0.2 >/dev/null 2>&1" || die "g1 reaches g2"

# The good pair's traffic, for the whole run: ping both ways, and iperf3.
ip netns exec "$g1" ping -n -i 0.05 -w 100 198.18.0.2 >"$run/ping12.out" 2>&1 &
ping12=$!
track_pid $ping12
ip netns exec "$g2" ping -n -i 0.05 -w 100 198.18.0.1 >"$run/ping21.out" 2>&1 &
ping21=$!
track_pid $ping21
ip netns exec "$g2" timeout 60 iperf3 -s -1 >"$run/iperf-s.out" 2>&1 &
track_pid $!
wait_for 10 "ip netns exec '$g2' ss -Hltn 'sport = :5201' | grep -q ." || die "iperf3 server"
ip netns exec "$g1" timeout 40 iperf3 -c 198.18.0.2 -t 4 --connect-timeout 5000 -J \
	>"$run/iperf.json" 2>"$run/iperf.err" &
iperf_pid=$!
track_pid $iperf_pid

coproc EV { ip netns exec "$evns" "$EVIL" "$run" $CASES 2>"$run/evil.log"; }
ev_pid=$EV_PID	# (bash unsets EV_PID and EV once the coprocess is reaped)
track_pid "$ev_pid"
ev_in=${EV[0]} ev_out=${EV[1]}
say() { echo "$1" >&"$ev_out"; }
hear() { read -r -t 30 line <&"$ev_in"; }

hear || die "evil_front starts (no READY)"
read -r tag edom emac <<<"$line"
[ "$tag" = READY ] || die "evil_front: expected READY, got '$line'"
pass "evil_front registered (dom $edom, $emac) and connected by hand"
check "[ \"\$(vstat $edom connected)\" = 1 ]" "pvnetctl shows the evil vif connected"

ncases=0 nfatal=0
kind="" what="" before=0 fatal0=0
while hear; do
	read -r tag name a b <<<"$line"
	case $tag in
	CASE)
		kind=$a what=$b
		[ "$kind" = fatal ] && what=${b//\~/ } nfatal=$((nfatal + 1))
		ncases=$((ncases + 1))
		fatal0=$(vstat "$edom" fatal)
		[ "$kind" = drop ] && before=$(vstat "$edom" "$b")
		say go
		;;
	POKE)
		ip netns exec "$ext" timeout 10 "$MACFLOOD" -d "$emac" -S "$extmac" -r 20000 eth0 "$a" \
			>/dev/null || fail "$name: macflood pokes the evil vif"
		say poked
		;;
	DONE)
		check "[ '$a' = ok ]" "$name: evil_front sees what it should ($b)"
		check "kill -0 $pvnetd_pid" "$name: pvnetd alive"
		js=$(P --json vif-stats "$edom" 0)
		reason=$(jget disabled_reason <<<"$js")
		case $kind in
		fatal)
			check "[ -n \"\$reason\" ] && grep -qF '$what' <<<\"\$reason\" && [ \"\$(jget fatal <<<'$js')\" = $((fatal0 + 1)) ] && [ \"\$(jget connected <<<'$js')\" = 0 ]" \
				"$name: vif disabled, reason '$reason' (fatal +1)"
			;;
		drop)
			after=$(jget "$what" <<<"$js")
			check "[ $((after - before)) -eq 1 ] && [ -z \"\$reason\" ] && [ \"\$(jget connected <<<'$js')\" = 1 ]" \
				"$name: one drop counted as $what (+$((after - before))), vif still connected"
			;;
		ok)
			check "[ -z \"\$reason\" ] && [ \"\$(jget connected <<<'$js')\" = 1 ] && [ \"\$(jget fatal <<<'$js')\" = $fatal0 ]" \
				"$name: vif still connected, not disabled"
			if [ "$name" = rx_full ]; then
				q=$(jget rx_queued <<<"$js") qf=$(jget rx_queue_full <<<"$js")
				check "[ $q -le 256 ] && [ $q -ge 200 ] && [ $qf -gt 0 ]" \
					"$name: RX queue bounded ($q queued <= 256, $qf counted rx_queue_full)"
			fi
			;;
		esac
		say next
		;;
	AFTER)
		check "[ '$a' = ok ]" "$name: afterwards ($b)"
		[ "$name" = rx_full ] && check "[ \"\$(vstat $edom rx_queued)\" = 0 ]" "$name: queue empty once buffers are posted"
		;;
	RESTARTED)
		js=$(P --json vif-stats "$edom" 0)
		check "[ '$a' = ok ] && [ \"\$(jget connected <<<'$js')\" = 1 ] && [ -z \"\$(jget disabled_reason <<<'$js')\" ]" \
			"$name: starts over (Closed, Initialising, new rings): connected, reason cleared"
		;;
	END)
		check "[ '$name' = $ncases ] && [ '$a' = 0 ]" "evil_front ran $name cases, $a went wrong on its side"
		check "[ \"\$(vstat $edom fatal)\" = $nfatal ]" "evil vif's fatal counter = $nfatal, each fatal case counted once"
		say bye
		break
		;;
	*)
		fail "evil_front said '$line'"
		break
		;;
	esac
done
[ "$tag" = END ] || { fail "evil_front stopped early (last: '$line')"; tail -n 20 "$run/evil.log"; }
wait "$ev_pid" 2>/dev/null
check "[ $ncases -gt 0 ]" "cases run: $ncases"

wait "$iperf_pid"
rc=$?
recv=$(awk '/^\t"end":/ { e = 1 } e && /"sum_received":/ { r = 1 }
            r && $1 == "\"bytes\":" { gsub(/,/, "", $2); print $2; exit }' "$run/iperf.json")
check "[ $rc -eq 0 ] && [ \"${recv:-0}\" -gt 1000000 ]" "good guests' iperf3 completes (${recv:-0} bytes)"
kill -INT "$ping12" "$ping21" 2>/dev/null
wait "$ping12" "$ping21" 2>/dev/null
for f in ping12 ping21; do
	sent=$(awk '/packets transmitted/ { print $1 }' "$run/$f.out")
	got=$(awk '/packets transmitted/ { print $4 }' "$run/$f.out")
	check "[ \"${sent:-0}\" -ge 50 ] && [ $(( (${sent:-0} - ${got:-0}) * 100 )) -le $((2 * ${sent:-0})) ]" \
		"good guests' ping $f: $got of $sent answered (<= 2% lost)"
done
for d in "$d1" "$d2"; do
	check "[ \"\$(vstat $d fatal)\" = 0 ] && [ \"\$(vstat $d connected)\" = 1 ]" "good vif$d.0 never disabled"
done
check "kill -0 $pvnetd_pid" "pvnetd alive at the end"
wait_for 5 "! P vif-list | grep -q '^vif$edom\.0 '"
check "! P vif-list | grep -q '^vif$edom\.0 '" "the evil vif goes with its domain"
finish
