#!/usr/bin/env bash
# metrics.sh - pvnetd --metrics: GET /metrics in Prometheus text format
# (promtool check metrics accepts it), every vif-stats counter of a vif equal
# to `pvnetctl --json vif-stats` once traffic has stopped, daemon and bridge
# values equal to `pvnetctl --json status`, HEAD/404/405, a bad --metrics
# refused (rc 2), a port in use refused (rc 1), off by default, the port
# freed when pvnetd stops.
#
#  guest g1 (netns)           host (netns)                        ext (netns)
#  ┌─────────────────┐  rings ┌──────────────────────────────┐    ┌──────────────┐
#  │ eth0 198.18.0.1 │<══════>│ pvnetd  netback vif<g1>.0    │    │ eth0         │
#  │ pvnet-front     │        │         netback vif<g2>.0    │    │ 198.18.0.100 │
#  └─────────────────┘        │         bridge, uplink up0 ══│════│              │
#  ┌─────────────────┐  rings │  --metrics 127.0.0.1:PORT    │veth└──────────────┘
#  │ eth0 198.18.0.2 │<══════>│    <── curl, in host's netns │
#  │ pvnet-front     │        └──────────────────────────────┘
#  └─────────────────┘
#  IPv6 off in the guests and ext, so that nothing but the test's own
#  traffic moves the counters.
set -u
. "$(dirname "$0")/../lib/common.sh"

# ---- argument checks: no namespaces needed ----
tmp=$(mktemp -d /tmp/pvnet-metrics-args.XXXXXX) || { fail "mktemp"; exit 1; }
for bad in "" foo 127.0.0.1 127.0.0.1: 127.0.0.1:0 127.0.0.1:65536 127.0.0.1:-1 \
	localhost:9477 ::1:9477 "[127.0.0.1]:9477" 1.2.3:9477 "127.0.0.1:94x7"; do
	out=$(timeout 10 "$BUILD"/pvnetd --run-dir "$tmp/r" --metrics "$bad" 2>&1)
	rc=$?
	check "[ $rc -eq 2 ] && grep -q \"bad --metrics '\" <<<\"\$out\" && grep -qE 'want|bad (port|address)' <<<\"\$out\"" \
		"--metrics '$bad' refused: rc 2 ($rc), says why ($(head -n1 <<<"$out"))"
done
check "[ ! -e '$tmp/r/pvnetd.pid' ]" "a refused --metrics starts nothing"
rm -rf "$tmp"
check "\"\$BUILD\"/pvnetd --help | grep -q -- '--metrics ADDR:PORT'" "--help shows --metrics ADDR:PORT"

need_root
need curl python3 ss timeout ping
host_begin metrics
port=$(( 20000 + 0x$RUNID % 20000 ))
url="http://127.0.0.1:$port/metrics"
H() { ip netns exec "$hostns" timeout 10 curl -sS "$@"; }

host_netns g1 g2
for ns in "$g1" "$g2" "$ext"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
host_pvnetd --uplink up0 --metrics "127.0.0.1:$port" || die "pvnetd --metrics starts"
pass "pvnetd starts with --metrics 127.0.0.1:$port"
check "grep -q 'metrics on http://127.0.0.1:$port/metrics' '$run/pvnetd.log'" "pvnetd logs where it serves metrics"

# A second pvnetd wanting the same port: refused, rc 1, says so.
out=$(ip netns exec "$hostns" timeout 10 "$BUILD"/pvnetd --run-dir "$run/second" --metrics "127.0.0.1:$port" 2>&1)
rc=$?
check "[ $rc -eq 1 ] && grep -q 'metrics on 127.0.0.1:$port: Address already in use' <<<\"\$out\"" \
	"port in use: refused with rc 1 ($rc) and the reason"
check "[ ! -e '$run/second/pvnetd.pid' ] && [ ! -e '$run/second/ctl.sock' ]" "the refused pvnetd left nothing running"
check "kill -0 $pvnetd_pid && H -o /dev/null -w '%{http_code}' '$url' | grep -qx 200" \
	"the first pvnetd still serves its metrics"

start_guest "$g1" g1 198.18.0.1
start_guest "$g2" g2 198.18.0.2
d1=$(domid_of g1); d2=$(domid_of g2)
check "[ -n '$d1' ] && [ -n '$d2' ] && [ '$d1' != '$d2' ]" "guests registered (domids $d1, $d2)"
wait_for 10 "[ \"\$(vstat $d1 connected)\" = 1 ] && [ \"\$(vstat $d2 connected)\" = 1 ]" ||
	die "vifs connect"

# Traffic: guest to guest, guest to ext, and a burst of broadcasts (floods).
check "ip netns exec '$g1' timeout 20 ping -q -c 50 -i 0.01 -W 2 198.18.0.2 >/dev/null" "traffic: ping g1 -> g2"
check "ip netns exec '$g2' timeout 20 ping -q -c 20 -i 0.01 -s 1400 -W 2 198.18.0.100 >/dev/null" "traffic: ping g2 -> ext"
ip netns exec "$g1" timeout 10 ping -q -b -c 5 -i 0.05 -W 1 198.18.0.255 >/dev/null 2>&1
sleep 0.5	# the last replies and ARP settle

# One scrape between two identical vif-stats and status readings: nothing
# moved meanwhile, so the page must hold exactly those values.
snap() { # N: vif-stats of both vifs and status into $run/snap.N.*
	P --json vif-stats "$d1" 0 >"$run/snap.$1.v1" && P --json vif-stats "$d2" 0 >"$run/snap.$1.v2" &&
		P --json status >"$run/snap.$1.st"
}
quiet=0
for try in 1 2 3 4 5; do
	snap a || die "pvnetctl vif-stats"
	H -o "$run/metrics.txt" "$url" || die "curl $url"
	snap b || die "pvnetctl vif-stats"
	if cmp -s "$run/snap.a.v1" "$run/snap.b.v1" && cmp -s "$run/snap.a.v2" "$run/snap.b.v2" &&
		[ "$(grep -v uptime "$run/snap.a.st")" = "$(grep -v uptime "$run/snap.b.st")" ]; then
		quiet=1; break
	fi
	echo "# counters moved during scrape $try: again"
	sleep 1
done
check "[ $quiet = 1 ]" "counters still while scraping (try $try)"

if command -v promtool >/dev/null 2>&1; then
	out=$(promtool check metrics <"$run/metrics.txt" 2>&1)
	rc=$?
	check "[ $rc -eq 0 ]" "promtool check metrics accepts the page${out:+: $(head -c 300 <<<"$out")}"
else
	skip "promtool check metrics: promtool not installed (Debian package prometheus)"
fi

# cmp.py METRICS VIFSTATS DOMID NAME: every numeric vif-stats key of the vif
# is a sample pvnet_vif_KEY_total (counters) or pvnet_vif_KEY (gauges) with
# labels domid, devid=0, vif, domain=NAME, of the same value; prints one
# "ok"/"bad" line per key.
cat >"$run/cmp.py" <<'EOF'
import json, re, sys
text, stats, domid, name = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4]
samples, types = {}, {}
for line in text.splitlines():
    m = re.match(r'# TYPE (\S+) (\S+)$', line)
    if m:
        types[m.group(1)] = m.group(2)
    if line.startswith('#') or not line:
        continue
    m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
    if not m:
        print("bad line %r" % line); continue
    labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ''))
    samples.setdefault(m.group(1), []).append((labels, m.group(4)))
want = {'domid': domid, 'devid': '0', 'vif': 'vif%s.0' % domid, 'domain': name}
n = 0
for k, v in stats.items():
    if not isinstance(v, int):
        continue
    n += 1
    found = []
    for metric in ('pvnet_vif_%s_total' % k, 'pvnet_vif_%s' % k):
        for labels, val in samples.get(metric, []):
            if all(labels.get(a) == b for a, b in want.items()):
                found.append((metric, val))
    if len(found) != 1:
        print("bad %s: %d samples for the vif %s" % (k, len(found), found)); continue
    metric, val = found[0]
    kind = types.get(metric)
    if kind != ('counter' if metric.endswith('_total') else 'gauge'):
        print("bad %s: %s has TYPE %s" % (k, metric, kind)); continue
    print("%s %s: vif-stats %d, %s %s" % ("ok" if str(v) == val else "bad", k, v, metric, val))
print("keys %d" % n)
EOF
for g in "g1 $d1 v1" "g2 $d2 v2"; do
	read -r name d f <<<"$g"
	out=$(python3 "$run/cmp.py" "$run/metrics.txt" "$run/snap.a.$f" "$d" "$name")
	nkeys=$(sed -n 's/^keys //p' <<<"$out")
	bad=$(grep -c '^bad' <<<"$out")
	grep '^bad' <<<"$out" | head -n 5
	check "[ '$bad' = 0 ] && [ '${nkeys:-0}' -ge 25 ]" \
		"vif$d.0 ($name): all $nkeys numeric vif-stats values equal in /metrics"
done
rx1=$(jget rx_packets <"$run/snap.a.v2")
check "[ '${rx1:-0}' -ge 50 ] && grep -qE '^pvnet_vif_rx_packets_total\\{domid=\"$d2\",devid=\"0\",vif=\"vif$d2.0\",domain=\"g2\"\\} $rx1\$' '$run/metrics.txt'" \
	"g2's rx_packets_total is its traffic ($rx1 frames, labels domid devid vif domain)"

# Daemon and bridge values against status.
mval() { awk -v m="$1" '$1 == m { print $2 }' "$run/metrics.txt"; }
st() { jget "$1" <"$run/snap.a.st"; }
for pair in domains:domains domains_registered:domains_registered_total \
	bridge_forwards:bridge_forwards_total bridge_floods:bridge_floods_total \
	bridge_entries:bridge_entries xs_requests:xs_requests_total grant_maps:grant_maps_total; do
	k=${pair%%:*} m=pvnet_${pair#*:}
	check "[ -n \"\$(st $k)\" ] && [ \"\$(st $k)\" = \"\$(mval $m)\" ]" "status $k = $m ($(st "$k") / $(mval "$m"))"
done
check "[ \"\$(mval pvnet_vifs)\" = 2 ]" "pvnet_vifs 2"
check "[ \"\$(st bridge_floods)\" -gt 0 ]" "the broadcasts were flooded (bridge_floods $(st bridge_floods))"
check "grep -qE '^pvnet_port_rx_packets_total\\{port=\"uplink:up0\",kind=\"uplink\"\\} [1-9]' '$run/metrics.txt'" \
	"the uplink's port counters are there, with traffic"
check "grep -qE '^pvnet_vif_accel_attached\\{domid=\"$d1\",.*\\} 0$' '$run/metrics.txt'" \
	"accelerator state per vif (none attached: 0)"
up=$(mval pvnet_uptime_seconds); stu=$(st uptime_s)
check "[ -n '$up' ] && [ \$(( $up - ${stu:-0} )) -ge -1 ] && [ \$(( $up - ${stu:-0} )) -le 1 ]" "uptime agrees with status ($up / $stu)"
n_help=$(grep -c '^# HELP ' "$run/metrics.txt"); n_type=$(grep -c '^# TYPE ' "$run/metrics.txt")
check "[ $n_help -gt 50 ] && [ $n_help = $n_type ]" "a HELP and a TYPE line per family ($n_help, $n_type)"
check "awk '/^# TYPE / { if ((\$4 == \"counter\") != (\$3 ~ /_total\$/)) bad++ } END { exit bad > 0 }' '$run/metrics.txt'" \
	"counters end in _total, gauges do not"

# HTTP behaviour.
# HEAD by hand (curl -I would not read a body if one came): headers, then nothing.
ip netns exec "$hostns" timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port &&
	printf 'HEAD /metrics HTTP/1.0\\r\\nHost: t\\r\\n\\r\\n' >&3 && cat <&3" >"$run/head.raw"
check "head -n1 '$run/head.raw' | grep -q '^HTTP/1.1 200' && grep -qi '^Content-Type: text/plain; version=0.0.4' '$run/head.raw' && [ \"\$(tail -c 4 '$run/head.raw' | od -An -c | tr -d ' ')\" = '\\r\\n\\r\\n' ]" \
	"HEAD /metrics: 200, the exposition Content-Type, no body"
check "[ \"\$(H -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/)\" = 404 ] && [ \"\$(H -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/metricsx)\" = 404 ]" \
	"other paths: 404"
check "[ \"\$(H -o /dev/null -w '%{http_code}' -X POST -d x=1 '$url')\" = 405 ]" "POST /metrics: 405"
# A client that connects and sends nothing does not hold pvnetd's loop.
ip netns exec "$hostns" timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; sleep 4" &
idle=$!
sleep 0.3
check "[ \"\$(P --json status | jget domains)\" = 2 ] && H -o /dev/null '$url'" \
	"a silent HTTP client stalls neither ctl.sock nor other scrapes"
wait "$idle" 2>/dev/null
check "ip netns exec '$g1' timeout 10 ping -q -c 3 -i 0.2 -W 2 198.18.0.2 >/dev/null" "guests still talk"

# Stopping frees the port; without --metrics nothing listens on TCP.
stop_pvnetd "$run"
wait_for 5 "! kill -0 $pvnetd_pid 2>/dev/null"
check "[ -z \"\$(ip netns exec '$hostns' ss -Hltn)\" ]" "pvnetd stopped: its metrics port is closed"
host_pvnetd --uplink up0 || die "pvnetd restarts"
check "[ -z \"\$(ip netns exec '$hostns' ss -Hltn)\" ]" "metrics off by default: no TCP listener without --metrics"

# ---- with the NIC: an accelerated vif's state, the NIC port, pvnic ----
if [ ! -x "$BUILD/pvnet-nicd" ]; then
	skip "metrics with --nic: no pvnet-nicd"
	finish
fi
stop_pvnetd "$run"
for g in g1 g2; do v="front_pid_$g"; kill -TERM "${!v}" 2>/dev/null; done
wait_for 5 "! ip -n '$g1' link show eth0 >/dev/null 2>&1 && ! ip -n '$g2' link show eth0 >/dev/null 2>&1"
start_nicd "$hostns" "$nicdir" up0 "$run/nicd.log" || die "pvnet-nicd did not start"
host_pvnetd --nic "$nicdir" --metrics "$port" || die "pvnetd --nic --metrics PORT starts"
start_guest "$g1" g1 198.18.0.1
d1=$(domid_of g1)
wait_for 10 "[ \"\$(vstat $d1 connected)\" = 1 ]" || die "g1's vif connects"
P accel "$d1" 0 on pvnic >/dev/null
check "wait_for 10 \"[ \\\"\\\$(P --json accel $d1 0 show | jget accelstate)\\\" = 4 ]\"" "g1's acceleration reaches Connected"
ip netns exec "$g1" timeout 10 ping -q -c 5 -i 0.2 198.18.0.100 >/dev/null
H -o "$run/metrics2.txt" "$url" || die "curl $url (bare PORT: 127.0.0.1)"
if command -v promtool >/dev/null 2>&1; then
	out=$(promtool check metrics <"$run/metrics2.txt" 2>&1)
	check "[ $? -eq 0 ]" "promtool check metrics accepts the page with the NIC${out:+: $(head -c 300 <<<"$out")}"
fi
lab="domid=\"$d1\",devid=\"0\",vif=\"vif$d1.0\",domain=\"g1\""
has() { grep -qxF "$1" "$run/metrics2.txt"; }
check "has 'pvnet_vif_accel_attached{$lab} 1' && has 'pvnet_vif_accel_state{$lab} 4'" \
	"accelerated vif: attached 1, accelstate 4 (Connected)"
check "has 'pvnet_vif_accel_info{$lab,plugin=\"pvnic\",nic=\"pvnic\"} 1'" "accel_info names plugin and NIC"
check "has 'pvnet_vif_fastpath_ready{$lab} 1' && has 'pvnet_vif_fastpath_frontend_connected{$lab} 1'" \
	"the fast path is ready and the frontend connected"
fl=$(P --json accel "$d1" 0 show | jget filter_installs)
check "[ -n '$fl' ] && has 'pvnet_vif_accel_filter_installs_total{$lab} $fl'" \
	"filter installs as pvnetctl accel show says ($fl)"
check "has 'pvnet_nicport_connected 1' && has 'pvnet_pvnic_nic_up 1' && has 'pvnet_pvnic_live_vifs 1'" \
	"NIC port connected, pvnic backend up with one vif"
check "grep -qE '^pvnet_port_rx_packets_total\\{port=\"nic:[^\"]*\",kind=\"uplink\"\\} [1-9]' '$run/metrics2.txt'" \
	"the NIC's switch port has traffic"
finish
