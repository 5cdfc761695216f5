#!/usr/bin/env bash
# daemon_log.sh - where a daemon's log goes: with --daemon it leaves the
# terminal (stdin, stdout and stderr no longer the caller's) and logs to
# DIR/pvnetd.log, saying so on the terminal first; --log-file FILE logs
# there with or without --daemon; --syslog keeps the log off both; a log
# file that cannot be opened is a start-up error (rc 1, said on the
# terminal), an empty --log-file a usage error.
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
D=$(mktemp -d /tmp/pvnet-dlog.XXXXXX)
cleanup() {
	for r in "$D"/r*; do [ -f "$r/pvnetd.pid" ] && kill "$(cat "$r/pvnetd.pid")" 2>/dev/null; done
	sleep 0.3
	rm -rf "$D"
}
trap cleanup EXIT

# --daemon alone: DIR/pvnetd.log
mkdir "$D/r1"
timeout 10 "$BUILD"/pvnetd --run-dir "$D/r1" --daemon >"$D/out1" 2>"$D/err1"; rc=$?
check "[ $rc -eq 0 ]" "pvnetd --daemon: rc 0 ($rc)"
check "grep -q \"the log goes on in $D/r1/pvnetd.log\" '$D/err1'" "the terminal is told where the log goes ($(tail -n1 "$D/err1"))"
pid=$(cat "$D/r1/pvnetd.pid" 2>/dev/null)
check "[ \"\$(readlink /proc/$pid/fd/2)\" = '$D/r1/pvnetd.log' ] && [ \"\$(readlink /proc/$pid/fd/0)\" = /dev/null ] && [ \"\$(readlink /proc/$pid/fd/1)\" = /dev/null ]" \
	"the daemon's stderr is the log file, stdin/stdout /dev/null ($(readlink /proc/"$pid"/fd/2))"
check "grep -q 'detached (pid $pid), serving in' '$D/r1/pvnetd.log'" "the log file starts with the detach"
kill "$pid"; wait_for 5 "! kill -0 $pid 2>/dev/null"
check "grep -q 'info: stopped' '$D/r1/pvnetd.log' && ! grep -q 'stopped' '$D/err1'" "its stop is logged in the file, not on the terminal"

# --log-file FILE in the foreground
mkdir "$D/r2"
"$BUILD"/pvnetd --run-dir "$D/r2" --log-file "$D/own.log" 2>"$D/err2" &
p2=$!
wait_for 5 "[ -S '$D/r2/ctl.sock' ]"
kill $p2; wait $p2
check "grep -q 'serving in $D/r2' '$D/own.log' && grep -q 'info: stopped' '$D/own.log' && [ ! -s '$D/err2' ]" \
	"--log-file without --daemon: everything in the file, nothing on stderr"

# --syslog --daemon: no log file
mkdir "$D/r3"
timeout 10 "$BUILD"/pvnetd --run-dir "$D/r3" --daemon --syslog 2>"$D/err3"; rc=$?
check "[ $rc -eq 0 ] && [ ! -e '$D/r3/pvnetd.log' ]" "--daemon --syslog: rc $rc, no log file in the run directory"
kill "$(cat "$D/r3/pvnetd.pid")" 2>/dev/null

# errors
mkdir "$D/r4"
out=$(timeout 10 "$BUILD"/pvnetd --run-dir "$D/r4" --daemon --log-file /nonexistent/dir/x.log 2>&1); rc=$?
check "[ $rc -eq 1 ] && grep -q 'log file /nonexistent/dir/x.log: No such file or directory' <<<\"\$out\" && [ ! -S '$D/r4/ctl.sock' ]" \
	"a log file that cannot be opened: rc 1 ($rc), said on the terminal ($out)"
out=$(timeout 10 "$BUILD"/pvnetd --run-dir "$D/r4" --log-file '' 2>&1); rc=$?
check "[ $rc -eq 2 ] && grep -q 'wants a file name' <<<\"\$out\"" "an empty --log-file: rc 2 ($rc)"
finish
