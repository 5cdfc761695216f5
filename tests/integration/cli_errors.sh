#!/usr/bin/env bash
# cli_errors.sh - every refused input to pvnetctl, pvnetd and pvnet-front
# fails with a clear message and the right exit code: 2 for usage errors
# (malformed or out-of-range arguments), 1 for refused requests; with
# pvnetctl --json the error is {"error": ..., "code": ...} on stdout.  A
# refused vif-create leaves nothing behind, and a guest asking (--mac) for
# a MAC another vif has gives up within a bounded time.
#
#  guest g1 (netns)            host (netns)
#  ┌─────────────────┐  rings  ┌───────────────────────┐
#  │ pvnet-front g1  │<═══════>│ pvnetd (no accel NIC) │<── pvnetctl, bad inputs
#  └─────────────────┘         └───────────────────────┘
#  ┌─────────────────┐
#  │ pvnet-front g2  │ --mac <g1's MAC>: refused, exits non-zero
#  └─────────────────┘
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need timeout

host_begin cli
host_netns g1 g2
host_pvnetd || die "pvnetd starts"
start_guest "$g1" g1 "198.18.0.1"
wait_for 10 "[ -n \"\$(domid_of g1)\" ]" || die "g1 registers"
d1=$(domid_of g1)
wait_for 10 "[ \"\$(vstat $d1 connected)\" = 1 ]" || die "g1's vif connects"
mac1=$(vstat "$d1" mac)

# expect RC PATTERN NAME CMD...: CMD exits RC and its stdout+stderr match PATTERN (ERE).
expect() {
	local want=$1 pat=$2 name=$3 out rc; shift 3
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" = "$want" ] && grep -qE -- "$pat" <<<"$out"; then
		pass "$name (rc $rc)"
	else
		fail "$name: want rc $want and /$pat/, got rc $rc: $out"
	fi
}
PC() { timeout 10 "$BUILD"/pvnetctl -r "$run" "$@"; }
# nothing of vif D.N in the store (a refused vif-create leaves no half-made vif)
no_vif() { ! PC store-dump "/local/domain/0/backend/vif/$1/$2" >/dev/null 2>&1 &&
	   ! PC store-dump "/local/domain/$1/device/vif/$2" >/dev/null 2>&1; }

# ---- vif-create: refused requests, rc 1, nothing left ----
expect 1 "multicast or broadcast" "vif-create mac=01:00:5e:00:00:01 (multicast) refused" \
	PC vif-create "$d1" devid=1 mac=01:00:5e:00:00:01
expect 1 "multicast or broadcast" "vif-create mac=ff:ff:ff:ff:ff:ff (broadcast) refused" \
	PC vif-create "$d1" devid=1 mac=ff:ff:ff:ff:ff:ff
expect 1 "unknown key 'foo'" "vif-create foo=bar (unknown key) refused" \
	PC vif-create "$d1" devid=1 foo=bar
expect 1 "unknown key 'mtu1500'" "vif-create with a word that is no key=value refused" \
	PC vif-create "$d1" devid=1 mtu1500
expect 1 "mac in use" "vif-create with g1's MAC ($mac1) refused" \
	PC vif-create "$d1" devid=1 "mac=$mac1"
expect 1 "no such accelerator plugin" "vif-create accel=nosuchnic refused" \
	PC vif-create "$d1" devid=1 accel=nosuchnic
check "no_vif $d1 1" "refused vif-creates left no vif $d1.1 in the store"
sleep 1
check "! grep -q 'cannot join the switch' '$run/pvnetd.log'" "pvnetd never tried a duplicate MAC on the switch"
expect 1 "no such domain" "vif-create on a domain that does not exist refused" PC vif-create 1000
expect 1 "vif exists" "vif-create of an existing vif refused" PC vif-create "$d1" devid=0

# ---- usage errors, rc 2 ----
expect 2 "usage: .*bad DOMID 'abc'" "vif-stats abc 0: usage error" PC vif-stats abc 0
expect 2 "usage: .*bad DOMID '99999'" "vif-stats 99999 0 (out of range): usage error" PC vif-stats 99999 0
expect 2 "usage: .*bad DEVID '256'" "vif-destroy D 256 (out of range): usage error" PC vif-destroy "$d1" 256
expect 2 "usage: .*bad DEVID '-1'" "accel D -1 show: usage error" PC accel "$d1" -1 show
expect 2 "usage: .*want on, off or show" "accel D 0 sideways: usage error" PC accel "$d1" 0 sideways
expect 2 "usage: .*bad DOMID 'x'" "vif-create x: usage error" PC vif-create x
expect 2 "usage: .*bad mtu '20'" "vif-create mtu=20: usage error" PC vif-create "$d1" devid=1 mtu=20
expect 2 "usage: .*bad mac" "vif-create mac=zz: usage error" PC vif-create "$d1" devid=1 mac=zz
expect 2 "usage: pvnetctl vif-stats" "vif-stats with one argument: usage error" PC vif-stats 1
expect 2 "unknown command 'nosuchcmd'" "unknown command: usage error" PC nosuchcmd
expect 2 "usage: .*absolute" "store-dump relative/path: usage error" PC store-dump relative/path

# ---- other refused requests, rc 1 ----
expect 1 "no such accelerator plugin" "accel D 0 on nosuchnic refused" PC accel "$d1" 0 on nosuchnic
expect 1 "no such vif" "vif-stats of a vif that does not exist refused" PC vif-stats "$d1" 7
expect 1 "/nonexistent: no such node" "store-dump /nonexistent refused" PC store-dump /nonexistent
expect 1 "is pvnetd running" "pvnetctl on a run dir without pvnetd refused" \
	timeout 10 "$BUILD"/pvnetctl -r "$run/nothere" status

# ---- --json: errors as JSON on stdout, nothing on stderr ----
json_err() { # RC CODE NAME CMD...
	local want=$1 code=$2 name=$3 out err rc; shift 3
	out=$("$@" 2>"$run/json.err"); rc=$?; err=$(cat "$run/json.err")
	if [ "$rc" = "$want" ] && grep -qE "^\{\"error\": \"[^\"]+\", \"code\": $code\}$" <<<"$out" && [ -z "$err" ]; then
		pass "$name (rc $rc, $out)"
	else
		fail "$name: want rc $want and {\"error\": ..., \"code\": $code} on stdout only, got rc $rc: stdout '$out' stderr '$err'"
	fi
}
json_err 1 2 "--json vif-stats of a missing vif: JSON error" PC --json vif-stats "$d1" 7
json_err 2 22 "--json vif-stats abc 0: JSON usage error" PC --json vif-stats abc 0
json_err 1 2 "--json store-dump /nonexistent: JSON error" PC --json store-dump /nonexistent
json_err 2 22 "--json vif-stats (too few arguments): JSON usage error" PC --json vif-stats
json_err 1 98 "--json vif-create with a MAC in use: JSON error" PC --json vif-create "$d1" devid=1 "mac=$mac1"

# ---- pvnetd's options ----
for bad in abc -1 12x 4294967295; do
	expect 2 "bad --allow-uid '$bad'" "pvnetd --allow-uid $bad refused" \
		timeout 10 "$BUILD"/pvnetd --run-dir "$run/p2" --allow-uid "$bad"
done
check "[ ! -e '$run/p2/pvnetd.pid' ]" "pvnetd with a bad option did not start"
expect 2 "bad value '0x5' for -A" "pvnetd --mac-aging 0x5 refused" \
	timeout 10 "$BUILD"/pvnetd --run-dir "$run/p2" --mac-aging 0x5

# ---- pvnet-front's options ----
expect 2 "bad domain name 'bad name!': want 1 to 31 of A-Z a-z 0-9 . _ -" \
	"pvnet-front --name 'bad name!' says what is allowed" \
	timeout 10 ip netns exec "$g2" "$BUILD"/pvnet-front --run-dir "$run" --name 'bad name!' --ifname eth9
expect 2 "bad domain name" "pvnet-front --name of 32 characters refused" \
	timeout 10 ip netns exec "$g2" "$BUILD"/pvnet-front --run-dir "$run" --name "$(printf 'a%.0s' $(seq 32))"
expect 2 "bad MAC 'ff:ff:ff:ff:ff:ff'" "pvnet-front --mac ff:ff:ff:ff:ff:ff refused" \
	timeout 10 ip netns exec "$g2" "$BUILD"/pvnet-front --run-dir "$run" --mac ff:ff:ff:ff:ff:ff

# A guest asking for g1's MAC: pvnetd refuses it, pvnet-front gives up (rc 1) within its bound.
t0=$(date +%s)
timeout 30 ip netns exec "$g2" "$BUILD"/pvnet-front --run-dir "$run" --name g2 --mac "$mac1" \
	>"$run/g2dup.log" 2>&1
rc=$?; t=$(( $(date +%s) - t0 ))
cat "$run/g2dup.log"
check "[ $rc = 1 ] && [ $t -lt 25 ]" "pvnet-front --mac <in use> exits 1 within 25 s (rc $rc after $t s)"
check "grep -q 'Address already in use' '$run/g2dup.log' && grep -q 'no vif after' '$run/g2dup.log'" \
	"pvnet-front --mac <in use> says why"
check "[ \"\$(PC vif-list | grep -c '$mac1')\" = 1 ]" "only g1's vif has $mac1"
check "[ \"\$(vstat $d1 connected)\" = 1 ]" "g1's vif still connected"

finish
