#!/usr/bin/env bash
# Runs every test suite and ends with one line: "N passed, N failed".
#   tests/run.sh          all: unit + sim (plain and ASan/UBSan), install, fuzz (short), net (root)
#   tests/run.sh unit     unit + sim only
#   tests/run.sh install  make install into a temporary DESTDIR, build against it (no root)
#   tests/run.sh net      root veth tests only (tests/net, then tests/sock)
#   tests/run.sh sock     the socket-semantics suite only (root; tests/sock)
# A suite that cannot run here (no root, missing kernel feature) FAILS and says why.
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
B=build
passed=0 failed=0
failures=()

run_one() { # name, command...
	local name=$1
	shift
	local log=$B/test-logs/$name.log
	mkdir -p "$(dirname "$log")"
	local t0=$SECONDS
	if "$@" >"$log" 2>&1; then
		passed=$((passed + 1))
		printf 'PASS  %-40s %3ss\n' "$name" $((SECONDS - t0))
	else
		failed=$((failed + 1))
		failures+=("$name")
		printf 'FAIL  %-40s %3ss  (log: %s)\n' "$name" $((SECONDS - t0)) "$log"
		tail -n 30 "$log" | sed 's/^/      | /'
	fi
}

# CPU-bound suites with nothing shared (no network, no fixed paths) run TEST_JOBS at a time
# (default: the CPU count), reported in the order given once the batch is done.
JOBS=${TEST_JOBS:-$(nproc)}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || JOBS=1
par_names=() par_cmds=()
par_add() { # name, command... (one string, run by bash)
	par_names+=("$1")
	par_cmds+=("$2")
}
par_run() {
	local dir i n=${#par_names[@]} running=0
	dir=$(mktemp -d)
	for ((i = 0; i < n; i++)); do
		local log=$B/test-logs/${par_names[i]}.log
		mkdir -p "$(dirname "$log")"
		(
			t0=$SECONDS
			bash -c "${par_cmds[i]}" >"$log" 2>&1
			echo "$? $((SECONDS - t0))" >"$dir/$i"
		) &
		running=$((running + 1))
		if ((running >= JOBS)); then
			wait -n
			running=$((running - 1))
		fi
	done
	wait
	for ((i = 0; i < n; i++)); do
		local name=${par_names[i]} log=$B/test-logs/${par_names[i]}.log rc=1 secs=0
		[[ -s $dir/$i ]] && read -r rc secs <"$dir/$i"
		if [[ $rc == 0 ]]; then
			passed=$((passed + 1))
			printf 'PASS  %-40s %3ss\n' "$name" "$secs"
		else
			failed=$((failed + 1))
			failures+=("$name")
			printf 'FAIL  %-40s %3ss  (log: %s)\n' "$name" "$secs" "$log"
			tail -n 30 "$log" | sed 's/^/      | /'
		fi
	done
	rm -rf "$dir"
	par_names=() par_cmds=()
}

if [[ $what == all || $what == unit ]]; then
	for t in $B/tests/test_*; do
		par_add "unit/$(basename "$t")" "$(printf '%q' "$t")"
	done
	for t in $B/san/tests/test_*; do
		par_add "asan/$(basename "$t")" \
			"ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(printf '%q' "$t")"
	done
	par_run
fi

if [[ $what == all || $what == install ]]; then
	for t in tests/install/test_*.sh; do
		run_one "install/$(basename "$t" .sh)" timeout 600 bash "$t"
	done
fi

if [[ $what == all ]]; then
	# Every harness briefly, TEST_JOBS at a time (under 60 s of CPU in all): the stateful ones
	# (ingress, tcp) longer, the wire parsers 3 s each. New inputs go to a scratch corpus
	# (the first directory), never into tests/fuzz/corpus. `make fuzz` runs them for longer.
	fuzz_tmp=$(mktemp -d)
	for h in $B/fuzz_*; do
		name=${h##*/fuzz_}
		case $name in ingress | tcp) secs=10 ;; *) secs=3 ;; esac
		mkdir -p "$fuzz_tmp/$name"
		par_add "fuzz/$name-${secs}s" "$(printf '%q ' "$h" -max_total_time=$secs \
			-print_final_stats=1 "$fuzz_tmp/$name" "tests/fuzz/corpus/$name")"
	done
	par_run
	rm -rf "$fuzz_tmp"
fi

if [[ $what == all || $what == net || $what == sock ]]; then
	if [[ $(id -u) -ne 0 ]]; then
		failed=$((failed + 1))
		failures+=("$what (needs root)")
		echo "FAIL  $what: these tests need root (network namespaces, XDP, AF_XDP); run as root or through sudo"
	else
		if [[ $what != sock ]]; then
			for t in tests/net/test_*.sh; do
				run_one "net/$(basename "$t" .sh)" timeout 300 bash "$t"
			done
		fi
		# The socket-semantics suite: the same checks on the kernel and under `sluice exec`.
		for t in tests/sock/test_*.sh; do
			run_one "sock/$(basename "$t" .sh)" timeout 600 bash "$t"
		done
	fi
fi

echo
[[ ${#failures[@]} -gt 0 ]] && printf 'failed: %s\n' "${failures[*]}"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
