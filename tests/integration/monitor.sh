#!/usr/bin/env bash
# monitor.sh - `pvnetctl monitor [--json]` (pvnet/ctl.h, src/back/ctl.c):
# two monitors (text and JSON) watch a guest arrive and connect, its
# acceleration go on and off (when pvnet-nicd is built), a hostile
# frontend (tests/helpers/evil_front, case prod_ahead) disabled with its
# reason, the guest killed; the lines come in that order, both monitors
# saw the same events, every JSON line parses.  A subscriber that does
# not read loses events, counted, and is told ("lost count=N"); pvnetd
# carries on.  Ctrl-C and a closed stdout end a monitor (rc 0); pvnetd
# stopping ends one with rc 0, "pvnetd-stop" last and a message.
#
#  g1 (netns) ==== pvnetd [--nic] ==== up0 ==== ext      evil_front (netns)
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need python3 timeout ping
EVIL=$BUILD/tests/helpers/evil_front
[ -x "$EVIL" ] || { fail "$EVIL not built"; exit 1; }

mons=()
on_cleanup() {
	local p
	for p in "${mons[@]}" ${ev_pid:-}; do kill "$p" 2>/dev/null; done
	return 0
}
host_begin mon
host_netns g1 evns:evil
if [ -x "$BUILD/pvnet-nicd" ] && [ -c /dev/net/tun ]; then
	host_nic_pvnetd
	nic=1
else
	host_pvnetd --uplink up0 || die "pvnetd starts"
	nic=0
fi

# mon FILE [--json]: a monitor in the background, its output in FILE, its rc in FILE.rc.
mon() {
	local f=$1; shift
	( timeout 120 "$BUILD"/pvnetctl -r "$run" monitor "$@" >"$f" 2>"$f.err"; echo $? >"$f.rc" ) &
	mons+=($!)
	wait_for 5 "grep -q subscribed '$f'"
}
mon "$run/mon.txt" || die "text monitor subscribed"
mon "$run/mon.json" --json || die "JSON monitor subscribed"
pass "two monitors subscribed"
check "[ \"\$(P --json status | jget monitor_subscribers)\" = 2 ]" "status counts 2 monitors"

start_guest "$g1" g1 198.18.0.1
d1=$(domid_of g1)
wait_for 10 "grep -q 'vif-state vif$d1.0 backend=Connected frontend=Connected' '$run/mon.txt'"
check "[ \$? = 0 ]" "vif$d1.0 connected: a vif-state line with both ends"
check "grep -q 'domain-arrived dom$d1 name=g1' '$run/mon.txt'" "g1's arrival (dom$d1)"

if [ "$nic" = 1 ]; then
	P accel "$d1" 0 on pvnic >/dev/null
	check "wait_for 10 \"grep -q 'accel-attached vif$d1.0 nic=pvnic' '$run/mon.txt'\"" "accel on: accel-attached"
	check "wait_for 10 \"grep -q 'accel-state vif$d1.0 state=Connected' '$run/mon.txt'\"" "accelstate Connected"
	P accel "$d1" 0 off >/dev/null
	check "wait_for 10 \"grep -q 'accel-detached vif$d1.0 nic=pvnic' '$run/mon.txt'\"" "accel off: accel-detached"
else
	skip "monitor.sh: accel on/off (no pvnet-nicd)"
fi

# A subscriber that never reads: its events beyond its queue are lost,
# counted, and it is told ("lost count=N") before the next event that fits.
python3 - "$run/ctl.sock" "$d1" >"$run/slow.check" 2>&1 <<'EOF'
import socket, sys
path, dom = sys.argv[1], sys.argv[2].encode()
def call(line):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    c.sendall(line)
    ans = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        ans += d
    c.close()
    assert ans.startswith(b"ok"), ans
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(path)
s.sendall(b"T monitor\n")
for i in range(1000):
    call(b"T vif-set %s 0 ip=198.18.0.%d\n" % (dom, i % 200 + 1))
def drain(t):
    s.settimeout(t)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except socket.timeout:
        pass
    return data
data = drain(1)
call(b"T vif-set %s 0 ip=198.18.0.1\n" % dom)	# the next event: after the "lost" line
data += drain(1)
lost = [l for l in data.decode().splitlines() if " lost count=" in l]
n = data.count(b" vif-set ")
print("%d of 1001 events received, then: %s" % (n, lost[0].split(" ", 1)[1] if lost else "no lost line"))
sys.exit(0 if lost and n < 1001 and data.endswith(b"ip=198.18.0.1\n") else 1)
EOF
check "[ \$? = 0 ]" "slow subscriber: $(tail -n1 "$run/slow.check")"
check "[ \"\$(P --json status | jget monitor_events_lost)\" -gt 0 ] && kill -0 $pvnetd_pid" \
	"status counts the lost events ($(P --json status | jget monitor_events_lost)); pvnetd alive"

# The hostile frontend: one fatal case, then it starts over and leaves.
coproc EV { ip netns exec "$evns" "$EVIL" "$run" prod_ahead 2>"$run/evil.log"; }
ev_pid=$EV_PID
track_pid "$ev_pid"
ev_in=${EV[0]} ev_out=${EV[1]}
edom=
while read -r -t 30 tag name a b <&"$ev_in"; do
	case $tag in
	READY) edom=$name ;;
	CASE) echo go >&"$ev_out" ;;
	POKE) echo poked >&"$ev_out" ;;
	DONE) echo next >&"$ev_out" ;;
	END) echo bye >&"$ev_out"; break ;;
	esac
done
[ -n "$edom" ] || die "evil_front registered"
dis="vif-disabled vif$edom.0 reason=\"tx: impossible req_prod"
check "wait_for 10 \"grep -qF '\$dis' '$run/mon.txt'\"" \
	"the hostile vif$edom.0 disabled, with its reason: $(grep -F "vif-disabled vif$edom.0" "$run/mon.txt" | cut -d' ' -f4-)"
check "grep -A3 'vif-disabled vif$edom.0' '$run/mon.txt' | grep -q 'vif-state vif$edom.0 backend=Closing'" \
	"then its backend Closing"

# Ctrl-C ends a monitor with rc 0; so does a closed standard output (| head).
mon "$run/int.txt" || die "third monitor subscribed"
kill -INT "$(pgrep -f "pvnetctl -r $run monitor" -n)" 2>/dev/null
check "wait_for 5 \"[ -s '$run/int.txt.rc' ]\" && [ \"\$(cat '$run/int.txt.rc')\" = 0 ]" "SIGINT ends a monitor, rc 0"
( timeout 60 "$BUILD"/pvnetctl -r "$run" monitor | head -n 1 >/dev/null; echo "${PIPESTATUS[0]}" >"$run/head.rc" ) &
mons+=($!)
sleep 0.5
P vif-set "$d1" 0 ip= >/dev/null 2>&1; P vif-set "$d1" 0 ip= >/dev/null 2>&1	# lines for it to write
check "wait_for 5 \"[ -s '$run/head.rc' ]\" && [ \"\$(cat '$run/head.rc')\" = 0 ]" "monitor | head -n 1: ends when head does, rc 0"

kill -KILL "$front_pid_g1"
check "wait_for 10 \"grep -q 'domain-departed dom$d1 name=g1' '$run/mon.txt'\"" "g1 killed: its departure"

# In order: arrival, connected, [accel on, off], the hostile vif disabled, departure.
ln() { grep -n "$1" "$run/mon.txt" | head -n1 | cut -d: -f1; }
seq_ok=1 prev=0
for pat in "domain-arrived dom$d1 " "vif-state vif$d1.0 backend=Connected frontend=Connected" \
	$([ "$nic" = 1 ] && echo "accel-attached_vif$d1.0 accel-detached_vif$d1.0") \
	"vif-disabled vif$edom.0" "domain-departed dom$d1 "; do
	n=$(ln "${pat//_/ }")
	[ -n "$n" ] && [ "$n" -gt "$prev" ] || { seq_ok=0; echo "out of order or missing: '$pat' (line ${n:-none}, after $prev)"; }
	prev=${n:-$prev}
done
check "[ $seq_ok = 1 ]" "the lines come in the order things happened"
check "grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z subscribed pid=' '$run/mon.txt'" \
	"text lines start with a UTC timestamp"

# --json: every line an object; the same events as the text monitor's.
python3 - "$run/mon.json" "$run/mon.txt" >"$run/json.check" 2>&1 <<'EOF'
import json, sys
evs = []
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert {"time", "event"} <= o.keys(), line
    if "vif" in o:
        assert o["vif"] == "vif%d.%d" % (o["domid"], o["devid"]), line
    if o["event"] not in ("vif-set", "lost"):
        evs.append((o["event"], o.get("vif") or ("dom%d" % o["domid"] if "domid" in o else "")))
txt = []
for line in open(sys.argv[2]):
    w = line.split()
    if w[1] in ("vif-set", "lost"):
        continue
    txt.append((w[1], w[2] if len(w) > 2 and (w[2].startswith("vif") or w[2].startswith("dom")) else ""))
assert evs[1:] == txt[1:], (evs, txt)
print(len(evs))
EOF
check "[ \$? = 0 ]" "--json: $(tail -n1 "$run/json.check") lines, each parses (json.loads), same events as the text monitor"

# pvnetd stops: the monitors end, rc 0, "pvnetd-stop" last, a message.
stop_pvnetd "$run"
check "wait_for 5 \"[ -s '$run/mon.txt.rc' ] && [ -s '$run/mon.json.rc' ]\" && [ \"\$(cat '$run/mon.txt.rc')\" = 0 ] && [ \"\$(cat '$run/mon.json.rc')\" = 0 ]" \
	"pvnetd stopped: both monitors ended, rc 0"
check "tail -n1 '$run/mon.txt' | grep -q ' pvnetd-stop\$' && tail -n1 '$run/mon.json' | grep -q '\"event\": \"pvnetd-stop\"'" \
	"their last line: pvnetd-stop"
check "grep -q 'pvnetd closed the stream' '$run/mon.txt.err'" "and a message on stderr"
finish
