#!/usr/bin/env bash
# accel_plugin.sh - the pvnic pair loaded as a shared object: pvnetd and
# pvnet-front both take build/lib/pvnet-accel-pvnic.so (--accel-plugin),
# built against include/pvnet/ only, in place of their built-in pvnic; an
# accelerated guest's traffic goes through its VI (the VI's counters grow,
# netback's hardly).  Plugins the hosts must refuse, with a clear error and
# a non-zero exit, before anything starts: one built for accel.h 2.0, a
# shared object without the entry symbol, a path that does not exist, and
# the same plugin twice.
#
#  g1 (netns)                       host (netns)                         ext (netns)
#  ┌──────────────────────────┐    ┌─────────────────────────────┐
#  │ pvnet-front              │<══>│ pvnetd --nic                │  ┌────────────┐   ┌─────────┐
#  │  --accel-plugin .so      │    │  --accel-plugin .so         │─>│ pvnet-nicd │══>│ iperf3  │
#  │  (pvnic front, loaded) ══│════│═ VI (fast path) ════════════│═>│  --port up0│   │ .100    │
#  └──────────────────────────┘    └─────────────────────────────┘  └────────────┘   └─────────┘
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need iperf3 ping timeout
[ -x "$BUILD/pvnet-nicd" ] || { skip "accel_plugin.sh: no pvnet-nicd"; exit 0; }
so=$BUILD/lib/pvnet-accel-pvnic.so
bad_version=$BUILD/tests/plugins/bad_version.so
bad_nosym=$BUILD/tests/plugins/bad_nosym.so
[ -f "$so" ] && [ -f "$bad_version" ] && [ -f "$bad_nosym" ] ||
	{ fail "accel_plugin.sh: plugins not built (make all)"; exit 1; }

host_begin ap

# ---- refused plugins: rc != 0 and a clear error, from both hosts ----------
# refused HOST WHAT PATTERN PATHS...: HOST (pvnetd or pvnet-front) given
# --accel-plugin for each PATH exits non-zero within 10 s, saying PATTERN.
refused() {
	local host=$1 what=$2 pat=$3 args=() p rc out; shift 3
	for p in "$@"; do args+=(--accel-plugin "$p"); done
	mkdir -p "$run/bad"
	out=$(timeout 10 "$BUILD/$host" --run-dir "$run/bad" "${args[@]}" 2>&1 </dev/null)
	rc=$?
	echo "$host, $what: rc $rc: $(grep -m1 -i 'accel plugin' <<<"$out")"
	check "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qE -- \"\$pat\" <<<\"\$out\"" \
		"$host refuses $what (rc $rc, says why)"
}
for h in pvnetd pvnet-front; do
	refused "$h" "a plugin built for accel.h 2.0" \
		"accel plugin .*bad_version.so: refused: built for another accel.h version \(front 2.0" \
		"$bad_version"
	refused "$h" "a shared object without the entry symbol" \
		"accel plugin .*bad_nosym.so: no entry symbol 'pv_accel_plugin'" "$bad_nosym"
	refused "$h" "a path that does not exist" \
		"accel plugin $run/none.so: cannot load: .*No such file" "$run/none.so"
	refused "$h" "the same plugin twice" "a plugin 'pvnic' is loaded already" "$so" "$so"
done
check "[ ! -e '$run/bad/pvnetd.pid' ] && [ ! -e '$run/bad/hv.sock' ]" \
	"a refused plugin stops pvnetd before it serves anything"

# ---- the loaded pair on the fast path --------------------------------------
host_netns g1 g2
start_nicd "$hostns" "$nicdir" up0 "$run/nicd.log" || die "pvnet-nicd did not start"
host_pvnetd --nic "$nicdir" --log-level debug --accel-plugin "$so" || die "pvnetd did not start"
start_guest "$g1" g1 198.18.0.1 --accel-plugin "$so"
start_guest "$g2" g2 198.18.0.2
check "grep -q \"accel plugin 'pvnic' loaded from $so\" '$run/pvnetd.log' &&
	grep -q \"accel plugin 'pvnic' loaded from $so\" '$run/g1.log'" \
	"pvnetd and g1's pvnet-front say they loaded pvnic from $(basename "$so")"
check "grep -q '$so' /proc/$pvnetd_pid/maps && grep -q '$so' /proc/$front_pid_g1/maps &&
	! grep -q '$so' /proc/$front_pid_g2/maps" \
	"the shared object is mapped in pvnetd and g1 (and not in g2, built-in)"
check "wait_for 10 \"ip netns exec '$g1' ping -c1 -W1 198.18.0.100 >/dev/null 2>&1\"" \
	"slow path: g1 reaches ext through the NIC's host VI"
d1=$(domid_of g1)

accel_state() { P --json accel "$d1" 0 show | jget accelstate; }
ashow() { P --json accel "$d1" 0 show | jget "$1"; }
P accel "$d1" 0 on pvnic >/dev/null
check "wait_for 10 \"[ \\\"\\\$(accel_state)\\\" = 4 ]\"" \
	"the loaded plugin takes g1's vif to Connected (both halves)"
check "grep -q \"vif$d1.0: accelerator 'pvnic' attached\" '$run/g1.log'" \
	"g1's netfront attached the loaded frontend half"
P accel "$d1" 0 show

ip netns exec "$g1" timeout 10 ping -c 5 -i 0.2 198.18.0.100 >/dev/null
tx0=$(vstat "$d1" tx_bytes); txp0=$(vstat "$d1" tx_packets)
vb0=$(ashow vi_tx_bytes); vf0=$(ashow vi_tx_frames); vr0=$(ashow vi_rx_frames)
ip netns exec "$ext" iperf3 -s -1 -D -I "$run/iperf.pid" >/dev/null 2>&1
sleep 0.3
out=$(ip netns exec "$g1" timeout 20 iperf3 -c 198.18.0.100 -t 3 -J 2>/dev/null)
got=$(awk '/"sum_received"/ {r=1} r && /"bytes"/ {gsub(/,/,""); print $2; exit}' <<<"$out")
tx1=$(vstat "$d1" tx_bytes); txp1=$(vstat "$d1" tx_packets)
vb1=$(ashow vi_tx_bytes); vf1=$(ashow vi_tx_frames); vr1=$(ashow vi_rx_frames)
echo "iperf3 bytes received by ext: ${got:-0}; netback tx of g1's vif: +$((tx1 - tx0)) bytes," \
	"+$((txp1 - txp0)) frames; VI tx: +$((${vb1:-0} - ${vb0:-0})) bytes," \
	"+$((${vf1:-0} - ${vf0:-0})) frames, VI rx +$((${vr1:-0} - ${vr0:-0})) frames"
check "[ \"\${got:-0}\" -gt 1000000 ]" "TCP g1 -> ext over the loaded plugin moves data (${got:-0} bytes)"
check "[ -n \"\${vb1:-}\" ] && [ $(( (${vb1:-0} - ${vb0:-0}) * 10 )) -ge $(( ${got:-0} * 9 )) ]" \
	"the VI's counters grew: they carried >= 90% of it (+$((${vb1:-0} - ${vb0:-0})) bytes)"
check "[ $((tx1 - tx0)) -lt $(( ${got:-0} / 20 )) ]" \
	"netback carried < 5% of it (+$((tx1 - tx0)) bytes)"
check "[ $(( ${vr1:-0} - ${vr0:-0} )) -gt 100 ]" \
	"ext's ACKs arrive on the VI (+$(( ${vr1:-0} - ${vr0:-0} )) frames)"
check "kill -0 $pvnetd_pid && kill -0 $front_pid_g1" "pvnetd and g1 still running"
finish
