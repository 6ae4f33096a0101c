#!/usr/bin/env bash
# iperf3 under `sluice exec`, as a server and as a client (Debian's iperf3 3.x binary; make deps
# installs it). iperf3 reads TCP_INFO (tcp(7): retransmits, snd_cwnd, rtt for its reports) and
# TCP_CONGESTION on its TCP sockets, in both roles. Every scenario runs first with the same
# binary on the kernel (the stack namespace's KERNEL_IP, no sluice exec), to show that the test
# itself is right, then with the stack-namespace side under
#   sluice exec IF --addr STACK_IP/24 -- iperf3 ...
# The other side is always a kernel iperf3 in the peer namespace. Each scenario's JSON report
# (iperf3 -J, the client's) is checked by tests/net/iperf3_json.py (/usr/bin/python3):
#
#   (a) server   iperf3 -s -1 -B ADDR in the stack namespace; kernel client in the peer:
#                iperf3 -c ADDR -t 1 -J. The client exits 0; its report has no "error", bytes
#                sent and received > 0, retransmits/snd_cwnd in every interval (the client's
#                TCP_INFO), receiver_tcp_congestion (the server's TCP_CONGESTION) a name; the
#                server leaves after the one test with exit status 0 and printed no error
#                (no "iperf3: ..." line: a server reports a failed getsockopt so, and goes on).
#   (b) client   kernel iperf3 -s -1 -B PEER_IP in the peer; iperf3 -c PEER_IP -t 1 -J in the
#                stack namespace: exit 0, no "error", bytes > 0, and the sender's TCP_INFO
#                fields (every interval: retransmits an integer >= 0, snd_cwnd > 0;
#                end: max_snd_cwnd > 0, sum_sent.retransmits), sender_tcp_congestion a name;
#                no error line from either side, the peer's server exits 0.
#   (c) reverse  as (a) with -R: the stack-namespace server sends; the client's report carries
#                the server's retransmits (end.sum_sent) and its TCP_CONGESTION name.
#   (d) UDP      as (a) with -u -b 50M -t 1: no "error", datagrams > 0, lost < 1 %.
# A congestion control name is never "unknown", what iperf3 reports when its getsockopt of
# TCP_CONGESTION failed.
# In every scenario the sluice run's report must have every key the kernel run's had (the keys
# of start, intervals, end and its sums and streams), so a field iperf3 left out because a
# getsockopt failed shows. Rates are printed, never asserted.
#
# A scenario that fails is reported and the next one still runs; the script fails at the end if
# any did. Every wait is bounded (the server's "Server listening" line 10 s, a client 20 s, the
# one-off server's exit 5 s after its client's); background processes are stopped by their own
# PID (nsenter execs, so $! is iperf3 or sluice exec). About 20 s. KEEP_TMP=DIR copies every
# log and report to DIR at the end.
source "$(dirname "$0")/lib.sh"
setup_net
need iperf3 timeout

source "$(dirname "$0")/exec_lib.sh"

PEER_SRV_PID= # the kernel iperf3 server in the peer namespace, for (b)
stop_peer_srv() {
	if [[ -n $PEER_SRV_PID ]] && kill -0 "$PEER_SRV_PID" 2>/dev/null; then
		kill -KILL "$PEER_SRV_PID" 2>/dev/null
	fi
	[[ -n $PEER_SRV_PID ]] && wait "$PEER_SRV_PID" 2>/dev/null
	PEER_SRV_PID=
}
trap 'stop_peer_srv; app_cleanup' EXIT

CHECK=("$PY" "$ROOT/tests/net/iperf3_json.py")
SECS=1
RESULTS=()
FAILED=0

# stop_app: the server started with app_start, if still there: its children first (sluice
# exec's iperf3), then it; by PID.
stop_app() {
	[[ -n $APP_PID ]] || return 0
	local p
	for p in $(children "$APP_PID"); do kill -KILL "$p" 2>/dev/null; done
	kill -KILL "$APP_PID" 2>/dev/null
	wait "$APP_PID" 2>/dev/null
	APP_PID=
}

# wait_listening FILE PID: until FILE has iperf3's "Server listening" line (--forceflush
# writes it at once), at most 10 s; fails early if PID is gone.
wait_listening() {
	local t0=$SECONDS
	while ((SECONDS - t0 < 10)); do
		grep -q '^Server listening' "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# wait_exit PID: the exit status of PID (a child of this shell) once it ends, at most 5 s;
# 124 (and PID killed) when it is still running then.
wait_exit() {
	local t0=$SECONDS rc=0
	while ((SECONDS - t0 < 5)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$1" 2>/dev/null; then
		local p
		for p in $(children "$1"); do kill -KILL "$p" 2>/dev/null; done
		kill -KILL "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		return 124
	fi
	wait "$1" || rc=$?
	return $rc
}

# bad MESSAGE: one FAIL line for the scenario $WHAT (the tails of its logs, $LOGS, after its
# first); returns 1.
bad() {
	echo "FAIL: $WHAT: $*" >&2
	[[ -n $LOGS_SHOWN ]] && return 1
	LOGS_SHOWN=1
	local f
	for f in "${LOGS[@]}"; do
		[[ -s $f ]] && { echo "  --- $(basename "$f"):" >&2; tail -n 8 "$f" | sed 's/^/  | /' >&2; }
	done
	return 1
}

# no_iperf3_errors WHO FILE...: iperf3 prints each error it carries on past as one line
# "iperf3: MESSAGE" (a server does not stop for a failed getsockopt: it goes on with what it
# had); there must be none.
no_iperf3_errors() {
	local who=$1 lines
	shift
	lines=$(cat "$@" 2>/dev/null | grep '^iperf3: ' | sort | uniq -c | sed 's/^ *//' | tr '\n' ';')
	[[ -z $lines ]] || { bad "$who printed errors: ${lines%;}"; return 1; }
}

# report MODE SCEN JSON ARGS...: iperf3_json.py on the client's report; the kernel run saves its
# key sets, the sluice run wants them.
report() {
	local mode=$1 scen=$2 json=$3 out keys=$TMP/keys-$2.json
	shift 3
	local ka=()
	if [[ $mode == kernel ]]; then
		ka=(--keys-save "$keys")
	elif [[ -s $keys ]]; then
		ka=(--keys-want "$keys")
	fi
	out=$("${CHECK[@]}" "$@" "$json" "${ka[@]}") || { bad "${out#FAIL: }"; return 1; }
	ok "$WHAT: $out"
}

# server_scenario MODE SCEN PORT CHECKARGS -- CLIENTARGS...: iperf3 -s -1 in the stack
# namespace (on MODE), a kernel client in the peer.
server_scenario() {
	local mode=$1 scen=$2 port=$3 addr=$KERNEL_IP name=$2-$1 chk=() rc=0
	shift 3
	while [[ $1 != -- ]]; do chk+=("$1"); shift; done
	shift
	[[ $mode == sluice ]] && addr=$STACK_IP
	WHAT="($scen) iperf3 -s -1 on $mode, kernel client iperf3 -c $addr${*:+ $*}"
	LOGS_SHOWN=
	LOGS=("$TMP/$name.out" "$TMP/$name.err" "$TMP/$name-client.json" "$TMP/$name-client.err")
	local t0=${EPOCHREALTIME/./}
	app_start "$mode" "$name" iperf3 -s -1 -B "$addr" -p "$port" --forceflush
	wait_listening "$TMP/$name.out" "$APP_PID" || { bad "no 'Server listening' within 10 s"; stop_app; return 1; }
	in_peer timeout -k 2 20 iperf3 -c "$addr" -p "$port" -t "$SECS" -J --connect-timeout 5000 "$@" \
		>"$TMP/$name-client.json" 2>"$TMP/$name-client.err" || rc=$?
	if [[ $rc -ne 0 ]]; then
		bad "the client exited $rc$(grep -m1 '"error"' "$TMP/$name-client.json" | sed 's/^[[:space:]]*/: /')"
		stop_app
		return 1
	fi
	local srv=0
	wait_exit "$APP_PID" || srv=$?
	APP_PID=
	local st=0
	[[ $srv -eq 0 ]] || { bad "the one-off server's exit status $srv, want 0 (124: still running 5 s after the test)"; st=1; }
	report "$mode" "$scen" "$TMP/$name-client.json" "${chk[@]}" || st=1
	no_iperf3_errors "the server" "$TMP/$name.out" "$TMP/$name.err" || st=1
	[[ $st -eq 0 ]] || return 1
	ok "$WHAT: client and one-off server exit 0, no error printed ($(ms_since "$t0"))"
}

# client_scenario MODE: (b) a kernel iperf3 -s -1 in the peer, iperf3 -c in the stack namespace.
client_scenario() {
	local mode=$1 scen=b port=5202 name=b-$1 rc=0
	WHAT="(b) iperf3 -c $PEER_IP on $mode, kernel server iperf3 -s -1 in the peer"
	LOGS_SHOWN=
	LOGS=("$TMP/$name-server.out" "$TMP/$name-server.err" "$TMP/$name.json" "$TMP/$name.err")
	local t0=${EPOCHREALTIME/./}
	nsenter --net=/run/netns/"$NS_PEER" iperf3 -s -1 -B "$PEER_IP" -p "$port" --forceflush \
		>"$TMP/$name-server.out" 2>"$TMP/$name-server.err" &
	PEER_SRV_PID=$!
	wait_listening "$TMP/$name-server.out" "$PEER_SRV_PID" || { bad "the peer's server: no 'Server listening' within 10 s"; stop_peer_srv; return 1; }
	local cmd=(iperf3 -c "$PEER_IP" -p "$port" -t "$SECS" -J --connect-timeout 5000)
	if [[ $mode == sluice ]]; then
		in_sl timeout -k 2 20 "$SLUICE" exec "$IF_SL" --addr "$STACK_IP/24" -- "${cmd[@]}" \
			>"$TMP/$name.json" 2>"$TMP/$name.err" || rc=$?
	else
		in_sl timeout -k 2 20 "${cmd[@]}" >"$TMP/$name.json" 2>"$TMP/$name.err" || rc=$?
	fi
	if [[ $rc -ne 0 ]]; then
		bad "the client exited $rc$(grep -m1 '"error"' "$TMP/$name.json" | sed 's/^[[:space:]]*/: /')"
		stop_peer_srv
		return 1
	fi
	local srv=0
	wait_exit "$PEER_SRV_PID" || srv=$?
	PEER_SRV_PID=
	local st=0
	[[ $srv -eq 0 ]] || { bad "the peer's one-off server: exit status $srv, want 0"; st=1; }
	report "$mode" "$scen" "$TMP/$name.json" tcp --sender || st=1
	no_iperf3_errors "the client" "$TMP/$name.err" || st=1
	no_iperf3_errors "the peer's server" "$TMP/$name-server.out" "$TMP/$name-server.err" || st=1
	[[ $st -eq 0 ]] || return 1
	ok "$WHAT: client and the peer's server exit 0, no error printed ($(ms_since "$t0"))"
}

run() { # run LABEL CMD...: one scenario half; its verdict goes to RESULTS
	local label=$1
	shift
	if "$@"; then
		RESULTS+=("ok   $label")
	else
		RESULTS+=("FAIL $label")
		FAILED=$((FAILED + 1))
	fi
}

T0=$SECONDS
run "(a) server, kernel" server_scenario kernel a 5201 tcp --sender --
run "(a) server, sluice" server_scenario sluice a 5201 tcp --sender --
run "(b) client, kernel" client_scenario kernel
run "(b) client, sluice" client_scenario sluice
run "(c) server -R, kernel" server_scenario kernel c 5203 tcp -- -R
run "(c) server -R, sluice" server_scenario sluice c 5203 tcp -- -R
run "(d) UDP server, kernel" server_scenario kernel d 5204 udp --max-loss 1 -- -u -b 50M
run "(d) UDP server, sluice" server_scenario sluice d 5204 udp --max-loss 1 -- -u -b 50M

[[ -n ${KEEP_TMP:-} ]] && cp -r "$TMP" "$KEEP_TMP"
printf '%s\n' "${RESULTS[@]}"
echo "($((SECONDS - T0)) s)"
if ((FAILED)); then
	echo "FAIL: $FAILED of ${#RESULTS[@]} iperf3 scenario runs failed" >&2
	exit 1
fi
echo "PASS: iperf3 as server and client (TCP, -R, UDP) under sluice exec, as on the kernel"
