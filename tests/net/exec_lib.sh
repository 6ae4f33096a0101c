# Shared by the tests that run unmodified servers on the kernel and under `sluice exec`
# (test_exec_apps.sh, test_exec_memcached.sh, test_exec_iperf3.sh); sourced after lib.sh and
# setup_net. It sets the EXIT trap (app_cleanup). The caller names what runs in APP_WHAT after
# app_start.

APP_PID= # sluice exec (or the kernel-run server itself): $! of nsenter, which execs it
APP_WHAT=

# children PID: PID's child processes, recursively (deepest first).
children() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		children "$c"
		echo "$c"
	done
}
app_cleanup() {
	if [[ -n $APP_PID ]]; then
		local p
		# The server first, so that sluice exec reaps it (and removes its rules) and ends.
		for p in $(children "$APP_PID"); do kill -KILL "$p" 2>/dev/null; done
		for _ in $(seq 20); do
			kill -0 "$APP_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$APP_PID" 2>/dev/null
		wait "$APP_PID" 2>/dev/null
	fi
	APP_PID=
	cleanup
}
trap app_cleanup EXIT

# app_start MODE NAME CMD...: MODE sluice runs CMD under `sluice exec $IF_SL --addr
# $STACK_IP/24`, MODE kernel runs CMD as it is; both in the stack namespace, nsenter execing
# so that $! is sluice exec (or the server). Output in $TMP/NAME.out and .err.
app_start() {
	local mode=$1 name=$2
	shift 2
	APP_WHAT="$name on $mode"
	if [[ $mode == sluice ]]; then
		nsenter --net=/run/netns/"$NS_SL" "$SLUICE" exec "$IF_SL" --addr "$STACK_IP/24" -- "$@" \
			>"$TMP/$name.out" 2>"$TMP/$name.err" &
	else
		nsenter --net=/run/netns/"$NS_SL" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	fi
	APP_PID=$!
}
app_alive() { [[ -n $APP_PID ]] && kill -0 "$APP_PID" 2>/dev/null; }
app_log() { tail -n 20 "$TMP/$1.out" "$TMP/$1.err" >&2; }
app_died() { # app_died NAME: fail with what the server said
	app_log "$1"
	local rc=0
	wait "$APP_PID" || rc=$?
	APP_PID=
	fail "$APP_WHAT exited (status $rc) before it served"
}
ms_since() { echo "$(((${EPOCHREALTIME/./} - $1) / 1000)) ms"; }

# app_stop MODE NAME: SIGTERM to $APP_PID, at most 10 s for it to end; it must exit 0 and, with
# sluice exec, its child must be gone and its owned-address rule (listed while it ran) removed.
app_stop() {
	local mode=$1 name=$2 kids rc=0 t0=${EPOCHREALTIME/./}
	kids=$(children "$APP_PID")
	if [[ $mode == sluice ]]; then
		[[ -n $kids ]] || fail "$APP_WHAT: sluice exec has no child process"
		in_sl "$SLUICE" flow list "$IF_SL" >"$TMP/flows" 2>&1 || true
		grep -qF "$STACK_IP" "$TMP/flows" || { cat "$TMP/flows" >&2; fail "$APP_WHAT: no owned-address rule for $STACK_IP while it runs"; }
	fi
	kill -TERM "$APP_PID"
	for _ in $(seq 100); do
		kill -0 "$APP_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$APP_PID" 2>/dev/null; then
		app_log "$name"
		fail "$APP_WHAT: SIGTERM: still running 10 s after it"
	fi
	wait "$APP_PID" || rc=$?
	APP_PID=
	[[ $rc -eq 0 ]] || { app_log "$name"; fail "$APP_WHAT: SIGTERM: exit status $rc, want 0"; }
	local k
	for k in $kids; do
		[[ -e /proc/$k ]] && fail "$APP_WHAT: SIGTERM: child $k still exists after sluice exec ended"
	done
	if [[ $mode == sluice ]]; then
		in_sl "$SLUICE" flow list "$IF_SL" >"$TMP/flows" 2>&1 || true
		grep -qF "$STACK_IP" "$TMP/flows" && { cat "$TMP/flows" >&2; fail "$APP_WHAT: SIGTERM: rule for $STACK_IP left after exit"; }
	fi
	ok "$APP_WHAT: SIGTERM -> exit status 0${kids:+, child gone}$([[ $mode == sluice ]] && echo ', rule removed') ($(ms_since "$t0"))"
}
