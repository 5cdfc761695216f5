#!/usr/bin/env bash
# long.sh - `make fuzz-long`: run every harness in build-fuzz/ for FUZZ_SECS
# seconds each (default 300), one at a time, under nice -n 19, and print
# per harness the executions, the rate and whether it found anything.
#
#   FUZZ_SECS=300     seconds per harness
#   FUZZ_RUNS=N       stop a harness after N executions instead (FUZZ_SECS
#                     stays its time limit): FUZZ_RUNS=10000000 for the goal
#   FUZZ_ONLY="a b"   only these harnesses (names as in build-fuzz/)
#   FUZZ_DIR          the build directory (default build-fuzz)
#   FUZZ_JOBS=N       N processes of each harness at once on the same corpus
#                     (default 1), each with FUZZ_RUNS/N executions: the
#                     cores a slow harness can use.  Executions are summed,
#                     exec/s is the sum of the processes' rates
#
# Each harness works on build-fuzz/corpus/<name>/ (kept between runs, new
# inputs go there) with tests/fuzz/corpus/<name>/ as seeds when it exists.
# A crash, leak, sanitizer report or timeout is saved under
# build-fuzz/crashes/<name>/ (libFuzzer's -artifact_prefix), the harness's
# log under build-fuzz/logs/<name>.log.  Exit status 1 if any harness found
# something or did not run; a line per harness is also appended to
# build-fuzz/fuzz-long.txt (UTC time, seconds, executions, exec/s, result).
set -u
cd "$(dirname "$0")/../.." || exit 2
dir=${FUZZ_DIR:-build-fuzz}
secs=${FUZZ_SECS:-300}
case "$secs" in ''|*[!0-9]*) echo "long.sh: FUZZ_SECS must be a number of seconds" >&2; exit 2;; esac
runs=${FUZZ_RUNS:--1}
case "$runs" in -1) ;; ''|*[!0-9]*) echo "long.sh: FUZZ_RUNS must be a number of executions" >&2; exit 2;; esac
jobs=${FUZZ_JOBS:-1}
case "$jobs" in ''|*[!0-9]*|0) echo "long.sh: FUZZ_JOBS must be a number of processes (1 or more)" >&2; exit 2;; esac
jobruns=$runs
[ "$runs" -gt 0 ] && jobruns=$(( (runs + jobs - 1) / jobs ))

harnesses=()
if [ -n "${FUZZ_ONLY:-}" ]; then
	for h in $FUZZ_ONLY; do harnesses+=("$h"); done
else
	for f in tests/fuzz/fuzz_*.c; do harnesses+=("$(basename "$f" .c)"); done
fi

# Options a harness needs beyond the common ones.
extra_opts() {
	case "$1" in
	fuzz_pkt|fuzz_gro|fuzz_libpvnet_rx) echo "-max_len=70000" ;;
	fuzz_netback_tx) echo "-max_len=8192" ;;
	fuzz_netback_rx) echo "-max_len=1025" ;;	# 128 ops: each is a round trip or more
	*) ;;
	esac
}

# stat::<key>: <value> from a libFuzzer log (-print_final_stats=1).
stat() { sed -n "s/^stat::$2: *\([0-9]*\).*/\1/p" "$1" | tail -1; }

failed=0
mkdir -p "$dir/logs"
printf '%-18s %6s %12s %9s  %s\n' harness secs execs exec/s result
for h in "${harnesses[@]}"; do
	bin=$dir/$h
	corpus=$dir/corpus/$h
	crashes=$dir/crashes/$h
	log=$dir/logs/$h.log
	if [ ! -x "$bin" ]; then
		printf '%-18s %6s %12s %9s  %s\n' "$h" - - - "not built (make fuzz)"
		failed=1
		continue
	fi
	mkdir -p "$corpus" "$crashes"
	seeds=()
	[ -d "tests/fuzz/corpus/$h" ] && seeds=("tests/fuzz/corpus/$h")
	before=$(ls "$crashes" | wc -l)
	start=$(date +%s)
	# One process per job, each with its own log (job 1's is $log); the
	# corpus directory is shared, as with libFuzzer's own -jobs.
	pids=()
	for j in $(seq 1 "$jobs"); do
		jlog=$log
		[ "$j" -gt 1 ] && jlog=$log.$j
		# shellcheck disable=SC2046
		nice -n 19 "$bin" -max_total_time="$secs" -runs="$jobruns" -print_final_stats=1 -timeout=60 \
			-rss_limit_mb=4096 -artifact_prefix="$crashes/" $(extra_opts "$h") \
			"$corpus" "${seeds[@]}" >"$jlog" 2>&1 </dev/null &
		pids+=($!)
	done
	rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=$?; done
	took=$(( $(date +%s) - start ))
	execs="" rate=""
	for j in $(seq 1 "$jobs"); do
		jlog=$log
		[ "$j" -gt 1 ] && jlog=$log.$j
		e=$(stat "$jlog" number_of_executed_units)
		r=$(stat "$jlog" average_exec_per_sec)
		if [ -z "$e" ] || [ -z "$r" ]; then execs="" rate=""; break; fi
		execs=$(( ${execs:-0} + e )) rate=$(( ${rate:-0} + r ))
	done
	after=$(ls "$crashes" | wc -l)
	if [ "$rc" -eq 0 ] && [ "$after" -eq "$before" ] && [ -n "$execs" ]; then
		result="nothing found"
	elif [ "$rc" -eq 72 ] && [ "$after" -eq "$before" ] && [ -n "$execs" ]; then
		result="stopped by SIGINT, nothing found"	# libFuzzer's -interrupted_exitcode
	else
		result="FOUND (rc $rc, $((after - before)) new in $crashes, log $log)"
		failed=1
	fi
	printf '%-18s %6s %12s %9s  %s\n' "$h" "$took" "${execs:-?}" "${rate:-?}" "$result"
	printf '%s %s %s %s %s %s\n' "$(date -u +%FT%TZ)" "$h" "$took" "${execs:-?}" \
		"${rate:-?}" "$result" >>"$dir/fuzz-long.txt"
done
exit $failed
