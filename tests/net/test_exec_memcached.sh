#!/usr/bin/env bash
# memcached -t 1 under `sluice exec` (issue 12 item 3: the docs, sluice(8) EXEC and the README,
# name it as a supported single-threaded event loop). Debian's memcached binary (make deps
# installs it) serves kernel clients in the peer namespace (tests/net/mc_util.py, memcslap),
# and every assertion is run first against the same binary on the kernel (bound to KERNEL_IP,
# no sluice exec), to show that the test itself is right, then under
#   sluice exec IF --addr STACK_IP/24 -- memcached -u root -t 1 -p 11211 -U 0 -l STACK_IP
# memcached -t 1 is not one thread: the main thread accepts (libevent on epoll) and hands each
# connection to the one worker thread, which serves it from its own epoll set; the LRU and
# hash threads run beside them. So the sluice half also checks that a socket made readable by
# another thread's call into the stack wakes the worker sleeping in epoll_wait.
#
#   readiness  a connection (retried while refused) answers "version", within 10 s
#   small      set/get of a 12-byte value on one connection
#   512 KiB    set of 524288 random bytes, get, compared byte for byte (cmp)
#   incr/decr  set ctr 10, incr 5 -> 15, decr 3 -> 12, get -> 12
#   8 clients  8 concurrent Python clients, each its own connection and keys, 500 set/get
#              pairs each (8000 replies), every reply checked, all started together and all
#              done within 20 s of the start; a failure says how many replies came back
#   stats      with only the stats connection open, curr_connections is 1 (memcached counts
#              its listener and reports one less); with 3 more connections held open, 4;
#              total_items = curr_items = cmd_set = 4003 and cmd_get = get_hits = 4003
#              (small, big, ctr, 8 x 500), get_misses 0, incr_hits 1, decr_hits 1
#   memcslap   memcslap --servers=ADDR:11211 --concurrency=4 --execute-number=2000 exits 0
#              within 20 s and reports "Time to set 8000 keys by 4 threads"; afterwards
#              total_items = cmd_set = 12003 (8000 more), curr_items = 6003 (2000 new keys),
#              curr_connections back to 1
#   SIGTERM    memcached exits 0 within 10 s, which sluice exec passes on; its child is gone;
#              with sluice exec the owned-address rule, listed while it ran, is removed
#   UDP        a second run with -U 11211: set and get over memcached's UDP protocol (8-byte
#              frame header), then SIGTERM as above
# Timing is not an assertion, but every step is bounded (20 s for the data steps) generously
# for a slow 2-core VM, yet so that a server answering each request only after ~200 ms fails
# (8 clients x 1000 round trips); each step prints its elapsed time. Every wait is bounded;
# background processes are stopped by their own PID; nothing outside the two namespaces is
# touched (a Debian memcached service, if any, lives in the root namespace). About 10 s.
source "$(dirname "$0")/lib.sh"
setup_net
need memcached memcslap timeout cmp

MC=$ROOT/tests/net/mc_util.py
STEP=20 # seconds allowed for each data step
# curr_connections with only the stats connection open: memcached counts its one listener too
# and reports one less than it counts (the listener and the stats connection: 2 - 1)
BASE_CONNS=1

source "$(dirname "$0")/exec_lib.sh"

# step_fail NAME WHAT: fail with WHAT, and say so if the server is gone.
step_fail() {
	if ! app_alive && [[ -n $APP_PID ]]; then
		app_log "$1"
		local rc=0
		wait "$APP_PID" || rc=$?
		APP_PID=
		fail "$APP_WHAT: $2 (and the server exited, status $rc)"
	fi
	fail "$APP_WHAT: $2"
}

# mc CMD ARGS...: tests/net/mc_util.py in the peer namespace; its own deadline (the last
# argument) bounds it, timeout only backs that up.
mc() { in_peer timeout $((STEP + 10)) "$PY" "$MC" "$@"; }

# mc_wait NAME ADDR: until memcached answers "version" (10 s).
mc_wait() {
	local name=$1 addr=$2 out t0=${EPOCHREALTIME/./}
	app_alive || step_fail "$name" "exited at once"
	out=$(mc wait "$addr" 10) || step_fail "$name" "readiness: $out"
	ok "$APP_WHAT: up: $out ($(ms_since "$t0"))"
}

# stat_get NAME: a value from the last stats output.
stat_get() { sed -n "s/^$1=//p" "$TMP/stats"; }
# stats_wait HOLD WANT: stats with HOLD extra connections open until curr_connections is WANT,
# at most 5 s (the worker may still be closing the previous step's connections).
stats_wait() {
	local hold=$1 want=$2 out got="" t0=$SECONDS
	while :; do
		out=$(mc stats "$ADDR" "$hold" "$STEP") || step_fail "$NAME" "stats: $out"
		printf '%s\n' "$out" >"$TMP/stats"
		got=$(stat_get curr_connections)
		[[ $got == "$want" ]] && return 0
		((SECONDS - t0 < 5)) || break
		sleep 0.1
	done
	fail "$APP_WHAT: stats with $hold more connections open: curr_connections $got after 5 s, want $want"
}
expect_stat() { # expect_stat NAME WANT
	local got
	got=$(stat_get "$1")
	[[ $got == "$2" ]] || fail "$APP_WHAT: stats: $1 $got, want $2"
}

mc_suite() {
	local mode=$1 name=memcached-$1 out t0 i
	NAME=$name
	ADDR=$KERNEL_IP
	[[ $mode == sluice ]] && ADDR=$STACK_IP
	app_start "$mode" "$name" memcached -u root -t 1 -p 11211 -U 0 -l "$ADDR"
	APP_WHAT="memcached on $mode"
	mc_wait "$name" "$ADDR"

	t0=${EPOCHREALTIME/./}
	out=$(mc setget "$ADDR" small hello-sluice "$STEP") || step_fail "$name" "set/get small value: $out"
	ok "$APP_WHAT: set/get of a small value ($(ms_since "$t0"))"

	[[ -s $TMP/big.val ]] || head -c 524288 /dev/urandom >"$TMP/big.val"
	t0=${EPOCHREALTIME/./}
	rm -f "$TMP/big.got"
	out=$(mc big "$ADDR" "$TMP/big.val" "$TMP/big.got" "$STEP") || step_fail "$name" "512 KiB value: $out"
	cmp -s "$TMP/big.val" "$TMP/big.got" ||
		fail "$APP_WHAT: 512 KiB value: read back $(stat -c %s "$TMP/big.got") bytes that differ from the 524288 stored ($(cmp "$TMP/big.val" "$TMP/big.got" 2>&1 | head -1))"
	ok "$APP_WHAT: 512 KiB value set and read back byte for byte ($(ms_since "$t0"))"

	t0=${EPOCHREALTIME/./}
	out=$(mc incr "$ADDR" "$STEP") || step_fail "$name" "incr/decr: $out"
	ok "$APP_WHAT: incr/decr: 10 +5 -> 15 -3 -> 12 ($(ms_since "$t0"))"

	# 8 clients, connected first, all starting at the same wall-clock time half a second ahead.
	local pids=() start total=0 n timedout=0 bad=()
	start=$("$PY" -c 'import time; print("%.3f" % (time.time() + 0.5))')
	for i in $(seq 8); do
		mc load "$ADDR" "$i" 500 "$start" "$STEP" >"$TMP/load.$i" 2>&1 &
		pids+=($!)
	done
	for i in $(seq 8); do
		local rc=0
		wait "${pids[$((i - 1))]}" || rc=$?
		n=$(grep -o 'replies [0-9]*' "$TMP/load.$i" | tail -1 | cut -d' ' -f2)
		total=$((total + ${n:-0}))
		if [[ $rc -ne 0 ]]; then
			[[ $rc -eq 2 || $rc -eq 124 ]] && timedout=$((timedout + 1))
			bad+=("$(tail -1 "$TMP/load.$i" 2>/dev/null || echo "client $i: exit $rc, no output")")
		fi
	done
	local el
	el=$("$PY" -c "import time; print('%.0f ms' % ((time.time() - $start) * 1000))")
	if [[ ${#bad[@]} -gt 0 ]]; then
		printf '  %s\n' "${bad[@]}" >&2
		if [[ $timedout -gt 0 ]]; then
			step_fail "$name" "8 concurrent clients: timed out after $STEP s ($timedout of 8 clients), $total of 8000 replies"
		fi
		step_fail "$name" "8 concurrent clients: ${#bad[@]} of 8 clients failed, $total of 8000 replies"
	fi
	[[ $total -eq 8000 ]] || fail "$APP_WHAT: 8 concurrent clients: $total of 8000 replies"
	ok "$APP_WHAT: 8 concurrent clients x 500 set/get pairs, 8000 replies checked ($el)"

	t0=${EPOCHREALTIME/./}
	local base=$BASE_CONNS
	stats_wait 0 "$base"
	expect_stat total_items 4003
	expect_stat curr_items 4003
	expect_stat cmd_set 4003
	expect_stat cmd_get 4003
	expect_stat get_hits 4003
	expect_stat get_misses 0
	expect_stat incr_hits 1
	expect_stat decr_hits 1
	stats_wait 3 $((base + 3))
	ok "$APP_WHAT: stats: curr_connections $base, $((base + 3)) with 3 more open; total_items 4003, cmd_get 4003 ($(ms_since "$t0"))"

	t0=${EPOCHREALTIME/./}
	local rc=0
	out=$(in_peer timeout "$STEP" memcslap --servers="$ADDR:11211" --concurrency=4 --execute-number=2000 2>&1) || rc=$?
	if [[ $rc -ne 0 ]]; then
		printf '%s\n' "$out" | tail -n 20 >&2
		[[ $rc -eq 124 ]] && step_fail "$name" "memcslap --concurrency=4 --execute-number=2000: timed out after $STEP s"
		step_fail "$name" "memcslap --concurrency=4 --execute-number=2000: exit status $rc"
	fi
	local el2
	el2=$(ms_since "$t0")
	stats_wait 0 "$base"
	grep -q 'Time to set  *8000 keys by  *4 threads' <<<"$out" ||
		fail "$APP_WHAT: memcslap did not report setting 8000 keys by 4 threads: $out"
	# memcslap sets 2000 keys 4 times over (one pass per thread): 8000 stores, 2000 new keys.
	expect_stat total_items 12003
	expect_stat cmd_set 12003
	expect_stat curr_items 6003
	ok "$APP_WHAT: memcslap -c 4 -e 2000: exit 0, 8000 sets (total_items 12003, curr_items 6003), curr_connections back to $base ($el2)"
	app_stop "$mode" "$name"
}

# A second run with UDP on: one set and one get in UDP datagrams.
mc_udp() {
	local mode=$1 name=memcached-udp-$1 out t0
	ADDR=$KERNEL_IP
	[[ $mode == sluice ]] && ADDR=$STACK_IP
	app_start "$mode" "$name" memcached -u root -t 1 -p 11211 -U 11211 -l "$ADDR"
	APP_WHAT="memcached on $mode"
	mc_wait "$name" "$ADDR"
	t0=${EPOCHREALTIME/./}
	out=$(mc udp "$ADDR" 11211 "$STEP") || step_fail "$name" "UDP set/get (-U 11211): $out"
	ok "$APP_WHAT: UDP set/get on port 11211 ($(ms_since "$t0"))"
	app_stop "$mode" "$name"
}

# The kernel first (no XDP program on the link yet), then the same under sluice exec.
mc_suite kernel
mc_udp kernel
mc_suite sluice
mc_udp sluice
echo "PASS: memcached -t 1 under sluice exec, as on the kernel"
