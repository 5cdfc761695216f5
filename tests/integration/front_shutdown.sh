#!/usr/bin/env bash
# front_shutdown.sh - pvnet-front on SIGTERM goes through the xenbus
# Closing/Closed handshake with netback, exits 0 and removes its TAP; the
# vif and the domain are gone from pvnetd afterwards.
#
#   ┌──────────────────────┐  rings   ┌──────────────────────┐
#   │ g1: pvnet-front eth0 │<════════>│ host: pvnetd         │
#   └──────────────────────┘  SIGTERM └──────────────────────┘
#        frontend 4 -> 5 -> 6, backend 4 -> 5 -> 6
set -u
. "$(dirname "$0")/../lib/common.sh"
need_root
need timeout

host_begin fsd

mk_ns hostns host && mk_ns g1 g1 || { fail "namespaces"; exit 1; }
host_pvnetd --log-level debug || die "pvnetd did not start"
ip netns exec "$g1" "$BUILD"/pvnet-front --run-dir "$run" --name g1 2>>"$run/g1.log" &
fpid=$!
track_pid "$fpid"
check "wait_for 10 \"P vif-list | grep -q 'Connected  Connected'\"" "the vif connects"
check "ip -n '$g1' link show eth0 >/dev/null 2>&1" "the guest has eth0"

kill -TERM "$fpid"
rc=124
for _ in $(seq 50); do kill -0 "$fpid" 2>/dev/null || { wait "$fpid"; rc=$?; break; }; sleep 0.1; done
check "[ $rc -eq 0 ]" "pvnet-front exits 0 on SIGTERM (status $rc)"
log=$(grep -E 'vif[0-9]+\.0: (frontend|backend) state' "$run/pvnetd.log" | sed -E 's/.*: (frontend|backend) state ([0-9]).*/\1 \2/' | tr '\n' ' ')
echo "states: $log"
check "grep -q 'frontend 5 backend 5 frontend 6 backend 6' <<<'$log'" \
	"xenbus: frontend Closing, backend Closing, frontend Closed, backend Closed"
check "! ip -n '$g1' link show eth0 >/dev/null 2>&1" "the TAP is removed"
check "wait_for 3 \"[ -z \\\"\\\$(P vif-list | tail -n +2)\\\" ]\"" "the vif is gone from pvnetd"
check "[ \"\$(P --json status | jget domains)\" = 0 ]" "the domain is destroyed"
finish
