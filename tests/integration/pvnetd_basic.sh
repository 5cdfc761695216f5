#!/usr/bin/env bash
# pvnetd_basic.sh - pvnetd starts, serves, refuses a second instance on the
# same run directory, shows a guest's store writes to xenstore-ls, reclaims
# a dead guest's nodes, and stops cleanly on SIGTERM (also as a daemon).
#
#   +-----------------+  hv.sock        +-------------------------+
#   | guest_write     |---------------->| pvnetd --run-dir $DIR   |
#   | (a test domain) |  xs connection  |   hypervisor services   |
#   +-----------------+<--------------->|   xenstore server       |
#                                       +-----------+-------------+
#   xenstore-ls, -read, -exists  --- xenstored.sock-+
set -u
. "$(dirname "$0")/../lib/common.sh"
need xenstore-ls xenstore-read xenstore-exists

dir=$(mktemp -d /tmp/pvnet-basic.XXXXXX)
cleanup() { stop_pvnetd "$dir"; kill "${gpid:-}" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

start_pvnetd "$dir" || { fail "pvnetd starts"; exit 1; }
pass "pvnetd starts and creates its sockets"
export XENSTORED_PATH=$dir/xenstored.sock

"$BUILD"/pvnetd --run-dir "$dir" 2>"$dir/second.log"
rc=$?
check "[ $rc -ne 0 ] && grep -q 'another pvnetd' '$dir/second.log'" \
	"a second pvnetd on the same run directory is refused"

check "xenstore-ls /local/domain | grep -q '^0 = '" "xenstore-ls lists /local/domain/0"

coproc G { "$BUILD"/tests/helpers/guest_write "$dir/hv.sock" testguest data/hello "from the guest" 30; }
gpid=$G_PID
read -r -t 5 _ domid <&"${G[0]}"
check "[ -n '${domid:-}' ]" "test guest registers and gets a domid"
out=$(xenstore-ls "/local/domain/$domid" 2>&1)
echo "$out"
check "grep -q 'hello = \"from the guest\"' <<<'$out'" "xenstore-ls shows what the guest wrote through pvnetd"
check "[ \"\$(xenstore-read /local/domain/$domid/data/hello)\" = 'from the guest' ]" "xenstore-read reads it"

kill "$gpid"; wait "$gpid" 2>/dev/null
sleep 0.3
check "! xenstore-exists /local/domain/$domid" "a dead guest's store nodes are removed"

pid=$(cat "$dir/pvnetd.pid")
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "! kill -0 $pid 2>/dev/null" "pvnetd stops on SIGTERM"
check "[ ! -e '$dir/hv.sock' ] && [ ! -e '$dir/xenstored.sock' ] && [ ! -e '$dir/pvnetd.pid' ]" \
	"sockets and pid file removed on exit"
grep -q stopped "$dir/pvnetd.log" && pass "pvnetd logs its stop" || fail "pvnetd logs its stop"

"$BUILD"/pvnetd --run-dir "$dir" --daemon --log-level debug 2>>"$dir/pvnetd.log"
for _ in $(seq 50); do [ -S "$dir/hv.sock" ] && break; sleep 0.1; done
check "[ -S '$dir/hv.sock' ] && kill -0 \$(cat '$dir/pvnetd.pid')" "pvnetd --daemon detaches and serves"
stop_pvnetd "$dir"
check "[ ! -e '$dir/pvnetd.pid' ]" "daemonized pvnetd stops on SIGTERM"
finish
