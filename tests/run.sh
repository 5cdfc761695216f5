#!/usr/bin/env bash
# run.sh - run every unit test binary and integration script, count their
# PASS/FAIL/SKIP lines, and end with the line "N passed, N failed, N skipped".
#
# usage: tests/run.sh [-w WRAPPER] [TEST...]
#   each TEST is a unit test binary or an integration script; without
#   arguments, all of build/tests/unit/* and tests/integration/*.sh.
#   PVNET_TEST_TIMEOUT bounds each test (seconds, default 300).
set -u
cd "$(dirname "$0")/.." || exit 2
wrapper=""
if [ "${1:-}" = "-w" ]; then wrapper=$2; shift 2; fi
timeout_s=${PVNET_TEST_TIMEOUT:-300}
logdir=build/test-logs
mkdir -p "$logdir"

if [ $# -eq 0 ]; then
	set -- "${PVNET_BUILD:-build}"/tests/unit/test_* tests/integration/*.sh
fi

passed=0 failed=0 skipped=0
for t in "$@"; do
	[ -e "$t" ] || continue
	name=$(basename "$t")
	case $t in
	*.sh) ;;
	*.*) continue ;;	# objects and dependency files beside the binaries
	*) [ -x "$t" ] || continue ;;
	esac
	log="$logdir/$name.log"
	start=$(date +%s)
	if [ "${t%.sh}" != "$t" ]; then
		timeout -k 10 "$timeout_s" bash "$t" >"$log" 2>&1
	else
		timeout -k 10 "$timeout_s" $wrapper "$t" >"$log" 2>&1
	fi
	rc=$?
	p=$(grep -c '^PASS: ' "$log")
	f=$(grep -c '^FAIL: ' "$log")
	s=$(grep -c '^SKIP: ' "$log")
	# A crash, a timeout or a non-zero exit with no FAIL line is one failure.
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name: exited with status $rc" >>"$log"
		f=1
	fi
	if [ $rc -eq 0 ] && [ "$f" -ne 0 ]; then
		echo "FAIL: $name: reported failures but exited 0" >>"$log"
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	printf '%-32s %4d passed %3d failed %3d skipped  %3ds\n' "$name" "$p" "$f" "$s" $(( $(date +%s) - start ))
	if [ "$f" -ne 0 ]; then
		grep -e '^FAIL: ' "$log" | sed 's/^/    /'
		echo "    (full log: $log; last lines below)"
		tail -n 15 "$log" | sed 's/^/    | /'
	fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
