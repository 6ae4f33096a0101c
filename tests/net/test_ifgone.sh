#!/usr/bin/env bash
# The interface under a running `sluice run` (issue 9, item 2). Each case builds its own
# namespaces (lib.sh), runs the stack, does one thing to its interface and checks the outcome:
#
#   deleted       `ip link del DEV`                 exits 1 within 2 s, one line, frames N/N
#   moved         `ip link set DEV netns OTHER`     the same
#   netns         the stack's namespace deleted (sluice still inside it), then the one with
#                 the veth's other end (no process inside): the first leaves the veth alive
#                 (sluice holds the namespace, it keeps serving), the second destroys the
#                 pair; under a TCP transfer that left output in the TX ring this used to
#                 spin on a dead socket for ever. Exits 1 within 2 s of the interface's
#                 end, CPU < 25 % of that time.
#   down          link down 3 s under TCP echo traffic (output waiting): keeps running, CPU
#                 time < 10 % of the wall time while down; UDP and TCP work again after up;
#                 a clean stop then exits 0 with frames N/N
#   detach        `sluice detach DEV` from another process: exits 1 within 2 s, one line
#   xdp-off       `ip link set DEV xdp off` from another process: the same
#
# IFGONE_CASES="deleted down" runs only those cases (default: all).
#
# Every wait is bounded; CPU time comes from /proc/PID/stat (utime+stime), read while the
# exited sluice is still a zombie so its last ticks count.
source "$(dirname "$0")/lib.sh"
need socat timeout getconf
HZ=$(getconf CLK_TCK)
NS_OTHER=slt-$ID-other
NS_FAR=slt-$ID-far
IF_PF=slf$ID # NS_PEER's end of the link to NS_FAR
IF_FAR=slg$ID
FAR_PEER_IP=10.$NET.1.1
FAR_IP=10.$NET.1.2
HELPERS=() # background helpers of the current case, stopped by their own PIDs
PINS=

now_ms() { echo $(($(date +%s%N) / 1000000)); }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }
pstate() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }

# Undo one case: sluice and helpers by PID, the gate, the namespaces, pins left by a gate
# whose interface vanished (nothing else removes those).
reset_case() {
	if [[ -n $SLUICE_PID ]]; then
		kill -KILL "$SLUICE_PID" 2>/dev/null
		wait "$SLUICE_PID" 2>/dev/null
		SLUICE_PID=
	fi
	local p
	for p in "${HELPERS[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	HELPERS=()
	[[ -e /run/netns/$NS_SL ]] && in_sl "$SLUICE" detach "$IF_SL" >/dev/null 2>&1
	for ns in "$NS_PEER" "$NS_SL" "$NS_OTHER" "$NS_FAR"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ -n $PINS && -d $PINS ]]; then
		rm -rf "$PINS"
		rmdir "$(dirname "$PINS")" 2>/dev/null
	fi
	PINS=
	: >"$TMP/run.out"
	: >"$TMP/run.err"
}
cleanup_all() {
	reset_case
	rm -rf "$TMP"
}
trap cleanup_all EXIT

# After setup_net: where the gate of this case will pin its maps (removed by reset_case).
note_pins() {
	PINS=${SLUICE_BPFFS:-/sys/fs/bpf}/sluice/$(stat -L -c %i /run/netns/"$NS_SL")/$IF_SL
}

# wait_exit LIMIT_S: wait (bounded) until sluice has exited; sets RC, ELAPSED_MS (from
# $T_EVENT) and CPU_TICKS (since $TICKS_EVENT); fails if it is still running after LIMIT_S.
wait_exit() {
	local limit_ms=$(($1 * 1000)) st t
	while :; do
		st=$(pstate "$SLUICE_PID")
		[[ -z $st || $st == Z ]] && break
		t=$(ticks "$SLUICE_PID")
		if (($(now_ms) - T_EVENT > limit_ms)); then
			fail "$CASE: sluice still running $1 s after the event (CPU $((t - TICKS_EVENT)) ticks at $HZ Hz since; stderr: $(tr '\n' '|' <"$TMP/run.err"))"
		fi
		sleep 0.05
	done
	ELAPSED_MS=$(($(now_ms) - T_EVENT))
	t=$(ticks "$SLUICE_PID")
	CPU_TICKS=$((${t:-$TICKS_EVENT} - TICKS_EVENT))
	RC=0
	wait "$SLUICE_PID" || RC=$?
	SLUICE_PID=
}

event() {
	T_EVENT=$(now_ms)
	TICKS_EVENT=$(ticks "$SLUICE_PID")
}

# check_stopped_gone LIMIT_MS LINE: exit status 1 within LIMIT_MS, LINE once on stderr, the
# JSON summary on stdout with every frame returned.
check_stopped_gone() {
	local limit=$1 line=$2
	[[ $RC -eq 1 ]] || fail "$CASE: exit status $RC, want 1 (stderr: $(tr '\n' '|' <"$TMP/run.err"))"
	((ELAPSED_MS <= limit)) || fail "$CASE: took $ELAPSED_MS ms to stop, want <= $limit"
	[[ $(grep -cxF "$line" "$TMP/run.err") -eq 1 ]] ||
		fail "$CASE: want the line '$line' once on stderr, got: $(tr '\n' '|' <"$TMP/run.err")"
	$PY - "$TMP/run.out" <<'EOF' || fail "$CASE: JSON summary"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
if len(lines) != 1:
    sys.exit("want one JSON summary on stdout, got %d" % len(lines))
d = json.loads(lines[0])
if d["frames_returned"] != d["frames_total"] or d["frame_owner_errors"]:
    sys.exit("frames %d/%d returned, %d owner errors" % (d["frames_returned"], d["frames_total"], d["frame_owner_errors"]))
EOF
}

udp_echo_from_peer() { # udp_echo_from_peer NS [TRIES]: one datagram echoed (bounded retries)
	local ns=$1 tries=${2:-1} out
	for _ in $(seq "$tries"); do
		out=$(printf 'ifgone %s' "$ns" | ip netns exec "$ns" timeout 5 socat -t 1 - "UDP:$STACK_IP:7" 2>/dev/null)
		[[ $out == "ifgone $ns" ]] && return 0
	done
	return 1
}

want() { [[ -z ${IFGONE_CASES:-} || " $IFGONE_CASES " == *" $1 "* ]]; }

gone_line() { echo "sluice: $IF_SL disappeared (deleted or moved out of this namespace): stopping"; }
gate_line() { echo "sluice: the gate on $IF_SL was detached or replaced by another process: stopping"; }

# --- deleted -----------------------------------------------------------------------------
if want deleted; then
	CASE=deleted
	setup_net
	note_pins
	start_sluice --udp-echo 7 --json
	udp_echo_from_peer "$NS_PEER" 3 || fail "$CASE: no UDP echo before the deletion"
	event
	in_sl ip link del "$IF_SL" || fail "$CASE: ip link del"
	wait_exit 5
	check_stopped_gone 2000 "$(gone_line)"
	ok "$CASE: veth deleted under sluice run: exit 1 after $ELAPSED_MS ms, one line, frames all returned"
	reset_case
fi

# --- moved -------------------------------------------------------------------------------
if want moved; then
	CASE=moved
	setup_net
	note_pins
	ip netns add "$NS_OTHER" || fail "cannot create namespace"
	start_sluice --udp-echo 7 --json
	udp_echo_from_peer "$NS_PEER" 3 || fail "$CASE: no UDP echo before the move"
	event
	in_sl ip link set "$IF_SL" netns "$NS_OTHER" || fail "$CASE: ip link set netns"
	wait_exit 5
	check_stopped_gone 2000 "$(gone_line)"
	ok "$CASE: veth moved to another namespace: exit 1 after $ELAPSED_MS ms, one line, frames all returned"
	reset_case
fi

# --- netns -------------------------------------------------------------------------------
if want netns; then
	# NS_SL ── veth ── NS_PEER (a router, no process) ── veth ── NS_FAR (nc, the TCP receiver)
	CASE=netns
	setup_net
	note_pins
	ip netns add "$NS_FAR" || fail "cannot create namespace"
	ip link add "$IF_PF" netns "$NS_PEER" type veth peer name "$IF_FAR" netns "$NS_FAR" ||
		fail "cannot create the second veth pair"
	ip -n "$NS_FAR" link set lo up
	in_peer sysctl -qw net.ipv4.ip_forward=1
	for pair in "$NS_PEER:$IF_PF:$FAR_PEER_IP" "$NS_FAR:$IF_FAR:$FAR_IP"; do
		IFS=: read -r ns dev a <<<"$pair"
		ip netns exec "$ns" sysctl -qw net.ipv6.conf."$dev".disable_ipv6=1
		ip netns exec "$ns" ethtool -K "$dev" tx off >/dev/null 2>&1
		ip -n "$ns" addr add "$a/24" dev "$dev"
		ip -n "$ns" link set "$dev" up
	done
	ip -n "$NS_FAR" route add "10.$NET.0.0/24" via "$FAR_PEER_IP" || fail "$CASE: route in $NS_FAR"
	# A TCP transfer from the stack to nc in NS_FAR keeps output in the stack's TX ring; when
	# the interface vanishes under it, that ring is never drained again (the old busy loop).
	ip netns exec "$NS_FAR" nc -l -p 5000 >/dev/null &
	NC_PID=$!
	HELPERS+=("$NC_PID")
	sleep 0.3
	start_sluice --udp-echo 7 --gw "$PEER_IP" --send "$FAR_IP:5000:100000000000" --json
	for _ in $(seq 50); do
		[[ $(stat_of tcp_rx 2>/dev/null || echo 0) -gt 100 ]] && break
		sleep 0.1
	done
	[[ $(stat_of tcp_rx) -gt 100 ]] || fail "$CASE: the TCP transfer to $FAR_IP did not start"
	sleep 0.5
	netns_link() { nsenter --net=/proc/"$SLUICE_PID"/ns/net ip link show "$IF_SL" >/dev/null 2>&1; }
	ip netns del "$NS_SL" || fail "$CASE: ip netns del $NS_SL"
	sleep 1
	kill -0 "$SLUICE_PID" 2>/dev/null || fail "$CASE: sluice exited when only its namespace's name was deleted: $(tr '\n' '|' <"$TMP/run.err")"
	netns_link || fail "$CASE: expected $IF_SL to live on in the (unnamed) namespace sluice holds"
	udp_echo_from_peer "$NS_FAR" 3 || fail "$CASE: the stack stopped serving after its namespace's name was deleted"
	ok "$CASE: the stack's namespace deleted with sluice inside: the namespace lives on (sluice holds it), $IF_SL with it, and the stack keeps serving"
	# Now the namespace with the veth's other end, which nothing holds: it is destroyed, and a
	# veth goes with its peer, so $IF_SL is unregistered under the running stack.
	[[ -z $(ip netns pids "$NS_PEER") ]] || fail "$CASE: processes left in $NS_PEER"
	ip netns del "$NS_PEER" || fail "$CASE: ip netns del $NS_PEER"
	# The kernel destroys the namespace from a workqueue: the clock starts when $IF_SL is
	# seen gone from the namespace sluice holds (or sluice has already exited).
	for _ in $(seq 100); do
		netns_link || break
		sleep 0.02
	done
	netns_link && fail "$CASE: $IF_SL still there 2 s after its peer's namespace was deleted"
	event
	wait_exit 5
	check_stopped_gone 2000 "$(gone_line)"
	pct=$((100 * CPU_TICKS * 1000 / HZ / (ELAPSED_MS > 0 ? ELAPSED_MS : 1)))
	((pct < 25)) || fail "$CASE: $CPU_TICKS ticks of CPU in $ELAPSED_MS ms ($pct %) between the interface's end and the exit: spinning"
	ok "$CASE: then the peer's namespace deleted (the veth pair destroyed under a TCP transfer): exit 1 $ELAPSED_MS ms after $IF_SL went, CPU $pct % of that time, one line, frames all returned"
	reset_case
fi

# --- down --------------------------------------------------------------------------------
if want down; then
	CASE=down
	setup_net
	note_pins
	start_sluice --udp-echo 7 --tcp-echo 8
	udp_echo_from_peer "$NS_PEER" 3 || fail "$CASE: no UDP echo before the link went down"
	# A kernel client streaming into the TCP echo service: the stack always has echoed data in
	# flight, so while the link is down it has output to send (retransmissions).
	ip netns exec "$NS_PEER" nc "$STACK_IP" 8 </dev/zero >/dev/null & # $! is nc: ip netns exec execs it
	HELPERS+=("$!")
	for _ in $(seq 50); do
		[[ $(stat_of tcp_rx 2>/dev/null || echo 0) -gt 100 ]] && break
		sleep 0.1
	done
	[[ $(stat_of tcp_rx) -gt 100 ]] || fail "$CASE: the TCP echo stream did not start"
	event
	in_sl ip link set "$IF_SL" down || fail "$CASE: ip link set down"
	sleep 3
	t=$(ticks "$SLUICE_PID")
	wall_ms=$(($(now_ms) - T_EVENT))
	kill -0 "$SLUICE_PID" 2>/dev/null || fail "$CASE: sluice exited while the link was down: $(tr '\n' '|' <"$TMP/run.err")"
	pct=$((100 * (t - TICKS_EVENT) * 1000 / HZ / wall_ms))
	((pct < 10)) || fail "$CASE: $((t - TICKS_EVENT)) ticks of CPU in $wall_ms ms ($pct %) while the link was down: spinning"
	ok "$CASE: link down ${wall_ms} ms: sluice keeps running, CPU $pct % of the time"
	in_sl ip link set "$IF_SL" up || fail "$CASE: ip link set up"
	for _ in $(seq 50); do
		in_peer ip link show "$IF_PEER" | grep 'state UP' >/dev/null && break
		sleep 0.1
	done
	udp_echo_from_peer "$NS_PEER" 5 || fail "$CASE: no UDP echo after the link came back"
	# Both ends' retransmission timers backed off while the link was down (RFC 6298 (5.5)):
	# give the stream up to 10 s to pick up again.
	rx0=$(stat_of tcp_rx)
	t_up=$(now_ms)
	for _ in $(seq 100); do
		rx1=$(stat_of tcp_rx)
		((rx1 > rx0 + 100)) && break
		sleep 0.1
	done
	((rx1 > rx0 + 100)) || fail "$CASE: the TCP echo stream did not resume after up ($rx0 -> $rx1 segments in 10 s)"
	resumed_ms=$(($(now_ms) - t_up))
	rc=0
	stop_sluice || rc=$?
	[[ $rc -eq 0 ]] || fail "$CASE: stop after the link came back: exit $rc ($(tr '\n' '|' <"$TMP/run.err"))"
	grep -q 'frames \([0-9]*\)/\1 returned' "$TMP/run.err" || fail "$CASE: frames not all returned: $(tail -1 "$TMP/run.err")"
	ok "$CASE: after up, UDP echo answers and the TCP stream resumes (100 segments more within $resumed_ms ms); stop exits 0, frames all returned"
	reset_case
fi

# --- detach / xdp-off ----------------------------------------------------------------------
for CASE in detach xdp-off; do
	want "$CASE" || continue
	setup_net
	note_pins
	start_sluice --udp-echo 7 --json
	udp_echo_from_peer "$NS_PEER" 3 || fail "$CASE: no UDP echo before"
	event
	if [[ $CASE == detach ]]; then
		in_sl "$SLUICE" detach "$IF_SL" >/dev/null || fail "$CASE: sluice detach failed"
	else
		in_sl ip link set "$IF_SL" xdp off || fail "$CASE: ip link set xdp off failed"
	fi
	wait_exit 5
	check_stopped_gone 2000 "$(gate_line)"
	ok "$CASE: the gate detached by another process: exit 1 after $ELAPSED_MS ms, one line, frames all returned"
	reset_case
done
