#!/usr/bin/env bash
# demo.sh - pvnet's main job: a host (pvnetd and the NIC, pvnet-nicd) with
# two guests and an external host; traffic on the slow path, then the same
# guest-to-external and external-to-guest flows on the fast path; a third
# guest at MTU 9000 receiving from the external host on both paths (the
# port and the external host run at MTU 9000, the other guests at 1500);
# then a live migration between two hosts on one wire (tests/lib/hosts.sh)
# under a TCP stream and 1 ms pings, there and back; a short report; teardown.
#
#  guest g1 (netns)           host (netns)                                   external (netns)
#  +----------------+  rings  +--------------------------+ host VI +-------------+    +--------------+
#  | eth0 198.18.0.1|<=======>| pvnetd: netback, bridge  |-------->| pvnet-nicd  |    | eth0         |
#  | pvnet-front    |         |  pvnic backend (control) |-------->|  VIs,       |====| 198.18.0.100 |
#  |  + pvnic front |=========|==== its own VI (fast path, bypassing pvnetd) ==>|  filters    |veth| iperf3, ping |
#  +----------------+         |                          |         |  port up0   |    +--------------+
#  +----------------+  rings  |                          |         +-------------+
#  | eth0 198.18.0.2|<=======>|                          |
#  +----------------+         |                          |
#  | g3, mtu 9000   |<=======>|                          |
#  | eth0 198.18.0.3|         +--------------------------+
#  +----------------+
#  (198.18.0.0/15 is the range set aside for benchmarking network devices.)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. tests/lib/common.sh
. tests/lib/hosts.sh
BUILD=$top/${PVNET_BUILD:-build}
SECS=${DEMO_SECS:-5}

[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespaces, TAP devices)"; exit 1; }
run=$(mktemp -d /tmp/pvnet-demo.XXXXXX)
report=$run/report.txt
cleanup() {
	[ -n "${hostns:-}" ] && ip netns exec "$hostns" true 2>/dev/null && stop_pvnetd "$run"
	ns_cleanup
	rm -rf "$run"
}
trap cleanup EXIT
trap 'echo; echo "interrupted: tearing down"; exit 130' INT TERM

say() { printf '%s\n' "$*" | tee -a "$report"; }
die() { echo "demo: $*" >&2; for f in "$run"/*.log; do echo "--- $f"; tail -n 20 "$f"; done >&2; exit 1; }

mk_ns hostns host && mk_ns g1 g1 && mk_ns g2 g2 && mk_ns g3 g3 && mk_ns ext ext ||
	die "cannot create namespaces"
veth_pair "$hostns" up0 "$ext" eth0 || die "cannot create the uplink veth"
# The wire at MTU 9000 (pvnet-nicd reads its port's MTU at start); guests choose theirs.
ip -n "$hostns" link set up0 mtu 9000 && ip -n "$ext" link set eth0 mtu 9000 || die "MTU 9000 on the wire"
ip -n "$ext" addr add 198.18.0.100/24 dev eth0
ip -n "$ext" addr add 2001:db8::100/64 dev eth0 nodad

start_nicd "$hostns" "$run/nic" up0 "$run/nicd.log" || die "pvnet-nicd did not start"
ip netns exec "$hostns" "$BUILD"/pvnetd --run-dir "$run" --nic "$run/nic" 2>"$run/pvnetd.log" &
wait_for 5 "[ -S '$run/ctl.sock' ]" || die "pvnetd did not start"
track_pid "$(cat "$run/pvnetd.pid")"

start_guest() { # NS NAME IP4 IP6 [pvnet-front ARGS]
	ip netns exec "$1" "$BUILD"/pvnet-front --run-dir "$run" --name "$2" --ifname eth0 "${@:5}" \
		2>"$run/$2.log" &
	track_pid $!
	wait_for 10 "ip -n '$1' link show eth0 >/dev/null 2>&1" || die "$2: no eth0"
	ip -n "$1" addr add "$3/24" dev eth0
	ip -n "$1" addr add "$4/64" dev eth0 nodad
	ip -n "$1" link set eth0 up
}
start_guest "$g1" g1 198.18.0.1 2001:db8::1
start_guest "$g2" g2 198.18.0.2 2001:db8::2
start_guest "$g3" g3 198.18.0.3 2001:db8::3 --mtu 9000
wait_for 10 "ip netns exec '$g1' ping -c1 -W1 198.18.0.2 >/dev/null 2>&1" || die "g1 cannot reach g2"

: >"$report"
say "pvnet demo, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, kernel $(uname -r)"
say ""
rtt() { # NS DST: prints "avg/p99-ish" from 20 pings
	ip netns exec "$1" ping -c 20 -i 0.05 -q "$2" 2>/dev/null | awk -F'/' '/^rtt/ {printf "%s ms avg, %s ms max", $5, $6}'
}
tput_tcp() { # CLIENT_NS SERVER_NS SERVER_IP -> Gbit/s
	ip netns exec "$2" iperf3 -s -1 -D -I "$run/iperf.pid" >/dev/null 2>&1
	sleep 0.3
	ip netns exec "$1" iperf3 -c "$3" -t "$SECS" -J 2>/dev/null |
		awk '/"sum_received"/ {r=1} r && /"bits_per_second"/ {gsub(/[,]/,""); printf "%.2f", $2/1e9; exit}'
	kill "$(cat "$run/iperf.pid" 2>/dev/null)" 2>/dev/null
}

say "ping g1 -> g2 (guest to guest, through pvnetd):   $(rtt "$g1" 198.18.0.2)"
say "ping g1 -> external (through the NIC host VI):  $(rtt "$g1" 198.18.0.100)"
say "ping6 g2 -> external (IPv6, neighbour discovery): $(rtt "$g2" 2001:db8::100)"
say "TCP g1 -> g2 (iperf3, ${SECS}s):                     $(tput_tcp "$g1" "$g2" 198.18.0.2) Gbit/s"
say "TCP g1 -> external (iperf3, ${SECS}s):               $(tput_tcp "$g1" "$ext" 198.18.0.100) Gbit/s"
say "TCP external -> g2 (iperf3, ${SECS}s):               $(tput_tcp "$ext" "$g2" 198.18.0.2) Gbit/s"
pvnetd_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' \
	"/proc/$(cat "$run/pvnetd.pid")/stat"; }
vif_tx() { "$BUILD"/pvnetctl -r "$run" --json vif-stats "$1" 0 | sed -n 's/.*"tx_bytes": \([0-9]*\).*/\1/p'; }
d1=$("$BUILD"/pvnetctl -r "$run" --json domain-list | sed -n 's/.*"domid": \([0-9]*\), "name": "g1".*/\1/p')
vif_rx() { "$BUILD"/pvnetctl -r "$run" --json vif-stats "$1" 0 | sed -n 's/.*"rx_bytes": \([0-9]*\).*/\1/p'; }
vi_bytes() { "$BUILD"/pvnetctl -r "$run" --json accel "$1" 0 show | sed -n "s/.*\"vi_$2_bytes\": \([0-9]*\).*/\1/p"; }
accel_on() { # DOMID: acceleration on, Connected, the external host learned on the VI
	"$BUILD"/pvnetctl -r "$run" accel "$1" 0 on pvnic >/dev/null
	wait_for 10 "\"$BUILD\"/pvnetctl -r '$run' --json accel $1 0 show | grep -q '\"accelstate\": \"4\"'" ||
		die "acceleration did not come up"
}
mb() { echo $(( (${2:-0} - ${1:-0}) / 1000000 )); }
d1=$("$BUILD"/pvnetctl -r "$run" --json domain-list | sed -n 's/.*"domid": \([0-9]*\), "name": "g1".*/\1/p')
d3=$("$BUILD"/pvnetctl -r "$run" --json domain-list | sed -n 's/.*"domid": \([0-9]*\), "name": "g3".*/\1/p')
cpu() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
say ""
say "The same flows, g1 <-> external, on each path (pvnetd's CPU time, and the bytes netback and g1's VI carried):"
c0=$(pvnetd_cpu); b0=$(vif_tx "$d1")
t=$(tput_tcp "$g1" "$ext" 198.18.0.100)
c1=$(pvnetd_cpu); b1=$(vif_tx "$d1")
say "  slow path, g1 -> external: $t Gbit/s, pvnetd CPU $(cpu "$c0" "$c1") s, via netback $(mb "$b0" "$b1") MB"
c0=$(pvnetd_cpu); b0=$(vif_rx "$d1")
t=$(tput_tcp "$ext" "$g1" 198.18.0.1)
c1=$(pvnetd_cpu); b1=$(vif_rx "$d1")
say "  slow path, external -> g1: $t Gbit/s, pvnetd CPU $(cpu "$c0" "$c1") s, via netback $(mb "$b0" "$b1") MB"
accel_on "$d1"
ip netns exec "$g1" ping -c 3 -i 0.2 -q 198.18.0.100 >/dev/null	# learn ext on the fast path
c0=$(pvnetd_cpu); b0=$(vif_tx "$d1"); v0=$(vi_bytes "$d1" tx)
t=$(tput_tcp "$g1" "$ext" 198.18.0.100)
c1=$(pvnetd_cpu); b1=$(vif_tx "$d1"); v1=$(vi_bytes "$d1" tx)
say "  fast path, g1 -> external: $t Gbit/s, pvnetd CPU $(cpu "$c0" "$c1") s, via netback $(mb "$b0" "$b1") MB, via the VI $(mb "$v0" "$v1") MB"
c0=$(pvnetd_cpu); b0=$(vif_rx "$d1"); v0=$(vi_bytes "$d1" rx)
t=$(tput_tcp "$ext" "$g1" 198.18.0.1)
c1=$(pvnetd_cpu); b1=$(vif_rx "$d1"); v1=$(vi_bytes "$d1" rx)
say "  fast path, external -> g1: $t Gbit/s, pvnetd CPU $(cpu "$c0" "$c1") s, via netback $(mb "$b0" "$b1") MB, via the VI $(mb "$v0" "$v1") MB"
say ""
say "MTU 9000: g3 (mtu 9000) receiving from the external host (the wire at 9000):"
say "  ping -M do -s 8972 external -> g3: $(ip netns exec "$ext" ping -c 3 -i 0.2 -W 2 -M do -s 8972 -q 198.18.0.3 2>&1 | sed -n 's/.*\([0-9]\) received.*/\1/p')/3 replies"
b0=$(vif_rx "$d3")
t=$(tput_tcp "$ext" "$g3" 198.18.0.3)
b1=$(vif_rx "$d3")
say "  slow path, external -> g3: $t Gbit/s, via netback $(mb "$b0" "$b1") MB"
accel_on "$d3"
ip netns exec "$g3" ping -c 3 -i 0.2 -q 198.18.0.100 >/dev/null
v0=$(vi_bytes "$d3" rx)
t=$(tput_tcp "$ext" "$g3" 198.18.0.3)
v1=$(vi_bytes "$d3" rx)
say "  fast path, external -> g3: $t Gbit/s, via the VI $(mb "$v0" "$v1") MB ($(grep -o 'fast path on (.*)' "$run/g3.log" | tail -1))"
say ""
say "pvnetctl accel $d1 0 show:"
"$BUILD"/pvnetctl -r "$run" accel "$d1" 0 show | tee -a "$report"
say ""
say "pvnetctl vif-list:"
"$BUILD"/pvnetctl -r "$run" vif-list | tee -a "$report"
say ""
say "pvnetctl mac-table:"
"$BUILD"/pvnetctl -r "$run" mac-table | tee -a "$report"
say ""
say "pvnetd CPU time: $(ps -o times= -p "$(cat "$run/pvnetd.pid")" | tr -d ' ') s"

# ---- live migration: two hosts on one wire, a guest moves under traffic ----
#  m1 ═VI═> h1: pvnetd --nic ─ pvnet-nicd up0 ══ h1p ┐
#     │ pvnetctl migrate, and back                 wire: br0 ─ e0 ══ ext eth0 .100
#     └ ─ ─> h2: pvnetd --nic ─ pvnet-nicd up0 ══ h2p ┘  (a TCP stream and 1 ms pings to m1)
# (tests/lib/hosts.sh builds it; its own namespaces and run directories.)
migration() {
	local d from to i t0 r fb srs sn sh rrs rn rh rgap
	run0=$run	# the first part's: wire_begin's EXIT trap (hosts_cleanup) tears it down too
	on_cleanup() { run=$run0; cleanup; }
	RUNID=${RUNID}m	# names of its own beside the first part's (its "ext" too)
	wire_begin demo-mig
	[ -x "$BUILD/pvnet-nicd" ] || die "no pvnet-nicd"
	add_host 1 nic
	add_host 2 nic
	mk_ns m1 m1 || die "namespaces"
	use_host 1
	start_guest "$m1" m1 198.18.0.1 2001:db8::1 --mac 00:16:3e:00:00:11
	ping_ok "$ext" 198.18.0.1 || die "the external host does not reach m1 on host 1"
	d=$("$BUILD"/pvnetctl -r "$run" --json domain-list | grep '"name": "m1"' | jget domid)
	accel_on "$d"
	ip netns exec "$m1" env STREAM_GAP_MS=5 timeout 60 python3 "$top/tests/lib/stream.py" recv "$base/rx" &
	track_pid $!; r=$!
	wait_for 5 "ip netns exec '$m1' ss -ltn | grep -q ':5555 '" || die "stream receiver"
	ip netns exec "$ext" timeout 60 python3 "$top/tests/lib/stream.py" send 198.18.0.1 6 "$base/tx" &
	track_pid $!
	say ""
	say "Live migration: guest m1 (accelerated) on host 1 and host 2, each a pvnetd with its NIC on one"
	say "bridge; the external host sends it a TCP stream and 1 ms pings; pvnetctl migrate moves it:"
	from=${HOST_RUN[1]} to=${HOST_RUN[2]}
	sleep 1
	for i in 1 2; do
		mig_ping_start "$ext" 198.18.0.1 "$base/ping"
		sleep 0.5
		t0=$(date +%s.%N)
		"$BUILD"/pvnetctl -r "$from" migrate "$d" --to "$to" >"$base/mig.out" 2>&1 ||
			{ cat "$base/mig.out" >&2; die "the migration failed"; }
		d=$("$BUILD"/pvnetctl -r "$to" --json domain-list | grep '"name": "m1"' | jget domid)
		run=$to
		fb="not back within 5 s"
		wait_for 5 "\"$BUILD\"/pvnetctl -r '$to' --json accel ${d:-0} 0 show | grep -q '\"accelstate\": \"4\"'" &&
			fb="back $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms after the command"
		sleep 0.5
		set -- $(mig_ping_stop "$base/ping")
		say "  move $i, host $([ "$from" = "${HOST_RUN[1]}" ] && echo "1 -> 2" || echo "2 -> 1"):" \
			"$2 of $1 pings lost, longest gap between replies $3 ms, in the stream $(mig_stream_gap "$base/rx.gaps" "$t0" "$(date +%s.%N)") ms;" \
			"fast path $fb (the pings' longest gap in the half second before: $(mig_ping_gap_before "$base/ping" "$t0") ms)"
		t0=$from; from=$to; to=$t0
	done
	say "  (make bench: 10 moves on each path, p50 and max)"
	wait "$r"
	read -r srs sn sh <"$base/tx" 2>/dev/null
	read -r rrs rn rh rgap <"$base/rx.done" 2>/dev/null
	say "  the stream: ${sn:-?} bytes sent, ${rn:-?} received, sha256 $([ -n "${sh:-}" ] && [ "${sh:-}" = "${rh:-x}" ] && echo "equal: every byte arrived, in order" || echo "DIFFERENT")," \
		"ended ${rrs:-?} (longest pause ${rgap:-?} ms)"
	say "  m1's VI on host 1 now: $("$BUILD"/pvnetctl -r "${HOST_RUN[1]}" --json accel "$d" 0 show | jget vi_rx_bytes) bytes received"
}
migration
echo
echo "demo finished; tearing down"
