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
check "[ -n '$units' ] && grep -qx pvnetd.service <<<'$units' && grep -qx 'pvnet-nicd@.service' <<<'$units' && grep -qx 'pvnet-front@.service' <<<'$units'" \
	"systemd/ has pvnetd.service, pvnet-nicd@.service, pvnet-front@.service"

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
	# Templates are verified as instances; man: links checked against the installed pages.
	for u in pvnetd.service pvnet-nicd@eth1.service pvnet-front@g1.service; do
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
	rd=$tmp/run-$prog
	notify_listen "$tmp/notify-$prog.sock" "$tmp/notify-$prog.msg"
	case $prog in
	pvnetd) NOTIFY_SOCKET=$tmp/notify-$prog.sock "$BUILD/pvnetd" --run-dir "$rd" 2>"$tmp/$prog.log" &
		pids+=($!); ready="[ -S '$rd/hv.sock' ] && [ -S '$rd/ctl.sock' ]" ;;
	pvnet-nicd)
		if [ "$(id -u)" -ne 0 ] || ! mk_ns nns nicd; then
			skip "$u: READY=1 (needs root and a namespace for pvnet-nicd's port)"; continue
		fi
		NOTIFY_SOCKET=$tmp/notify-$prog.sock ip netns exec "$nns" "$BUILD/pvnet-nicd" --run-dir "$rd" --port lo \
			2>"$tmp/$prog.log" &
		pids+=($!); ready="[ -S '$rd/nic.sock' ]" ;;
	*) fail "$u: Type=notify, but no readiness check for $prog here"; continue ;;
	esac
	wait_for 10 "[ -e '$tmp/notify-$prog.msg' ]"
	check "grep -qx 'READY=1' '$tmp/notify-$prog.msg' 2>/dev/null && $ready" \
		"$u: $prog sends READY=1 to \$NOTIFY_SOCKET once it serves ($(cat "$tmp/notify-$prog.msg" 2>/dev/null))"
done

if [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ]; then
	skip "starting the units for real: not done by this test (it would touch the host's /run/pvnet)"
else
	skip "starting the units for real: systemd is not PID 1 here ($(ps -p 1 -o comm= 2>/dev/null))"
fi
finish
