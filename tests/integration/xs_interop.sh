#!/usr/bin/env bash
# xs_interop.sh - Debian's xenstore-utils (libxenstore 4.17) against pvnet's
# xenstore server.
#
#   xenstore-write/-read/-ls/-list/-exists/-chmod/-watch/-rm
#        |  libxenstore: XENSTORED_PATH=<tmpdir>/xs.sock (Unix stream socket)
#        v
#   build/tests/helpers/xs_serve <tmpdir>/xs.sock 1   (loop + xs_server, dom0 socket)
#
# No namespaces or privileges needed.  Bounded: every client runs under
# timeout, the server is killed in the trap.
set -u
cd "$(dirname "$0")/../.." || exit 2
build=${PVNET_BUILD:-build}
serve=$build/tests/helpers/xs_serve
T="timeout -k 2 5"

for tool in xenstore-write xenstore-read xenstore-ls xenstore-list xenstore-exists \
	    xenstore-chmod xenstore-watch xenstore-rm; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: xs_interop: $tool missing (apt install xenstore-utils)"
		exit 0
	fi
done
if [ ! -x "$serve" ]; then
	echo "SKIP: xs_interop: $serve not built (make)"
	exit 0
fi

dir=$(mktemp -d /tmp/xs_interop.XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

failed=0
pass() { echo "PASS: xs_interop: $1"; }
fail() { echo "FAIL: xs_interop: $1"; failed=1; }
check() {	# check NAME GOT WANT
	if [ "$2" = "$3" ]; then pass "$1"; else
		fail "$1: got [$2], want [$3]"
	fi
}

PVNET_LOG=info "$serve" "$dir/xs.sock" 1 2>"$dir/server.log" &
pid=$!
for _ in $(seq 50); do [ -S "$dir/xs.sock" ] && break; sleep 0.1; done
if [ ! -S "$dir/xs.sock" ]; then
	fail "server did not start"; cat "$dir/server.log"; exit 1
fi
pass "server started"
export XENSTORED_PATH=$dir/xs.sock

# A tree, written in one xenstore-write (one transaction).
if $T xenstore-write /pvt/a/b 1 /pvt/a/c "hello world" /pvt/d x; then
	pass "xenstore-write"
else
	fail "xenstore-write: exit $?"
fi
check "xenstore-ls prints the tree" "$($T xenstore-ls /pvt)" \
'a = ""
 b = "1"
 c = "hello world"
d = "x"'
check "xenstore-read" "$($T xenstore-read /pvt/a/c)" "hello world"
check "xenstore-read several" "$($T xenstore-read /pvt/a/b /pvt/d)" "1
x"
check "xenstore-list" "$($T xenstore-list /pvt/a)" "b
c"
if $T xenstore-exists /pvt/a/b; then pass "xenstore-exists existing"; else fail "xenstore-exists existing"; fi
if $T xenstore-exists /pvt/zz 2>/dev/null; then fail "xenstore-exists missing"; else pass "xenstore-exists missing"; fi
if $T xenstore-read /pvt/zz 2>/dev/null; then fail "xenstore-read missing fails"; else pass "xenstore-read missing fails"; fi
check "default tree" "$($T xenstore-list /local/domain)" "0
1"

# Permissions.
if $T xenstore-chmod /pvt/a/b n0 r1; then pass "xenstore-chmod"; else fail "xenstore-chmod: exit $?"; fi
check "xenstore-ls -p shows perms" "$($T xenstore-ls -p /pvt/a | sed -n 's/^\(b\) = .*(\(.*\))$/\1 \2/p')" "b n0,r1"
# An introduced domain's home is as libxl makes it: dom0's, the guest may
# read; data/ (and attr/, feature/, ...) are the guest's.
check "introduced domain's home is n0 r1 (libxl)" \
	"$($T xenstore-ls -p /local/domain | sed -n 's/^ *\(1\) = .*(\(.*\))$/\1 \2/p')" "1 n0,r1"
check "its data/ is the guest's" \
	"$($T xenstore-ls -p /local/domain/1 | sed -n 's/^\(data\) = .*(\(.*\))$/\1 \2/p')" "data n1"
check "its device/ is dom0's" \
	"$($T xenstore-ls -p /local/domain/1 | sed -n 's/^\(device\) = .*(\(.*\))$/\1 \2/p')" "device n0,r1"

# Watch: the initial event, then the change.
($T xenstore-watch -n 2 /pvt >"$dir/watch.out" 2>&1; echo "rc=$?" >>"$dir/watch.out") &
wpid=$!
for _ in $(seq 30); do [ -s "$dir/watch.out" ] && break; sleep 0.1; done
$T xenstore-write /pvt/new 5
wait $wpid
check "xenstore-watch sees initial event and change" "$(cat "$dir/watch.out")" "/pvt
/pvt/new
rc=0"

# Removal.
if $T xenstore-rm /pvt/a; then pass "xenstore-rm"; else fail "xenstore-rm: exit $?"; fi
if $T xenstore-exists /pvt/a/b 2>/dev/null; then fail "xenstore-rm removed subtree"; else pass "xenstore-rm removed subtree"; fi
check "tree after rm" "$($T xenstore-ls /pvt)" 'd = "x"
new = "5"'

# Xen's path charset is [A-Za-z0-9-/_@]: a dot is EINVAL, which
# xenstore-write reports as a failure.
if $T xenstore-write /local/domain/0/a.b x 2>"$dir/dot.err"; then
	fail "xenstore-write of a path with a dot succeeded"
else
	pass "xenstore-write of a path with a dot fails"
fi
if grep -q "dom0 WRITE (type 11): EINVAL" "$dir/server.log"; then pass "dot path: EINVAL"; else
	fail "dot path: the server did not answer EINVAL"; fi
if $T xenstore-exists /local/domain/0/a.b 2>/dev/null; then fail "dot path not created"; else
	pass "dot path not created"; fi

# A directory too big for one message: libxenstore falls back to DIRECTORY_PART.
args=()
for i in $(seq -w 1 500); do args+=("/pvt/many/child-$i" "$i"); done
$T xenstore-write "${args[@]}"
check "xenstore-list of 500 children (DIRECTORY_PART)" "$($T xenstore-list /pvt/many | wc -l)" "500"
check "xenstore-list order" "$($T xenstore-list /pvt/many | sed -n '1p;500p' | tr '\n' ' ')" "child-001 child-500 "
check "xenstore-ls of 500 children" "$($T xenstore-ls /pvt/many | grep -c '^child-')" "500"
if $T xenstore-rm /pvt; then pass "xenstore-rm big tree"; else fail "xenstore-rm big tree"; fi

if kill -0 "$pid" 2>/dev/null; then pass "server still running"; else fail "server died"; fi
# The EINVALs of the dot-path checks above are expected warnings.
if grep -E 'error|warning' "$dir/server.log" | grep -qvE 'dom0 (WRITE|READ) \(type [0-9]+\): EINVAL$'; then
	fail "server logged warnings or errors"
	sed 's/^/    | /' "$dir/server.log"
else
	pass "server log clean"
fi
exit $failed
