#!/usr/bin/env bash
# fastpath_evil.sh - isolation on the fast path through the whole stack: a
# hostile guest (tests/helpers/evil_vi: a real guest of pvnetd whose
# frontend half is its own) gets an accelerated vif with a real VI of
# pvnet-nicd and misbehaves on it, one mode at a time, while a good
# accelerated guest g1 talks to the external host (BADINPUTS classes 1, 2,
# 5, 8, 10, 13, 17-19, 26 and 27, on the fast path).  Per mode:
#
#   - the NIC's answer, as evil_vi counts the events of its own VI, and as
#     the NIC counts it for evil's VI (its STATS, through pvnetctl accel
#     show: vi_tx_spoofed, vi_tx_runt, vi_desc_errors, vi_rx_no_desc...;
#     "dropped and counted", "refused with error events"):
#       spoofed source MACs (also 802.1Q-tagged) -> TX_SPOOF, runts -> TX_RUNT,
#       g1's buffer ids, every id not its own -> BUF_OWNER, ids past the
#       table -> BUF_RANGE, offset+len past the buffer -> BUF_BOUNDS, on TX and
#       on RX; nothing of anybody else's sent or received;
#       TX chains and offloads (chains): a TSO chain of its own goes out
#       (vi_tx_tso), with g1's MAC -> TX_SPOOF on every descriptor, g1's id
#       mid-chain -> BUF_OWNER + TX_CHAIN, 41 descriptors -> 40 TX_TOO_BIG
#       and the 41st alone, impossible offloads -> TX_OFFLOAD (counted per
#       frame), offload flags past the first -> RESERVED, a chain cut off
#       at tx_prod left alone until completed;
#   - the wire: ext never sees a frame with a source that is not evil's own
#     (tcpdump in ext);
#   - g1: its ping to ext loses nothing; under the floods (doorbells, an
#     event queue never read with TX or with RX flooding in, TX at full
#     speed) its iperf3 keeps at least
#     half of what it had alone, measured in this run.  Under a sanitizer
#     build (ASan+UBSan: every daemon several times slower, on the same two
#     cores as the floods) the bounds are a quarter of its solo rate and 25%
#     of pings: still "g1's traffic goes on", not "g1 is as fast";
#   - evil receives none of g1's frames (g1 receiving iperf3 data, ext
#     flooding g1's MAC), but does receive its own;
#   - evil's frames to g1's MAC go out of the port and reach nobody: g1
#     never receives a frame from evil's MAC (tcpdump in g1), on any path;
#   - descriptors left in evil's rings while its buffer ids pass to g1 are
#     refused when used (ownership checked at use, not at post);
#   - lies in the fields the NIC owns (tx_cons, rx_cons, evq_prod, info) are
#     overwritten with the truth; an impossible index (tx_prod, rx_prod,
#     evq_cons) disables evil's VI only, and accel off/on gives it a new one;
#   - the control plane through the backend half: 200 handshake rounds in a
#     row, 10 kinds of accel-buf-refs to refuse (each followed by a good
#     round): nothing leaks (the NIC's VIs/buffers/filters, pvnetd's grant
#     mappings of evil's domain); evil cannot shrink a memfd it shares;
#   - pvnetd and pvnet-nicd survive, pvnet-nicd's log stays rate-limited,
#     and once evil is killed (mid-flood) the NIC holds the VIs and buffers
#     it held before evil came, and exactly evil's filter fewer.
#
# Filters: g1 has the backend's default "flow" filters (learned per TCP/UDP
# flow from the wire, docs/accel-pvnic.md), so the NIC's filters_used
# follows g1's flows: checks compare it with the live per-VI counters
# (vi_nr_filters) of g1 and evil.  Evil's vif is set to the "mac" mode by
# the toolstack (backend key accel-filter, before accel on): the RX modes
# need the wire's frames to evil's MAC steered to its VI (flow filters only
# take TCP/UDP to an address the guest used on its slow path; evil has none).
#
# CPU: this machine's cores are shared by the "guests" and the host; a real
# guest burns its own vCPU.  evil_vi runs at nice 19 so that its spinning
# floods take CPU from the host only as a guest's would (through the NIC's
# work for it), not by the scheduler handing it a host core.
#
#  g1 (netns)                host (netns)                                   ext (netns)
#  ┌───────────────┐  rings ┌─────────────────────┐        ┌──────────────┐ veth ┌─────────────┐
#  │ eth0 .1       │<══════>│ pvnetd --nic        │host VI │ pvnet-nicd   │══════│ eth0 .100   │
#  │ pvnet-front   │════════│═══ VI (fast path) ══│═══════>│  --port up0  │      │ iperf3 -s   │
#  │ + pvnic       │        │ pvnic backend (ctl) │───────>│              │      │ tcpdump     │
#  │ iperf3, ping  │        │                     │        │              │      │ macflood    │
#  │ tcpdump       │        │                     │        │              │      │             │
#  └───────────────┘        │                     │        │              │      │             │
#  ┌───────────────┐  rings │                     │        │              │      └─────────────┘
#  │ evil_vi       │<══════>│                     │        │              │
#  │ (no TAP)      │════════│═══ its own VI ══════│═══════>│              │
#  └───────────────┘        └─────────────────────┘        └──────────────┘
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout tcpdump ss nice
EVIL=$BUILD/tests/helpers/evil_vi
NICINFO=$BUILD/tests/helpers/nic_info
MACFLOOD=$BUILD/tests/helpers/macflood
XSWRITE=$BUILD/tests/helpers/xs_write
# Buffers per accelerated guest, and the pvnic frontend's RX share of them
# (evil_vi splits its own the same way): src/accel/pvnic.h.
NBUF=$(( $(cdefine src/accel/pvnic.h PVNIC_NR_PAGES) * $(cdefine src/accel/pvnic.h PVNIC_BUFS_PER_PAGE) ))
NRX=$(cdefine src/accel/pvnic.h PVNIC_NR_RX)
[ "$NBUF" -gt 0 ] && [ "${NRX:-0}" -gt 0 ] || { fail "fastpath_evil.sh: pvnic.h's constants not found"; exit 1; }
for b in "$BUILD/pvnet-nicd" "$EVIL" "$NICINFO" "$MACFLOOD" "$XSWRITE"; do
	[ -x "$b" ] || { fail "fastpath_evil.sh: $b not built"; exit 1; }
done
SECS=3		# each flood, and each iperf3 run

on_cleanup() {
	[ -n "${td_pid:-}" ] && kill -INT "$td_pid" 2>/dev/null
	[ -n "${td1_pid:-}" ] && kill -INT "$td1_pid" 2>/dev/null
	[ -n "${ev_pid:-}" ] && kill "$ev_pid" 2>/dev/null
	return 0
}
host_begin fpe

host_netns g1 evns:evil
extmac=$(ip -n "$ext" -br link show eth0 | awk '{ print $3 }')

host_nic_pvnetd
NI() { "$NICINFO" "$nicdir/nic.sock" "$@"; }
occupancy() { NI vis_active bufs_used filters_used | paste -sd' '; }

start_guest "$g1" g1 198.18.0.1
wait_for 10 "ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1" || die "g1 reaches ext"
d1=$(domid_of g1)
g1mac=$(vstat "$d1" mac)
P accel "$d1" 0 on pvnic >/dev/null
ashow() { P --json accel "$1" 0 show | jget "$2"; }	# DOMID KEY
accel_state() { ashow "$1" accelstate; }
wait_for 10 "[ \"\$(accel_state $d1)\" = 4 ]" || die "g1's acceleration reaches Connected"
ip netns exec "$g1" timeout 10 ping -c 5 -i 0.2 198.18.0.100 >/dev/null	# ext learned: fast path
g1ids=$(P store-dump "/local/domain/0/backend/vif/$d1/0/accel-buf-ids" |
	sed -n 's/.*accel-buf-ids[^0-9]*\([0-9][0-9 ]*\).*/\1/p' | head -n1)
nr_bufs=$(NI nr_bufs)
before=$(occupancy)
pass "setup: g1 (dom $d1, $g1mac) accelerated; NIC holds (VIs buffers filters) $before of $nr_bufs buffers"
[ -n "$g1ids" ] || die "g1's accel-buf-ids not found in the store"
check "[ \"\$(wc -w <<<'$g1ids')\" = $NBUF ] && [ \"\$(ashow $d1 vi_nr_bufs)\" = $NBUF ]" \
	"g1's VI holds its $NBUF buffer ids ($(wc -w <<<"$g1ids") in accel-buf-ids, $(ashow "$d1" vi_nr_bufs) in the NIC)"

# g1_iperf SECS PORT [-R]: g1 <-> ext throughput (bits/s received) on a fresh server.
g1_iperf() {
	ip netns exec "$ext" timeout $(($1 + 15)) iperf3 -s -1 -p "$2" >/dev/null 2>&1 &
	wait_for 5 "ip netns exec '$ext' ss -Hltn 'sport = :$2' | grep -q ." || { echo 0; return; }
	ip netns exec "$g1" timeout $(($1 + 10)) iperf3 -c 198.18.0.100 -p "$2" -t "$1" ${3:-} -J \
		2>/dev/null | awk '/"sum_received"/ { r = 1 }
			r && /"bits_per_second"/ { gsub(/,/, ""); printf "%.0f\n", $2; exit }'
}
solo=$(g1_iperf $SECS 5201)
check "[ \"\${solo:-0}\" -gt 10000000 ]" "g1 alone on the fast path: $((${solo:-0} / 1000000)) Mbit/s"

# ---- the hostile guest -----------------------------------------------------
coproc EV { ip netns exec "$evns" nice -n 19 timeout 300 "$EVIL" --run-dir "$run" --name evil \
	--victim-mac "$g1mac" --dst-mac "$extmac" --nr-bufs "$nr_bufs" 2>"$run/evil.log"; }
ev_pid=$EV_PID	# (bash unsets EV_PID once the coprocess is reaped)
track_pid "$ev_pid"
ev_in=${EV[0]} ev_out=${EV[1]}
say() { echo "$1" >&"$ev_out"; }
hear() { line=""; read -r -t "${2:-30}" line <&"$ev_in" && [ "${line%% *}" = "$1" ]; }
# field KEY: KEY=value of the last RESULT line
field() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p" | head -n1; }

hear READY || die "evil_vi: no READY ('$line')"
read -r _ edom emac <<<"$line"
"$XSWRITE" "$run/xenstored.sock" "/local/domain/0/backend/vif/$edom/0/accel-filter" mac ||
	die "the toolstack's accel-filter for evil's vif"
P accel "$edom" 0 on pvnic >/dev/null
hear VI || die "evil_vi: no VI ('$line'; accelstate $(accel_state "$edom"))"
read -r _ evi efirst elast <<<"$line"
pass "evil_vi (dom $edom, $emac) holds VI $evi with buffers $efirst..$elast"
eids=$(P store-dump "/local/domain/0/backend/vif/$edom/0/accel-buf-ids" |
	sed -n 's/.*accel-buf-ids[^0-9]*\([0-9][0-9 ]*\).*/\1/p' | head -n1)
# with_vis VIS BUFS: the NIC holds VIS VIs and BUFS buffers; evil's VI its
# $NBUF buffers and its one MAC filter; and the filters in use are exactly
# g1's and evil's (the host VI holds none).
with_vis() {
	local v b f ef
	read -r v b f <<<"$(occupancy)"
	ef=$(ashow "$edom" vi_nr_filters)
	[ "$v" = "$1" ] && [ "$b" = "$2" ] && [ "$(ashow "$edom" vi_nr_bufs)" = "$NBUF" ] &&
		[ "$ef" = 1 ] && [ "$(ashow "$edom" filter_mode)" = mac ] &&
		[ "$f" = $(( ef + $(ashow "$d1" vi_nr_filters) )) ]
}
read -r v0 b0 f0 <<<"$before"
wait_for 5 "with_vis $((v0 + 1)) $((b0 + NBUF))"
check "with_vis $((v0 + 1)) $((b0 + NBUF)) && [ \"\$(wc -w <<<'$eids')\" = $NBUF ]" \
	"the NIC counts evil's VI, $NBUF buffers, 1 MAC filter: $(occupancy) (before: $before; evil's VI: $(ashow "$edom" vi_nr_bufs) buffers, $(ashow "$edom" vi_nr_filters) $(ashow "$edom" filter_mode) filter; g1's: $(ashow "$d1" vi_nr_filters) flow filters)"

# Evil's VI as the NIC counts it (pvnetctl accel show): vi_snap before a
# mode, vi_now after it, vd KEY: how much vi_KEY grew between them (or
# "vi-changed"; a VI id may be reused, but no mode here changes the VI).
# Counters are since the VI's allocation, so the checks are deltas.
vi_snap() { vi0=$(P --json accel "$edom" 0 show); }
vi_now() { vi1=$(P --json accel "$edom" 0 show); }
vd() {
	if [ "$(jget vi_id <<<"$vi0")" != "$(jget vi_id <<<"$vi1")" ]; then echo vi-changed; return; fi
	echo $(( $(jget "vi_$1" <<<"$vi1") - $(jget "vi_$1" <<<"$vi0") ))
}

# Evil's own frames to ext, and its IPv4 ones (chains: its TSO chains, from
# 198.18.0.66, an address nobody else uses; g1's iperf3 and ping stay out).
ip netns exec "$ext" tcpdump -i eth0 -n -U -s 96 -w "$run/ext.pcap" \
	"ether dst $extmac and not ether src $extmac and ((not ip and not arp and not ip6) or src host 198.18.0.66)" \
	2>"$run/tcpdump.err" &
td_pid=$!
track_pid $td_pid
wait_for 5 "grep -q listening '$run/tcpdump.err'" || die "tcpdump in ext"
# Nothing of evil's may reach g1, on any path.
ip netns exec "$g1" tcpdump -i eth0 -n -U -s 96 -w "$run/g1.pcap" "ether src $emac" \
	2>"$run/tcpdump-g1.err" &
td1_pid=$!
track_pid $td1_pid
wait_for 5 "grep -q listening '$run/tcpdump-g1.err'" || die "tcpdump in g1"

# attack "MODE ARGS" PINGS: the mode, with g1 pinging ext PINGS times meanwhile.
ping_start() { # PINGS NAME: g1 pings ext in the background
	ip netns exec "$g1" ping -n -i 0.05 -c "$1" -W 2 198.18.0.100 >"$run/ping.$2" 2>&1 &
	ping_pid=$!
	track_pid $ping_pid
}
ping_end() { # NAME: sets ping_sent, ping_lost
	wait "$ping_pid"
	ping_sent=$(awk '/packets transmitted/ { print $1 }' "$run/ping.$1")
	ping_lost=$(( ${ping_sent:-0} - $(awk '/packets transmitted/ { print $4 }' "$run/ping.$1") ))
}
attack() {
	local name=${1%% *}
	ping_start "$2" "$name"
	vi_snap
	say "$1"
	hear RESULT 60 || fail "$name: no RESULT from evil_vi ('$line')"
	vi_now
	ping_end "$name"
}
# after MODE [noping|flood]: the checks every mode shares.  g1's ping loses
# nothing, except under a flood: at most 2% there (as slowpath_evil.sh), the
# flood taking host CPU (pvnet-nicd's, measured below) that g1 needs too.
after() {
	local max=0
	[ "${2:-}" = flood ] && max=$(( ${ping_sent:-0} / 50 ))
	[ "$SANITIZED" = 1 ] && max=$(( ${ping_sent:-0} / 4 ))
	check "[ \"\$(field verdict)\" = ok ]" "$1: evil_vi sees the NIC do what nic.h says ($(field verdict))"
	[ "${2:-}" = noping ] || check "[ \"${ping_sent:-0}\" -gt 0 ] && [ \"$ping_lost\" -le $max ]" \
		"$1: g1's ping to ext meanwhile: $ping_lost of ${ping_sent:-0} lost (at most $max)"
	check "kill -0 $pvnetd_pid && kill -0 $nicd_pid" "$1: pvnetd and pvnet-nicd alive"
}
nicd_ticks() { awk '{ print $14 + $15 }' "/proc/$nicd_pid/stat"; }
# g1 kept its traffic under a flood: half its solo rate (a quarter when sanitized)
kept() { [ $(( ${1:-0} * (SANITIZED ? 4 : 2) )) -ge "${solo:-0}" ]; }

attack "legit 100" 20
after legit
check "[ \"\$(field tx_done)\" = 100 ]" "legit: its own 100 frames go out (control: the VI works)"
check "[ \"\$(vd tx_frames)\" = 100 ] && [ \"\$(vd tx_bytes)\" = 6000 ] && [ \"\$(vd desc_errors)\" = 0 ]" \
	"legit: the NIC counts them for evil's VI: +$(vd tx_frames) frames, +$(vd tx_bytes) bytes, +$(vd desc_errors) refused descriptors"

attack "peek $d1" 20
after peek
check "[ \"\$(field verdict)\" = ok ]" "peek: g1's xenstore keys unreadable from evil ($(field buf_ids) $(field buf_refs))"

attack "spoof 50" 40
after spoof
check "[ \"\$(field t_spoof)\" = 200 ] && [ \"\$(field t_runt)\" = 50 ] && [ \"\$(field tx_done)\" = 0 ]" \
	"spoof: 200 spoofed (g1's MAC, tagged, broadcast, zero) -> TX_SPOOF, 50 runts -> TX_RUNT, 0 sent"
check "[ \"\$(vd tx_spoofed)\" = 200 ] && [ \"\$(vd tx_runt)\" = 50 ] && [ \"\$(vd tx_frames)\" = 0 ]" \
	"spoof: dropped and counted by the NIC for evil's VI: +$(vd tx_spoofed) spoofed, +$(vd tx_runt) runts, +$(vd tx_frames) sent"

attack "foreign $g1ids" 20
after foreign
check "[ \"\$(field posted)\" = $NBUF ] && [ \"\$(field t_owner)\" = $NBUF ] && [ \"\$(field tx_done)\" = 0 ]" \
	"foreign: all $(field posted) of g1's $NBUF buffer ids refused BUF_OWNER, none sent"
check "[ \"\$(vd desc_errors)\" = $NBUF ] && [ \"\$(vd tx_frames)\" = 0 ]" \
	"foreign: the NIC counts $(vd desc_errors) refused descriptors for evil's VI, $(vd tx_frames) sent"

attack scan 40
after scan
check "[ \"\$(field t_owner)\" = $((nr_bufs - NBUF)) ] && [ \"\$(field posted)\" = $((nr_bufs - NBUF)) ]" \
	"scan: every one of the $((nr_bufs - NBUF)) ids not its own refused BUF_OWNER ($(field t_owner))"
check "[ \"\$(vd desc_errors)\" = $((nr_bufs - NBUF)) ] && [ \"\$(vd tx_frames)\" = 0 ]" \
	"scan: the NIC counts $(vd desc_errors) refused descriptors for evil's VI, $(vd tx_frames) sent"

attack range 20
after range
check "[ \"\$(field t_range)\" = 6 ] && [ \"\$(vd desc_errors)\" = 6 ]" \
	"range: 6 ids at and past the table's end refused BUF_RANGE (the NIC counts $(vd desc_errors))"

attack bounds 20
after bounds
check "[ \"\$(field t_bounds)\" = 7 ] && [ \"\$(field t_reserved)\" = 4 ] && [ \"\$(field t_toobig)\" = 1 ]" \
	"bounds: 7 offset/len past 2 KiB -> BUF_BOUNDS, 4 reserved bits -> RESERVED, 1 oversized -> TX_TOO_BIG"
check "[ \"\$(vd desc_errors)\" = 11 ] && [ \"\$(vd tx_too_big)\" = 1 ] && [ \"\$(vd tx_frames)\" = 0 ]" \
	"bounds: the NIC counts for evil's VI +$(vd desc_errors) refused descriptors, +$(vd tx_too_big) too big, +$(vd tx_frames) sent"

# TX chains and offloads (nic.h version 2): a good TSO chain of evil's own
# (the control), the same with g1's source MAC, g1's buffer id mid-chain,
# 41 descriptors, offloads the frame cannot have, offload flags past the
# first descriptor, a chain left cut off at tx_prod for 1.5 s (g1 pinging
# meanwhile) and then completed.
attack "chains $(cut -d' ' -f5 <<<"$g1ids")" 40
after chains
check "[ \"\$(field ok)\" = 1111111 ] && [ \"\$(field tx_done)\" = 10 ]" \
	"chains: per case (good TSO, spoofed TSO, g1's id mid-chain, 41 long, bad offloads, late flags, held chain) $(field ok), $(field tx_done) TX_DONE (5 TSO + the 41st + 3 completed + 1)"
check "[ \"\$(field t_spoof)\" = 5 ] && [ \"\$(field t_owner)\" = 1 ] && [ \"\$(field t_chain)\" = 4 ] && [ \"\$(field t_toobig)\" = 40 ] && [ \"\$(field t_offload)\" = 4 ] && [ \"\$(field t_reserved)\" = 2 ]" \
	"chains: TSO with g1's MAC -> TX_SPOOF x$(field t_spoof); g1's id mid-chain -> BUF_OWNER x$(field t_owner), TX_CHAIN on the rest (+ late flags: x$(field t_chain)); 41 long -> TX_TOO_BIG x$(field t_toobig), the 41st sent alone; TSO mss 0 / TSO on UDP / CSUM on ARP -> TX_OFFLOAD x$(field t_offload); flags past the first -> RESERVED x$(field t_reserved)"
check "[ \"\$(field held_events)\" = 0 ] && [ \"\$(field held_cons)\" = 1 ] && [ \"\$(field after)\" = 4 ]" \
	"chains: the chain cut off at tx_prod left alone for 1.5 s ($(field held_events) events, tx_cons unmoved: $(field held_cons)), sent once completed, with the frame after it ($(field after) TX_DONE)"
check "[ \"\$(vd tx_frames)\" = 4 ] && [ \"\$(vd tx_bytes)\" = 8354 ] && [ \"\$(vd tx_tso)\" = 1 ] && [ \"\$(vd tx_spoofed)\" = 1 ] && [ \"\$(vd tx_too_big)\" = 1 ] && [ \"\$(vd tx_offload_errors)\" = 3 ] && [ \"\$(vd desc_errors)\" = 3 ]" \
	"chains: the NIC counts for evil's VI +$(vd tx_frames) frames ($(vd tx_bytes) bytes), +$(vd tx_tso) TSO, +$(vd tx_spoofed) spoofed, +$(vd tx_too_big) too big, +$(vd tx_offload_errors) offload errors (frames), +$(vd desc_errors) refused descriptors"

# RX descriptors: two of g1's ids, past the table, out of bounds, flagged, too small.
ping_start 40 rxbad
vi_snap
say "rxbad $(cut -d' ' -f1,70 <<<"$g1ids")"
if hear POKE; then
	ip netns exec "$ext" timeout 10 "$MACFLOOD" -d "$emac" -S "$extmac" -r 1000 eth0 "${line#POKE }" \
		>/dev/null || fail "rxbad: macflood pokes evil's MAC"
	say poked
	hear RESULT || fail "rxbad: no RESULT ('$line')"
else
	fail "rxbad: no POKE ('$line')"
fi
vi_now
ping_end rxbad
after rxbad
check "[ \"\$(field r_owner)\" = 2 ] && [ \"\$(field r_range)\" = 2 ] && [ \"\$(field r_bounds)\" = 2 ] && [ \"\$(field rx)\" = 0 ]" \
	"rxbad: RX descriptors of g1's ids -> BUF_OWNER, past the table -> BUF_RANGE, past 2 KiB -> BUF_BOUNDS; nothing received"
# 7 refused descriptors (2 owner, 2 range, 2 bounds, 1 flagged), 1 too small.
check "[ \"\$(vd desc_errors)\" = 7 ] && [ \"\$(vd rx_bad_desc)\" = 7 ] && [ \"\$(vd rx_too_big)\" = 1 ] && [ \"\$(vd rx_frames)\" = 0 ]" \
	"rxbad: the NIC counts for evil's VI +$(vd desc_errors) refused descriptors (+$(vd rx_bad_desc) on RX), +$(vd rx_too_big) too big for the room, +$(vd rx_frames) received"

# Snooping: all of evil's RX buffers posted while ext sends to g1 (iperf3 -R,
# and a flood at g1's MAC), floods broadcast, and pokes evil's own MAC.  No
# ping here: a TCP receiver saturated by its sender drops from its own RX
# queue, with or without evil (drop-tail), and g1's ping replies with it.
iperf_out=$run/iperf.snoop
( g1_iperf $SECS 5202 -R >"$iperf_out" ) &
snoop_iperf=$!
track_pid $snoop_iperf
vi_snap
say "snoop $((SECS + 1)) 100"
sleep 0.5
ip netns exec "$ext" timeout 10 "$MACFLOOD" -d "$g1mac" -S "$extmac" -r 2000 eth0 2000 >/dev/null
ip netns exec "$ext" timeout 10 "$MACFLOOD" -r 2000 eth0 500 >/dev/null
ip netns exec "$ext" timeout 10 "$MACFLOOD" -d "$emac" -S "$extmac" -r 1000 eth0 200 >/dev/null
hear RESULT 60 || fail "snoop: no RESULT ('$line')"
vi_now
wait "$snoop_iperf"
after snoop noping
check "[ \"\$(field rx_victim)\" = 0 ] && [ \"\$(field rx_notmine)\" = 0 ] && [ \"\$(field rx)\" -ge 100 ]" \
	"snoop: evil got $(field rx) frames, all its own: $(field rx_victim) for g1, $(field rx_notmine) for others"
check "[ \"\$(vd rx_frames)\" = \"\$(field rx)\" ]" "snoop: the NIC counts the same $(vd rx_frames) frames received by evil's VI"
rs=$(cat "$iperf_out")
check "[ \"\${rs:-0}\" -gt 10000000 ]" "snoop: g1 received from ext meanwhile: $((${rs:-0} / 1000000)) Mbit/s"

# Frames of evil's own to g1's MAC, and to itself: out of the port they go,
# and come back to nobody.
attack "inject 50" 20
after inject
check "[ \"\$(field tx_done)\" = 100 ] && [ \"\$(field rx)\" = 0 ]" \
	"inject: 50 frames to g1's MAC, 50 to its own, all sent; none came back to evil"
check "[ \"\$(vd tx_frames)\" = 100 ] && [ \"\$(vd rx_frames)\" = 0 ]" \
	"inject: the NIC counts +$(vd tx_frames) sent, +$(vd rx_frames) received for evil's VI"

# Evil reads no RX event while the wire floods its MAC (BADINPUTS 17):
# exactly its posted buffers are filled, the rest dropped at the NIC, and
# g1's iperf3 keeps at least half of what it had alone.
( g1_iperf $SECS 5203 >"$run/iperf.rxstall" ) &
fl_iperf=$!
track_pid $fl_iperf
ping_start $((SECS * 20)) rxstall
vi_snap
say "rxstall $((SECS + 1))"
sleep 0.5
ip netns exec "$ext" timeout 10 "$MACFLOOD" -d "$emac" -S "$extmac" -r 30000 eth0 60000 >/dev/null
hear RESULT 60 || fail "rxstall: no RESULT ('$line')"
vi_now
ping_end rxstall
wait "$fl_iperf"
after rxstall flood
got=$(cat "$run/iperf.rxstall")
check "[ \"\$(field posted)\" = $NRX ] && [ \"\$(field rx)\" = $NRX ] && kept \"\${got:-0}\"" \
	"rxstall: 60000 frames at evil, it took exactly its $(field posted) posted buffers ($(field rx)); g1 meanwhile $((${got:-0} / 1000000)) Mbit/s, alone $((${solo:-0} / 1000000))"
# The rest dropped at the NIC for want of a descriptor (the event queue had
# room for every posted one: none for want of event room).
check "[ \"\$(vd rx_frames)\" = $NRX ] && [ \"\$(vd rx_no_desc)\" -gt 0 ] && [ \$(( \$(vd rx_no_desc) + $NRX )) -le 60000 ] && [ \"\$(vd rx_no_evq)\" = 0 ]" \
	"rxstall: the NIC counts for evil's VI +$(vd rx_frames) received, +$(vd rx_no_desc) dropped without a descriptor, +$(vd rx_no_evq) without event room"

# Floods: g1's iperf3 keeps at least half of what it had alone while evil
# rings for nothing or reads no event (neither costs the NIC much).  Under
# evil's TX flood the NIC is busy by design: what it owes g1 is its share
# of the port, asserted by the NIC's own scheduler counters (deficit round
# robin by wire bytes, vi.c); g1's iperf3 figure is printed here and
# measured in make bench.
port=5210
g1vi() { P --json accel "$d1" 0 show | jget "vi_$1"; }
for m in doorbell evqstall txflood; do
	port=$((port + 1))
	( g1_iperf $SECS $port >"$run/iperf.$m" ) &
	fl_iperf=$!
	track_pid $fl_iperf
	c0=$(nicd_ticks)
	g1w0=$(g1vi tx_wire_bytes)
	attack "$m $SECS" $((SECS * 20 + 10))
	c1=$(nicd_ticks)
	wait "$fl_iperf"
	after "$m" flood
	got=$(cat "$run/iperf.$m")
	if [ $m = txflood ]; then
		echo "# txflood: g1's iperf3 meanwhile $((${got:-0} / 1000000)) Mbit/s, alone $((${solo:-0} / 1000000)) (evil $(field mbps) Mbit/s)"
	else
		check "kept \"\${got:-0}\"" \
			"$m: g1's iperf3 meanwhile $((${got:-0} / 1000000)) Mbit/s, alone $((${solo:-0} / 1000000)) ($(field doorbells) $m)"
	fi
	echo "# $m: pvnet-nicd used $(( (c1 - c0) * 100 / $(getconf CLK_TCK) / SECS ))% of a core meanwhile"
	case $m in
	doorbell) # an eventfd: many writes, fewer reads; but read it is
		check "[ \"\$(vd doorbells)\" -ge 1 ] && [ \"\$(vd doorbells)\" -le \"\$(field doorbells)\" ] && [ \"\$(vd tx_frames)\" = 0 ]" \
			"doorbell: the NIC counts $(vd doorbells) doorbells of evil's $(field doorbells), nothing sent" ;;
	evqstall)
		check "[ \"\$(vd evq_stalls)\" -ge 1 ] && [ \"\$(vd tx_frames)\" = \"\$(field posted)\" ] && [ \"\$(vd desc_errors)\" = 0 ]" \
			"evqstall: the NIC counts $(vd evq_stalls) stalls on evil's full event queue, and every one of its $(field posted) frames sent ($(vd tx_frames))" ;;
	txflood)
		check "[ \"\$(field tx_done)\" -gt 0 ] && [ \"\$(vd tx_frames)\" = \"\$(field tx_done)\" ] && [ \"\$(vd tx_bytes)\" = \$(( \$(field tx_done) * 1514 )) ]" \
			"txflood: evil's own frames did go ($(field mbps) Mbit/s), the NIC counts $(vd tx_frames) of them, $(vd tx_bytes) bytes"
		# DRR: 1514 bytes + 24 on the wire a frame; a turn never more
		# than a quantum (src/nic/nic.h) and one frame; the flooder
		# held by its quantum (the old per-descriptor budget let it send
		# 128 frames, 196,864 wire bytes, a turn).
		q=$(cdefine src/nic/nic.h NIC_TX_QUANTUM)
		check "[ \"\$(vd tx_wire_bytes)\" = \$(( \$(vd tx_frames) * 1538 )) ] && [ \"\$(vd tx_turns)\" -gt 0 ] && [ \"\$(vd tx_wire_bytes)\" -le \$(( \$(vd tx_turns) * (q + 1538) )) ] && [ \"\$(vd tx_quantum_stops)\" -gt 0 ]" \
			"txflood: the NIC held evil to its share: $(vd tx_wire_bytes) wire bytes in $(vd tx_turns) turns (at most $((q + 1538)) a turn), $(vd tx_quantum_stops) turns ended by its quantum"
		g1w1=$(g1vi tx_wire_bytes)
		echo "# txflood: g1 put $(( (g1w1 - g1w0) / 1000000 )) MB on the wire meanwhile; its longest wait $(g1vi tx_wait_max_bytes) wire bytes of others', $(g1vi tx_quantum_stops) quantum stops in all" ;;
	esac
done

# Stale descriptors (a TOCTOU on ownership): evil leaves RX and TX
# descriptors of its buffers in its rings while the backend takes the
# buffers back; g1, accelerated again meanwhile, gets the same buffer ids
# (the NIC reuses the last freed first); then evil's doorbell and frames to
# evil: each stale descriptor refused BUF_OWNER, nothing of g1's sent or
# overwritten.
P accel "$d1" 0 off >/dev/null
wait_for 10 "[ \"\$(accel_state $d1)\" != 4 ]" || fail "stale: g1's acceleration off"
ping_start 200 stale
vi_snap
say stale
if hear RELEASED; then
	released=${line#RELEASED }
	P accel "$d1" 0 on pvnic >/dev/null
	wait_for 10 "[ \"\$(accel_state $d1)\" = 4 ]" || fail "stale: g1's acceleration on again"
	g1new=$(P store-dump "/local/domain/0/backend/vif/$d1/0/accel-buf-ids" |
		sed -n 's/.*accel-buf-ids[^0-9]*\([0-9][0-9 ]*\).*/\1/p' | head -n1)
	reused=$(comm -12 <(tr ' ' '\n' <<<"$released" | sort) <(tr ' ' '\n' <<<"$g1new" | sort) | wc -l)
	say go
	hear POKE || fail "stale: no POKE ('$line')"
	ip netns exec "$ext" timeout 10 "$MACFLOOD" -d "$emac" -S "$extmac" -r 1000 eth0 "${line#POKE }" \
		>/dev/null
	say poked
	hear RESULT || fail "stale: no RESULT ('$line')"
else
	fail "stale: no RELEASED ('$line')"
fi
vi_now
kill -INT "$ping_pid" 2>/dev/null	# g1 went through the slow path and back: not counted
wait "$ping_pid" 2>/dev/null
after stale noping
check "[ \"\${reused:-0}\" -gt 0 ]" "stale: g1 now holds ${reused:-0} of the buffer ids evil's stale descriptors name"
check "[ \"\$(field stale_tx)\" = 16 ] && [ \"\$(field stale_rx)\" = $NRX ] && [ \"\$(field t_owner)\" = 16 ] && [ \"\$(field r_owner)\" = $NRX ] && [ \"\$(field tx_done)\" = 0 ] && [ \"\$(field rx)\" = 0 ]" \
	"stale: 16 stale TX and $NRX stale RX descriptors refused BUF_OWNER when used; nothing sent or received"
check "[ \"\$(vd desc_errors)\" = $((16 + NRX)) ] && [ \"\$(vd tx_frames)\" = 0 ] && [ \"\$(vd rx_frames)\" = 0 ]" \
	"stale: the NIC counts for evil's VI (the same VI) +$(vd desc_errors) refused descriptors, +$(vd tx_frames) sent, +$(vd rx_frames) received"
ip netns exec "$g1" timeout 10 ping -c 3 -i 0.2 -q 198.18.0.100 >/dev/null
check "[ \"\$(g1_iperf 2 5220)\" -gt 10000000 ]" "stale: g1's TCP to ext works on its new buffers"

attack "legit 100" 20
after "legit again"

# Lies in the fields the NIC owns: it goes on from its private copies.
attack scribble 20
after scribble
check "[ \"\$(field tx_done)\" = 20 ] && [ \"\$(vd tx_frames)\" = 20 ] && [ \"\$(vd faults)\" = 0 ]" \
	"scribble: tx_cons, rx_cons, evq_prod, info overwritten by evil; the NIC's truth back ($(field tx_cons) $(field evq_prod)), 20 sent (the NIC counts $(vd tx_frames))"

# The control plane through the backend half: handshake rounds as fast as
# xenstore takes them, then accel-buf-refs that must be refused, each
# followed by a good round.  Nothing may leak: the NIC's occupancy and
# pvnetd's grant mappings of evil's domain come back to what they were.
evil_maps() { P --json domain-list | grep '"name": "evil"' | jget maps; }
with_evil=$(occupancy) maps0=$(evil_maps)
read -r ve be _ <<<"$with_evil"
attack "flap 200" 60
after flap
wait_for 5 "with_vis $ve $be"	# evil's MAC filter comes back once the backend sees it Connected
check "with_vis $ve $be && [ \"\$(evil_maps)\" = '$maps0' ]" \
	"flap: 200 rounds, then the VI again; NIC $(occupancy) (was $with_evil; evil's filters $(ashow "$edom" vi_nr_filters), g1's $(ashow "$d1" vi_nr_filters)), evil's grant maps $(evil_maps) (was $maps0)"
attack "badrefs" 80
after badrefs
check "[ \"\$(field refused)\" = \"\$(field variants)\" ] && [ \"\$(field recovered)\" = \"\$(field variants)\" ]" \
	"badrefs: $(field refused) of $(field variants) bad accel-buf-refs refused, $(field recovered) good rounds after them"
wait_for 5 "with_vis $ve $be"
check "with_vis $ve $be && [ \"\$(evil_maps)\" = '$maps0' ]" \
	"badrefs: nothing leaked: NIC $(occupancy) (was $with_evil; evil's filters $(ashow "$edom" vi_nr_filters), g1's $(ashow "$d1" vi_nr_filters)), evil's grant maps $(evil_maps) (was $maps0)"
attack "legit 20" 20
after "legit after the handshake abuse"

attack shrink 20
after shrink
check "[ \"\$(field shrunk)\" = 0 ]" "shrink: none of the $(field memfds) memfds shared with the host could shrink"

# The impossible, per index: the NIC disables the VI (and nobody else's);
# accel off and on gives evil a new VI.
for f in tx rx evq; do
	ping_start 20 "fault-$f"
	vi_snap
	say "fault $f"
	if [ $f = rx ]; then
		hear POKE || fail "fault rx: no POKE ('$line')"
		ip netns exec "$ext" timeout 10 "$MACFLOOD" -d "$emac" -S "$extmac" eth0 1 >/dev/null
		say poked
	fi
	hear RESULT || fail "fault $f: no RESULT ('$line')"
	vi_now
	ping_end "fault-$f"
	after "fault $f"
	check "[ \"\$(field fault)\" != 0 ]" "fault $f: the NIC disabled evil's VI (fault $(field fault))"
	check "[ \"\$(jget vi_fault <<<\"\$vi1\")\" = \"\$(field fault)\" ] && [ \"\$(vd faults)\" = 1 ]" \
		"fault $f: the NIC counts it for evil's VI $(jget vi_id <<<"$vi1"): fault $(jget vi_fault <<<"$vi1"), +$(vd faults) faults"
	P accel "$edom" 0 off >/dev/null
	hear VIDOWN 15 || fail "fault $f: no VIDOWN after accel off ('$line')"
	P accel "$edom" 0 on pvnic >/dev/null
	hear VI 20 || fail "fault $f: no new VI after accel on ('$line')"
done
attack "legit 20" 20
after "new VI"

kill -INT "$td_pid"
wait "$td_pid" 2>/dev/null
td_pid=
# pcount FILE [FILTER]: frames in a capture (tcpdump adds hex lines for unknown EtherTypes)
pcount() { tcpdump -r "$1" -n ${2:+"$2"} 2>/dev/null | grep -c '^[0-9]'; }
leaked=$(pcount "$run/ext.pcap" "not ether src $emac")
own=$(pcount "$run/ext.pcap" "ether src $emac and not ip")
check "[ \"$leaked\" = 0 ]" "ext never saw a spoofed source: $leaked frames not from evil's MAC (of them from evil's TSO address: $(pcount "$run/ext.pcap" "not ether src $emac and ip"))"
# 260 of the legit, inject... modes; 3 of chains (the 41st descriptor, the held chain, the frame after it)
check "[ \"$own\" = 263 ]" "ext saw each of evil's 263 valid frames to it once (control: $own)"
# chains' TSO chain: as 8 segments of 1000 bytes (mss 1000; GRO in ext may merge some) or one GSO frame
tso_n=$(pcount "$run/ext.pcap" "ether src $emac and ip")
tso_b=$(tcpdump -r "$run/ext.pcap" -n "ether src $emac and tcp" 2>/dev/null |
	sed -n 's/.* length \([0-9]*\)$/\1/p' | awk '{ s += $1 } END { print s + 0 }')
check "[ \"$tso_n\" -ge 1 ] && [ \"$tso_n\" -le 8 ] && [ \"$tso_b\" = 8000 ]" \
	"ext got evil's one TSO frame: $tso_n frames, $tso_b TCP payload bytes of 8000"
kill -INT "$td1_pid"
wait "$td1_pid" 2>/dev/null
td1_pid=
at_g1=$(pcount "$run/g1.pcap")
check "[ \"$at_g1\" = 0 ]" "g1 never received a frame from evil's MAC ($at_g1)"

check "[ \"\$(accel_state $d1)\" = 4 ] && [ \"\$(vstat $d1 fatal)\" = 0 ]" "g1 still accelerated, its vif never disabled"
lines=$(wc -l <"$run/nicd.log")
check "[ \"$lines\" -lt 2000 ]" "pvnet-nicd's log rate-limited: $lines lines for ~$((nr_bufs + 300)) refusals"

# The end: evil SIGKILLed in the middle of a flood (its event queue full,
# its TX ring full, RX buffers posted).
say "evqstall 10"
sleep 1
evil_pid=
for p in $(ip netns pids "$evns"); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = evil_vi ] && evil_pid=$p
done
check "[ -n \"$evil_pid\" ]" "evil_vi is flooding when killed (pid $evil_pid)"
# What the NIC and evil's VI hold at the kill, read twice alike.
kill_snap() {
	occ_k=$(occupancy) evf=$(ashow "$edom" vi_nr_filters)
	[ "$(occupancy)" = "$occ_k" ] && [ "$(ashow "$edom" vi_nr_filters)" = "$evf" ]
}
wait_for 3 kill_snap
read -r vk bk fk <<<"$occ_k"
[ -n "$evil_pid" ] && kill -KILL "$evil_pid"
wait "$ev_pid" 2>/dev/null
ev_pid=
wait_for 5 "! P vif-list | grep -q '^vif$edom\.0 '"
check "! P vif-list | grep -q '^vif$edom\.0 '" "evil's vif gone after it was killed"
# The VIs and buffers of before evil came; exactly evil's filter fewer, the
# rest g1's (the host VI holds none).
gone() {
	local v b f
	read -r v b f <<<"$(occupancy)"
	[ "$v" = "$v0" ] && [ "$b" = "$b0" ] && [ "$f" = $((fk - ${evf:-0})) ] &&
		[ "$f" = "$(ashow "$d1" vi_nr_filters)" ]
}
wait_for 5 gone
now=$(occupancy)
check "gone && [ '${evf:-}' = 1 ] && [ $((vk - 1)) = $v0 ] && [ $((bk - NBUF)) = $b0 ]" \
	"the NIC holds the VIs and buffers of before evil came, and evil's ${evf:-none} filter fewer: $now (before evil: $before; at the kill: $occ_k; g1's filters: $(ashow "$d1" vi_nr_filters))"
check "kill -0 $pvnetd_pid && kill -0 $nicd_pid" "pvnetd and pvnet-nicd alive at the end"
finish
