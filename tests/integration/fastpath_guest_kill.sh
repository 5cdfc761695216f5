#!/usr/bin/env bash
# fastpath_guest_kill.sh - an accelerated guest killed (SIGKILL of its
# pvnet-front) in the middle of a TCP transfer on the fast path
# (BADINPUTS class 22): within a few seconds pvnet-nicd holds again exactly
# the VIs and buffer table entries it held before that guest was
# accelerated, and exactly that guest's filters fewer (its INFO, read with
# tests/helpers/nic_info; the guest's VI counters, from pvnetctl accel
# show, just before the kill), pvnetd has dropped the vif, the domain and
# every grant mapping of it, and another accelerated guest's ping to the
# external host loses nothing across the kill and its TCP still bypasses
# pvnetd.  Then the same guest again, and guests killed at points of the
# acceleration handshake: nothing left behind either.
#
# Filters are the backend's default "flow" filters (docs/accel-pvnic.md):
# none at the handshake, one per TCP/UDP flow from the wire to a guest's
# own address, learned while it runs.  So the NIC's filters_used is not a
# fixed number per guest: every check compares it with the live per-VI
# counters (vi_nr_filters) of the guests that hold VIs at that moment; the
# host VI holds none.
#
#  g1 (netns)             host (netns)                                 ext (netns)
#  ┌──────────────┐ rings ┌───────────────────┐ host VI ┌────────────┐ veth ┌────────────┐
#  │ eth0 .1      │<═════>│ pvnetd --nic      │────────>│ pvnet-nicd │══════│ eth0 .100  │
#  │ pvnet-front ✗│═══════│═ VI ══════════════│════════>│ --port up0 │      │ iperf3 -s  │
#  │ iperf3 -c ext│       │ pvnic backend ────│─ ctl ──>│            │      │            │
#  └──────────────┘       │                   │         │            │      │            │
#  ┌──────────────┐ rings │                   │         │            │      │            │
#  │ eth0 .2      │<═════>│                   │         │            │      │            │
#  │ pvnet-front  │═══════│═ VI ══════════════│════════>│            │      │            │
#  │ ping -i 0.05 │       └───────────────────┘         └────────────┘      └────────────┘
#  └──────────────┘
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout ss
NICINFO=$BUILD/tests/helpers/nic_info
# Buffers per accelerated guest: 2 per page granted (src/accel/pvnic.h).
NBUF=$(( $(cdefine src/accel/pvnic.h PVNIC_NR_PAGES) * $(cdefine src/accel/pvnic.h PVNIC_BUFS_PER_PAGE) ))
[ "$NBUF" -gt 0 ] || { fail "fastpath_guest_kill.sh: PVNIC_NR_PAGES not found"; exit 1; }
for b in "$BUILD/pvnet-nicd" "$NICINFO"; do
	[ -x "$b" ] || { fail "fastpath_guest_kill.sh: $b not built"; exit 1; }
done

host_begin fpk

host_netns g1 g2
host_nic_pvnetd

# occupancy: "VIs buffers filters" the NIC holds now
occupancy() { "$NICINFO" "$nicdir/nic.sock" vis_active bufs_used filters_used | paste -sd' '; }
ashow() { P --json accel "$1" 0 show | jget "$2"; }	# DOMID KEY
accel_state() { ashow "$1" accelstate; }
accelerate() { # NS DOMID: on, Connected, and ext learned as a fast-path destination
	P accel "$2" 0 on pvnic >/dev/null
	wait_for 10 "[ \"\$(accel_state $2)\" = 4 ]" || return 1
	ip netns exec "$1" timeout 10 ping -c 3 -i 0.2 -q 198.18.0.100 >/dev/null
}
iperf_bytes() { # FILE: bytes ext received
	awk '/"sum_received"/ { r = 1 } r && /"bytes"/ { gsub(/,/, ""); print $2; exit }' "$1"
}
total_maps() { P --json domain-list | awk -F'"maps": ' 'NF > 1 { split($2, a, ","); s += a[1] } END { print s + 0 }'; }
guest_maps() { P --json domain-list | grep "\"name\": \"$1\"" | jget maps; }

start_guest "$g1" g1 198.18.0.1
start_guest "$g2" g2 198.18.0.2
d1=$(domid_of g1); d2=$(domid_of g2)
wait_for 10 "ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1 &&
	ip netns exec '$g2' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1" || die "guests reach ext"
base=$(occupancy)
accelerate "$g2" "$d2" || die "g2's acceleration reaches Connected"
before=$(occupancy)
accelerate "$g1" "$d1" || die "g1's acceleration reaches Connected"
with_g1=$(occupancy)
pass "setup: NIC holds (VIs buffers filters) $base, $before with g2 accelerated, $with_g1 with g1 too"
read -r v0 b0 f0 <<<"$before"
read -r v1 b1 f1 <<<"$with_g1"
# Only pings so far (no TCP/UDP flow): no flow filter for either guest.
check "[ $((v1 - v0)) = 1 ] && [ $((b1 - b0)) = $NBUF ] && [ $((f1 - f0)) = 0 ] && [ $f0 = 0 ]" \
	"g1's fast path holds 1 VI, $NBUF buffers, no filter before any flow (+$((v1 - v0)) +$((b1 - b0)) +$((f1 - f0)); g2's $f0)"
check "[ \"\$(ashow $d1 filter_mode)\" = flow ] && [ \"\$(ashow $d1 vi_nr_bufs)\" = $NBUF ] && [ \"\$(ashow $d1 vi_nr_filters)\" = 0 ]" \
	"g1's VI as pvnetctl shows it: $(ashow $d1 filter_mode) filters, $(ashow $d1 vi_nr_bufs) buffers, $(ashow $d1 vi_nr_filters) filters"

# Traffic: g1 -> ext TCP (8 s, killed after 1.5 s), g2 -> ext ping every 50 ms across the kill.
ip netns exec "$ext" timeout 30 iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
track_pid $!
wait_for 5 "ip netns exec '$ext' ss -Hltn 'sport = :5201' | grep -q ." || die "iperf3 server"
ip netns exec "$g2" timeout 30 ping -n -i 0.05 -c 120 -W 1 198.18.0.100 >"$run/ping.out" 2>&1 &
ping_pid=$!
track_pid $ping_pid
nb0=$(vstat "$d1" tx_bytes)
ip netns exec "$g1" timeout 20 iperf3 -c 198.18.0.100 -p 5201 -t 8 >/dev/null 2>&1 &
iperf_pid=$!
track_pid $iperf_pid
sleep 1
t_a=$(ashow "$d1" vi_tx_bytes)
sleep 0.5
t_b=$(ashow "$d1" vi_tx_bytes) nb1=$(vstat "$d1" tx_bytes)
# What the NIC and g1's VI hold at the kill, read twice alike (g1's two TCP
# flows, control and data, have had their filters learned by now).
kill_snap() {
	occ_k=$(occupancy) g1f=$(ashow "$d1" vi_nr_filters)
	[ "$(occupancy)" = "$occ_k" ] && [ "$(ashow "$d1" vi_nr_filters)" = "$g1f" ]
}
wait_for 3 kill_snap
read -r vk bk fk <<<"$occ_k"
check "[ $((${t_b:-0} - ${t_a:-0})) -gt 5000000 ] && [ $((nb1 - nb0)) -lt 2000000 ] && [ \"\${g1f:-0}\" -ge 1 ]" \
	"g1 is mid-transfer on the fast path when killed ($((${t_b:-0} - ${t_a:-0})) bytes by its VI in 0.5 s, $((nb1 - nb0)) through netback; ${g1f:-none} flow filters)"

kill -KILL "$front_pid_g1"
wait "$front_pid_g1" 2>/dev/null
t0=$(date +%s.%N)
# reclaimed: the NIC holds the VIs and buffers of before g1 came, and
# exactly g2's filters (the host VI holds none); g1's vif and domain gone.
reclaimed() {
	local v b f
	read -r v b f <<<"$(occupancy)"
	[ "$v" = "$v0" ] && [ "$b" = "$b0" ] && [ "$f" = "$(ashow "$d2" vi_nr_filters)" ] &&
		! P vif-list | grep -q "^vif$d1\.0 " && ! P --json domain-list | grep -q '"name": "g1"'
}
wait_for 5 reclaimed
el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
now=$(occupancy)
read -r v b f <<<"$now"
check "[ '$v' = '$v0' ] && [ '$v' = $((vk - 1)) ]" "VIs in use back to $v0 after the kill, g1's one fewer ($v, ${el}s)"
check "[ '$b' = '$b0' ] && [ '$b' = $((bk - NBUF)) ]" "buffer table entries in use back to $b0, g1's $NBUF fewer ($b)"
check "[ '$f' = $((fk - ${g1f:-0})) ]" "filters in use dropped by exactly g1's ${g1f:-none}: $fk -> $f"
check "[ '$f' = \"\$(ashow $d2 vi_nr_filters)\" ]" "the filters left are g2's: $f in use, g2's VI holds $(ashow "$d2" vi_nr_filters)"
check "! P vif-list | grep -q '^vif$d1\.0 '" "vif$d1.0 gone from vif-list"
check "! P --json domain-list | grep -q '\"name\": \"g1\"'" "g1's domain gone from domain-list"
check "[ \"\$(total_maps)\" = \"\$(guest_maps g2)\" ]" \
	"grant maps balanced: $(total_maps) in all, all g2's ($(guest_maps g2)): none left of g1"
check "kill -0 $pvnetd_pid && kill -0 $nicd_pid" "pvnetd and pvnet-nicd survive the kill"

wait "$ping_pid"
sent=$(awk '/packets transmitted/ { print $1 }' "$run/ping.out")
recv=$(awk '/packets transmitted/ { print $4 }' "$run/ping.out")
check "[ \"${sent:-0}\" -ge 100 ] && [ \"${sent:-0}\" = \"${recv:-x}\" ]" \
	"g2 -> ext ping across the kill: ${recv:-0} of ${sent:-0} answered"
kill "$iperf_pid" 2>/dev/null	# g1's client lost its interface
wait "$iperf_pid" 2>/dev/null
check "[ \"\$(accel_state $d2)\" = 4 ] && [ \"\$(vstat $d2 fatal)\" = 0 ]" "g2 still accelerated, its vif untouched"

# g2's TCP still takes the fast path.
ip netns exec "$ext" timeout 20 iperf3 -s -1 -p 5202 >/dev/null 2>&1 &
track_pid $!
wait_for 5 "ip netns exec '$ext' ss -Hltn 'sport = :5202' | grep -q ." || die "iperf3 server"
nb0=$(vstat "$d2" tx_bytes)
ip netns exec "$g2" timeout 20 iperf3 -c 198.18.0.100 -p 5202 -t 2 -J >"$run/g2.json" 2>/dev/null
got=$(iperf_bytes "$run/g2.json") nb1=$(vstat "$d2" tx_bytes)
check "[ \"\${got:-0}\" -gt 10000000 ] && [ $((nb1 - nb0)) -lt \$(( \${got:-0} / 20 )) ]" \
	"g2's TCP after the kill: ${got:-0} bytes, netback carried $((nb1 - nb0)) (< 5%)"

# The same guest again: accelerated, and holding what it held the first time.
start_guest "$g1" g1 198.18.0.1
d1=$(domid_of g1)
wait_for 10 "ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1" || fail "new g1 reaches ext"
check "accelerate '$g1' '$d1'" "a new g1 (dom $d1) is accelerated again"
# As with the first g1: its VI and buffers, and the filters the two VIs
# hold (the new g1's may have learned flows already: ext may still be
# sending to the first g1's ports, at the same address).
held() {
	local v b f
	read -r v b f <<<"$(occupancy)"
	[ "$v" = "$v1" ] && [ "$b" = "$b1" ] && [ "$(ashow "$d1" vi_nr_bufs)" = "$NBUF" ] &&
		[ "$f" = $(( $(ashow "$d1" vi_nr_filters) + $(ashow "$d2" vi_nr_filters) )) ]
}
wait_for 3 held
check held "the NIC holds $(occupancy): VIs and buffers as with the first g1 ($with_g1), the filters g1's $(ashow "$d1" vi_nr_filters) and g2's $(ashow "$d2" vi_nr_filters)"
ip netns exec "$ext" timeout 20 iperf3 -s -1 -p 5203 >/dev/null 2>&1 &
track_pid $!
wait_for 5 "ip netns exec '$ext' ss -Hltn 'sport = :5203' | grep -q ." || die "iperf3 server"
ip netns exec "$g1" timeout 20 iperf3 -c 198.18.0.100 -p 5203 -t 2 -J >"$run/g1b.json" 2>/dev/null
got=$(iperf_bytes "$run/g1b.json")
check "[ \"\${got:-0}\" -gt 10000000 ]" "the new g1's TCP to ext: ${got:-0} bytes"
kill -KILL "$front_pid_g1"
wait "$front_pid_g1" 2>/dev/null
wait_for 5 reclaimed
check "reclaimed" "killed again (idle this time): NIC back to $(occupancy) (g2's filters: $(ashow "$d2" vi_nr_filters)), vif and domain gone"

# Killed at points of the handshake: while pvnetctl is asking, right after,
# a little later.
for delay in 0 0.005 0.01 0.02 0.05 0.1 0.3; do
	start_guest "$g1" g1 198.18.0.1
	d1=$(domid_of g1)
	P accel "$d1" 0 on pvnic >/dev/null 2>&1 &	# (refused if the kill came first)
	ctl_pid=$!
	sleep "$delay"
	kill -KILL "$front_pid_g1"
	wait "$front_pid_g1" 2>/dev/null
	wait "$ctl_pid"
	wait_for 5 reclaimed
	check "reclaimed" "killed ${delay}s after accel on was asked: NIC back to $(occupancy), vif and domain gone"
done
check "[ \"\$(total_maps)\" = \"\$(guest_maps g2)\" ]" "grant maps: $(total_maps) in all, g2's only"
check "ip netns exec '$g2' timeout 10 ping -c 5 -i 0.1 -W 1 198.18.0.100 >/dev/null" "g2 still reaches ext"
check "kill -0 $pvnetd_pid && kill -0 $nicd_pid" "pvnetd and pvnet-nicd alive at the end"
finish
