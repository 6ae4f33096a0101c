#!/usr/bin/env bash
# The soak (test_soak.sh), shortened, against the stack built with ASan+UBSan
# (build/san/sluice, `make build/san/sluice`): 2000 connections held 5 s with resets, aborts
# and half-closes. Any sanitizer report fails it: UBSan and ASan abort the process (so it does
# not exit 0 on SIGTERM), LeakSanitizer makes the exit status non-zero, and test_soak.sh also
# fails on a report found in sluice's stderr. The RSS bound is ASan's: its quarantine keeps
# freed memory (up to quarantine_size_mb, 64 MiB here).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[[ -x $ROOT/build/san/sluice ]] || { echo "FAIL: build/san/sluice missing (make build/san/sluice)" >&2; exit 1; }
export SLUICE_BIN=$ROOT/build/san/sluice
export ASAN_OPTIONS=abort_on_error=1:halt_on_error=1:detect_leaks=1:quarantine_size_mb=64
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export SOAK_CONNS=${SOAK_CONNS:-2000} SOAK_SECONDS=${SOAK_SECONDS:-5}
export SOAK_RSS_GROWTH_KB=${SOAK_RSS_GROWTH_KB:-$((96 << 10))}
exec bash "$ROOT/tests/net/test_soak.sh"
