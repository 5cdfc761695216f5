#!/usr/bin/env bash
# readme_byhand.sh - README.md's "Running a host by hand" block (between
# its byhand:begin and byhand:end markers) works as written: run line by
# line in a shell, with a scratch run directory for /tmp/host1, namespaces
# unique to this run for host, g1 and g2, and $BUILD for build/ ("make" is
# skipped: the tree is built).  g1 pings g2 (3 replies), the domid found
# with domain-list is g1's, and its vif is connected.  Then the fast-path
# block (byhand-fast:begin/end) the same way (/tmp/host2; host2, ext, g3):
# g3 pings the external host, its acceleration reaches Connected, and the
# iperf3 run goes through the VI (its counters).
#
#  g1 (netns) pvnet-front ══ rings ══ pvnetd (netns host) ══ rings ══ pvnet-front g2 (netns)
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need ping timeout xenstore-ls
readme=$(cd "$(dirname "$0")/../.." && pwd)/README.md

host_begin byhand
h="pv$RUNID-host" n1="pv$RUNID-g1" n2="pv$RUNID-g2"
h2="pv$RUNID-host2" x2="pv$RUNID-ext" n3="pv$RUNID-g3"
_ns_list+=("$h" "$n1" "$n2" "$h2" "$x2" "$n3")	# ns_cleanup (host_cleanup) kills what runs in them and deletes them
on_cleanup() {
	[ -n "${shpid:-}" ] && kill "$shpid" 2>/dev/null
	[ -d "$run/h2" ] && stop_pvnetd "$run/h2"
	kill "$(cat "$run/h2/nic/pvnet-nicd.pid" 2>/dev/null)" 2>/dev/null
}

block=$(sed -n '/<!-- byhand:begin/,/<!-- byhand:end -->/p' "$readme" | sed '1,2d;$d' | sed '$d')
check "[ -n \"\$(grep -c pvnet-front <<<\"\$block\")\" ] && grep -q 'ping -c 3' <<<\"\$block\"" \
	"README.md has the by-hand block between its markers"
# The substitutions: run dir, namespace names (only where a namespace is
# meant: "netns add|exec X", "ip -n X"), build/ -> $BUILD/, no make.
script=$(sed -E -e '/^make$/d' \
	-e "s#/tmp/host1#$run#g" \
	-e "s#(netns (add|exec)|ip -n) host\\b#\\1 $h#g" \
	-e "s#(netns (add|exec)|ip -n) g1\\b#\\1 $n1#g" \
	-e "s#(netns (add|exec)|ip -n) g2\\b#\\1 $n2#g" \
	-e "s#(^|[ (])build/#\\1$BUILD/#g" <<<"$block")
echo "--- the block as run:"; echo "$script"; echo "---"
check "! grep -qE '(netns (add|exec)|ip -n) (host|g1|g2)\\b|/tmp/host1' <<<\"\$script\"" \
	"every namespace and run dir of the block was substituted"

# Line by line, as a pasted shell would, bounded.
timeout 60 bash -x -c "$script" >"$run/byhand.out" 2>"$run/byhand.err" &
shpid=$!
wait "$shpid"; rc=$?; shpid=
cat "$run/byhand.out"; tail -n 40 "$run/byhand.err"
check "[ $rc = 0 ]" "the block ran to its end (rc $rc)"
check "grep -qE '3 packets transmitted, 3 received|, 3 received' '$run/byhand.out'" "g1 pinged g2: 3 replies"
d1=$(domid_of g1)
check "[ -n '$d1' ] && grep -qE \"^\\+* *d1=$d1\$\" '$run/byhand.err'" "the block's d1 (from domain-list) is g1's domid ($d1)"
check "grep -q '\"vif\": \"vif$d1.0\"' '$run/byhand.out' && grep -q '\"connected\": 1' '$run/byhand.out'" \
	"vif-stats \"\$d1\" 0 shows g1's vif connected"
check "grep -q 'local = \"\"\\|^0 = ' '$run/byhand.out' || grep -q 'backend' '$run/byhand.out'" "xenstore-ls ran"

# The fast-path block.
need iperf3
[ -x "$BUILD/pvnet-nicd" ] || { skip "readme_byhand.sh: no pvnet-nicd, no fast-path block"; finish; }
block=$(sed -n '/<!-- byhand-fast:begin/,/<!-- byhand-fast:end -->/p' "$readme" | sed '1,2d;$d' | sed '$d')
check "grep -q 'accel .* on pvnic' <<<\"\$block\" && grep -q 'pvnet-nicd' <<<\"\$block\"" \
	"README.md has the fast-path block between its markers"
mkdir -p "$run/h2"
script=$(sed -E -e "s#/tmp/host2#$run/h2#g" \
	-e "s#(netns( add| exec)?|ip -n) host2\\b#\\1 $h2#g" \
	-e "s#(netns( add| exec)?|ip -n) ext\\b#\\1 $x2#g" \
	-e "s#(netns( add| exec)?|ip -n) g3\\b#\\1 $n3#g" \
	-e "s#(^|[ (\"])build/#\\1$BUILD/#g" <<<"$block")
echo "--- the fast-path block as run:"; echo "$script"; echo "---"
check "! grep -qE '(netns( add| exec)?|ip -n) (host2|ext|g3)\\b|/tmp/host2' <<<\"\$script\"" \
	"every namespace and run dir of the fast-path block was substituted"
timeout 90 bash -x -c "$script" >"$run/fast.out" 2>"$run/fast.err" &
shpid=$!
wait "$shpid"; rc=$?; shpid=
cat "$run/fast.out"; tail -n 40 "$run/fast.err"
check "[ $rc = 0 ]" "the fast-path block ran to its end (rc $rc)"
check "grep -qE ', 3 received' '$run/fast.out'" "g3 pinged the external host: 3 replies"
check "grep -qE '^accelstate +4' '$run/fast.out'" "g3's acceleration: accelstate 4"
vt=$(awk '$1 == "vi_tx_frames" { print $2 }' "$run/fast.out" | tail -1)
check "[ \"\${vt:-0}\" -gt 1000 ]" "the iperf3 run went through g3's VI (vi_tx_frames ${vt:-0})"
finish
