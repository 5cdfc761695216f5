#!/usr/bin/env bash
# units.sh - the systemd units (systemd/) and make install.
#
#   make install DESTDIR=T        every program, man page and unit where
#                                 PREFIX says, units pointing at SBINDIR
#   make install PREFIX=T/p       then `systemd-analyze verify` on the
#                                 installed units (their ExecStart binaries
#                                 and man pages exist there): rc 0, silent
#   the units' ExecStart options  are options the programs take (--help)
#   Type=notify units             the daemon does send READY=1 once it
#                                 serves (a NOTIFY_SOCKET of our own)
#
# Starting the units for real needs systemd as PID 1: skipped otherwise.
set -u
. "$(dirname "$0")/../lib/common.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
need make install sed python3
tmp=$(mktemp -d /tmp/pvnet-units.XXXXXX) || { fail "mktemp"; exit 1; }
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	ns_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

units=$(cd "$root/systemd" && ls *.service)
check "[ -n '$units' ] && grep -qx pvnetd.service <<<'$units' && grep -qx 'pvnetd@.service' <<<'$units' && grep -qx 'pvnet-nicd@.service' <<<'$units' && grep -qx 'pvnet-front@.service' <<<'$units'" \
	"systemd/ has pvnetd.service, pvnetd@.service, pvnet-nicd@.service, pvnet-front@.service"

# ---- make install DESTDIR= ----
# Install what $BUILD holds, never rebuilding it (-o: the ASan build stays ASan).
keep=()
for c in "$root"/src/cmd/*.c; do keep+=(-o "$BUILD/$(basename "$c" .c)"); done
keep+=(-o "$BUILD/libpvnet.a" -o "$BUILD/libpvnet.so.1")
dest=$tmp/dest
if make -s -C "$root" "${keep[@]}" BUILD="$BUILD" install DESTDIR="$dest" PREFIX=/opt/pvnet >"$tmp/install.log" 2>&1; then
	pass "make install DESTDIR=... PREFIX=/opt/pvnet"
else
	fail "make install DESTDIR=... PREFIX=/opt/pvnet"; cat "$tmp/install.log"
fi
missing=""
for c in "$root"/src/cmd/*.c; do
	p=$(basename "$c" .c)
	[ -x "$dest/opt/pvnet/sbin/$p" ] || [ -x "$dest/opt/pvnet/bin/$p" ] || missing+=" $p"
done
check "[ -z '$missing' ]" "every program installed in sbin/ or bin/${missing:+ (missing:$missing)}"
missing=""
for m in "$root"/docs/*.[138]; do
	f=$(basename "$m")
	[ -f "$dest/opt/pvnet/share/man/man${f##*.}/$f" ] || missing+=" $f"
done
check "[ -z '$missing' ]" "every man page installed in share/man/manN${missing:+ (missing:$missing)}"
missing=""
for u in $units; do [ -f "$dest/opt/pvnet/lib/systemd/system/$u" ] || missing+=" $u"; done
check "[ -z '$missing' ]" "every unit installed in lib/systemd/system${missing:+ (missing:$missing)}"
bad=$(grep -h '^ExecStart=' "$dest"/opt/pvnet/lib/systemd/system/*.service | grep -v '^ExecStart=/opt/pvnet/sbin/')
check "[ -z '$bad' ]" "installed units run the installed programs (ExecStart=/opt/pvnet/sbin/...)${bad:+: $bad}"
check "[ -z \"\$(find '$dest' -type f ! -path '$dest/opt/pvnet/*')\" ]" "nothing installed outside DESTDIR/PREFIX"
check "'$dest/opt/pvnet/sbin/pvnetd' --help | grep -q -- --run-dir" "the installed pvnetd runs"

# ---- ExecStart options are the programs' options ----
for u in $units; do
	line=$(sed -n 's/^ExecStart=//p' "$root/systemd/$u")
	prog=$(basename "${line%% *}")
	bad=""
	for o in $(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$line"); do
		"$BUILD/$prog" --help 2>&1 | grep -qE -- "(^|[ ,])$o( |$)" || bad+=" $o"
	done
	check "[ -x '$BUILD/$prog' ] && [ -z '$bad' ]" "$u: ExecStart's options are $prog's (${line#* })${bad:+; unknown:$bad}"
done

# ---- systemd-analyze verify on the installed units ----
if command -v systemd-analyze >/dev/null 2>&1; then
	pre=$tmp/p
	make -s -C "$root" "${keep[@]}" BUILD="$BUILD" install PREFIX="$pre" >"$tmp/install2.log" 2>&1 ||
		{ fail "make install PREFIX=$pre"; cat "$tmp/install2.log"; }
	ud=$pre/lib/systemd/system
	# Every unit; templates as instances; man: links checked against the installed pages.
	for t in $units; do
		case $t in
		pvnetd@.service) u=pvnetd@host1.service ;;
		pvnet-nicd@.service) u=pvnet-nicd@eth1.service ;;
		*@.service) u=${t%@.service}@g1.service ;;
		*) u=$t ;;
		esac
		out=$(cd "$ud" && MANPATH="$pre/share/man" systemd-analyze verify "$u" 2>&1)
		rc=$?
		check "[ $rc -eq 0 ] && [ -z \"\$out\" ]" "systemd-analyze verify $u: rc $rc, no complaint${out:+: $(head -c 300 <<<"$out")}"
	done
	# ...and it would complain: a unit with a typo is caught by the same check.
	sed 's/^Type=notify/Type=notifyy/' "$ud/pvnetd.service" >"$tmp/pvnetd.service"
	out=$(cd "$tmp" && MANPATH="$pre/share/man" systemd-analyze verify pvnetd.service 2>&1)
	check "[ -n \"\$out\" ]" "the verify check catches a broken unit (Type=notifyy)"
else
	skip "systemd-analyze verify: systemd-analyze not installed"
fi

# ---- Type=notify: READY=1 once the daemon serves ----
# notify_wait SOCK OUT: python3 binds a datagram socket and writes what
# arrives within 10 s to OUT.
notify_listen() {
	python3 - "$1" "$2" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(10)
open(sys.argv[2] + ".bound", "w").close()
try:
    msg = s.recv(4096)
except socket.timeout:
    msg = b""
open(sys.argv[2], "wb").write(msg)
EOF
	pids+=($!)
	wait_for 5 "[ -e '$2.bound' ]"
}
for u in $units; do
	grep -qx 'Type=notify' "$root/systemd/$u" || continue
	prog=$(basename "$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$root/systemd/$u")")
	rd=$tmp/run-${u%.service}
	n=$tmp/notify-${u%.service}
	notify_listen "$n.sock" "$n.msg"
	case $prog in
	pvnetd) NOTIFY_SOCKET=$n.sock "$BUILD/pvnetd" --run-dir "$rd" 2>"$tmp/$prog.log" &
		pids+=($!); ready="[ -S '$rd/hv.sock' ] && [ -S '$rd/ctl.sock' ]" ;;
	pvnet-nicd)
		if [ "$(id -u)" -ne 0 ] || ! mk_ns nns nicd; then
			skip "$u: READY=1 (needs root and a namespace for pvnet-nicd's port)"; continue
		fi
		NOTIFY_SOCKET=$n.sock ip netns exec "$nns" "$BUILD/pvnet-nicd" --run-dir "$rd" --port lo \
			2>"$tmp/$prog.log" &
		pids+=($!); ready="[ -S '$rd/nic.sock' ]" ;;
	*) fail "$u: Type=notify, but no readiness check for $prog here"; continue ;;
	esac
	wait_for 10 "[ -e '$n.msg' ]"
	check "grep -qx 'READY=1' '$n.msg' 2>/dev/null && $ready" \
		"$u: $prog sends READY=1 to \$NOTIFY_SOCKET once it serves ($(cat "$n.msg" 2>/dev/null))"
	# Capabilities: started as root with all of them, none left once ready (daemon.c).
	pid=${pids[-1]}
	st=/proc/$pid/status
	caps=$(awk '/^Cap(Inh|Prm|Eff|Bnd|Amb):/ { printf "%s%s ", $1, $2 }' "$st" 2>/dev/null)
	if [ "$(id -u)" -eq 0 ]; then
		check "grep -qE '^CapEff:[[:space:]]+0+\$' '$st' && grep -qE '^CapPrm:[[:space:]]+0+\$' '$st' && grep -qE '^CapBnd:[[:space:]]+0+\$' '$st' && grep -qE '^NoNewPrivs:[[:space:]]+1\$' '$st'" \
			"$u: $prog: no capability left after start-up, bounding set empty, no_new_privs ($caps)"
	else
		skip "$u: capabilities after start-up (not root)"
	fi
done
# The daemons still serve without them: a pvnetctl request to that pvnetd.
check "timeout 10 '$BUILD/pvnetctl' -r '$tmp/run-pvnetd' status | grep -q '^pid'" \
	"pvnetd answers pvnetctl with no capability"

# ---- each daemon's CapabilityBoundingSet= is enough: started within it ----
# setpriv gives the daemon only its unit's bounding set (as systemd would,
# without CAP_SETPCAP), on a real port (a veth): it must start and serve,
# and end with no effective capability (its bounding set stays the unit's).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 && mk_ns bns bset; then
	ip -n "$bns" link add p0 type veth peer name p1 && ip -n "$bns" link set p0 up && ip -n "$bns" link set p1 up
	for u in pvnetd.service pvnet-nicd@.service; do
		bset=$(sed -n 's/^CapabilityBoundingSet=//p' "$root/systemd/$u" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
		rd=$tmp/bset-${u%.service}
		case $u in
		pvnetd.service) args=(pvnetd --run-dir "$rd" --uplink p0) ready="[ -S '$rd/ctl.sock' ]" ;;
		*) args=(pvnet-nicd --run-dir "$rd" --port p1) ready="[ -S '$rd/nic.sock' ]" ;;
		esac
		ip netns exec "$bns" setpriv --bounding-set "-all,$bset" --inh-caps -all --ambient-caps -all \
			"$BUILD/${args[0]}" "${args[@]:1}" 2>"$tmp/bset-${args[0]}.log" &
		pids+=($!)
		wait_for 10 "$ready && grep -qE '^CapEff:[[:space:]]+0+\$' /proc/${pids[-1]}/status"
		check "[ \$? = 0 ] && kill -0 ${pids[-1]}" \
			"$u: ${args[0]} starts and serves within CapabilityBoundingSet=${bset//+/ } (AF_PACKET on a veth), then no effective capability"
	done
	check "timeout 10 '$BUILD/pvnetctl' -r '$tmp/bset-pvnetd' status | grep -q '^pid'" \
		"that pvnetd answers pvnetctl"
else
	skip "bounding sets: needs root, setpriv (util-linux) and a namespace"
fi

if [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ]; then
	skip "starting the units for real: not done by this test (it would touch the host's /run/pvnet)"
else
	skip "starting the units for real: systemd is not PID 1 here ($(ps -p 1 -o comm= 2>/dev/null))"
fi
finish
