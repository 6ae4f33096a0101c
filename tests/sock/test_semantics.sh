#!/usr/bin/env bash
# The socket-semantics suite (issue 12): one program, tests/sock/semantics.c, runs the same
# checks twice from the stack namespace against a kernel peer (tests/sock/peer.py):
#   1. plain, on the kernel's own sockets (address $KERNEL_IP / $KERNEL6): the reference run,
#      which proves every expectation against Linux;
#   2. under `sluice exec` (addresses $STACK_IP / $STACK6): the sluice run.
# Both must pass every check. A check that hangs (its 20 s alarm, exit 3) or kills the program
# ends that run; the run is then resumed after it (--after NAME), so one does not hide the rest.
#
# SEMANTICS_ONLY=NAME runs that one check alone, in both runs (NAME as semantics --list prints
# it), e.g. SEMANTICS_ONLY=tcp_backlog_overflow bash tests/sock/test_semantics.sh
source "$(dirname "$0")/../net/lib.sh"
source "$(dirname "$0")/../net/lib6.sh"
BIN=${SEMANTICS_BIN:-$ROOT/build/sock/semantics}
[[ -x $BIN ]] || fail "$BIN missing (make $(realpath --relative-to="$ROOT" "$BIN"))"
need timeout nsenter
setup_net6

PEER_PID=
stop_peer() {
	if [[ -n $PEER_PID ]] && kill -0 "$PEER_PID" 2>/dev/null; then
		kill -TERM "$PEER_PID" 2>/dev/null
		wait "$PEER_PID" 2>/dev/null
	fi
	PEER_PID=
}
trap 'stop_peer; cleanup' EXIT

# The peer helper, bounded by its own --lifetime; nsenter execs it, so $! is python itself.
nsenter --net=/run/netns/"$NS_PEER" "$PY" "$ROOT/tests/sock/peer.py" --lifetime 560 \
	>"$TMP/peer.out" 2>"$TMP/peer.err" &
PEER_PID=$!
for _ in $(seq 50); do
	grep -q '^ready' "$TMP/peer.out" 2>/dev/null && break
	kill -0 "$PEER_PID" 2>/dev/null || break
	sleep 0.1
done
grep -q '^ready' "$TMP/peer.out" || fail "peer helper did not start: $(head -c 500 "$TMP/peer.err")"
ok "peer helper serving on $PEER_IP and $PEER6 (pid $PEER_PID)"

NCHECKS=$("$BIN" --list | wc -l)
ONLY=()
if [[ -n ${SEMANTICS_ONLY:-} ]]; then
	"$BIN" --list | grep -x -- "$SEMANTICS_ONLY" >/dev/null || fail "no check named '$SEMANTICS_ONLY'"
	ONLY=(--only "$SEMANTICS_ONLY")
	NCHECKS=1
fi

# run_suite LABEL COMMAND...: runs COMMAND in the stack namespace (the semantics program's
# arguments, $ARGS, go where @ARGS@ is), resuming after a check that hung (exit status 3, its
# FAIL line printed) or killed the program (a signal or any other status: a FAIL line is
# added for the check after the last one reported); keeps every line in $TMP/LABEL.out;
# returns 0 when every check passed.
run_suite() {
	local label=$1
	shift
	local out=$TMP/$label.out after=() rc stop last next
	: >"$out"
	for _ in $(seq "$NCHECKS"); do
		local cmd=()
		for a in "$@"; do
			if [[ $a == @ARGS@ ]]; then
				cmd+=("${after[@]}" "${ONLY[@]}" "${ARGS[@]}")
			else
				cmd+=("$a")
			fi
		done
		rc=0
		in_sl timeout 280 "${cmd[@]}" >"$TMP/$label.part" 2>"$TMP/$label.err" || rc=$?
		cat "$TMP/$label.part" >>"$out"
		[[ -s $TMP/$label.err ]] && sed "s/^/[$label stderr] /" "$TMP/$label.err" >>"$out"
		[[ $rc -eq 0 || $rc -eq 1 ]] && break
		if [[ $rc -eq 3 ]]; then
			stop=$(grep '^FAIL .*: timed out' "$TMP/$label.part" | tail -1 | sed 's/^FAIL \([^:]*\):.*/\1/')
		else
			# Died: blame the check after the last one that reported.
			last=$(grep -E '^(ok|FAIL) ' "$TMP/$label.part" | tail -1 | sed -E 's/^(ok|FAIL) ([^: ]*).*/\2/')
			if [[ -z $last ]]; then
				last=${after[1]:-}
			fi
			if [[ ${#ONLY[@]} -gt 0 ]]; then
				next=$SEMANTICS_ONLY
				[[ $last != "$next" ]] || break
			elif [[ -z $last ]]; then
				next=$("$BIN" --list | head -1)
			else
				next=$("$BIN" --list | grep -A1 -x "$last" | sed -n 2p)
			fi
			[[ -n $next ]] || break
			echo "FAIL $next: the program died (exit status $rc) during this check" >>"$out"
			stop=$next
		fi
		[[ -n $stop ]] || break
		after=(--after "$stop")
		rc=1
	done
	sed "s/^/[$label] /" "$out"
	local nok nfail
	nok=$(grep -c '^ok ' "$out")
	nfail=$(grep -c '^FAIL ' "$out")
	echo "[$label] $nok ok, $nfail failed (of $NCHECKS checks)"
	[[ $nfail -eq 0 && $rc -eq 0 && $nok -eq $NCHECKS ]]
}

status=0
summary=()

# verdict LABEL: one line for the end of the log (the FAIL lines of LABEL's run, if any).
verdict() {
	local fails
	fails=$(grep '^FAIL ' "$TMP/$1.out" | sed 's/^FAIL \([^:]*\):.*/\1/' | tr '\n' ' ')
	summary+=("$1 run: $(grep -c '^ok ' "$TMP/$1.out") of $NCHECKS checks ok${fails:+; failed: $fails}")
}

ARGS=("$KERNEL_IP" "$PEER_IP" "$KERNEL6" "$PEER6")
if run_suite kernel "$BIN" @ARGS@; then
	ok "kernel reference run: every check passed"
else
	echo "FAIL: the kernel reference run failed: the suite's expectations are wrong" >&2
	status=1
fi
verdict kernel

ARGS=("$STACK_IP" "$PEER_IP" "$STACK6" "$PEER6")
if run_suite sluice "$SLUICE" exec "$IF_SL" --addr "$STACK_IP/$PLEN" --addr "$STACK6/64" \
	-- "$BIN" @ARGS@; then
	ok "sluice run: every check passed"
else
	grep -q '^FAIL ' "$TMP/sluice.out" ||
		echo "FAIL: no check ran under sluice exec: $(grep -m1 stderr "$TMP/sluice.out")" >&2
	status=1
fi
verdict sluice

kill -0 "$PEER_PID" 2>/dev/null || {
	echo "FAIL: the peer helper died" >&2
	status=1
}
printf '%s\n' "${summary[@]}"
exit $status
