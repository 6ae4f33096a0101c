#!/usr/bin/env bash
# Exact TCP transfers between sluice and the Linux kernel at 0.1, 1, 2 and 5 % random loss,
# in both directions on the wire, with Linux as client and as server. tests/net/drop.bpf.c,
# compiled once per rate, drops segments on the peer's veth: XDP for segments from sluice,
# a clsact egress filter (TC_ACT_STOLEN, one segment per skb) for segments to sluice. At
# every rate, with CUBIC (the default):
#   - curl downloads /bytes/N from sluice's HTTP service (Linux client; sluice sends);
#   - nc sends N bytes to sluice's echo service and reads them back (Linux client; both
#     ends send and receive under loss);
#   - sluice --send N bytes to a kernel `nc -l` (Linux server; sluice is the client);
# and NewReno (--cc newreno) does the same three at 2 %. Each transfer must arrive complete
# with the right SHA-256 (byte i = i mod 251); the drop programs must have dropped about the
# configured share of the segments they saw; every sluice run must end with all 4096 frames
# returned. Times and sluice's recovery counters are printed, never asserted.
# Sizes: 32 MiB at 0.1 % (a few dozen losses), 16 MiB at 1 and 2 %, 8 MiB at 5 %. Takes
# about 30 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
setup_net
# Linux's congestion control is the host's default (a namespace may only pick from the
# host's tcp_allowed_congestion_control): printed, so runs on different hosts compare.
echo "Linux peer: congestion control $(in_peer sysctl -n net.ipv4.tcp_congestion_control)"
need clang gcc tc bpftool curl timeout ss sha256sum
RATES=(1 10 20 50) # per mille
declare -A OBJ
for r in "${RATES[@]}"; do
	OBJ[$r]=$(drop_build "$r") || exit 1
done
size_for() { case $1 in 1) echo $((32 << 20)) ;; 50) echo $((8 << 20)) ;; *) echo $((16 << 20)) ;; esac; }
pct() { $PY -c "import sys; print('%g %%' % (int(sys.argv[1]) / 10))" "$1"; }
RECOVERY=(tcp_retransmits tcp_sack_rx tcp_sack_tx tcp_rack_lost tcp_recoveries tcp_tlp_probes
	tcp_rto_expired tcp_dsack_rx tcp_spurious_rtx tcp_undo)
failed=0
bad() { failed=1; echo "FAIL: $*" >&2; }

# check_drops WHAT PERMILLE D0: the drop programs dropped since snapshot D0, and in each
# direction a share of the segments they saw that a fair coin of PERMILLE/1000 explains
# (within 6 standard deviations); sets DROPS (for messages).
check_drops() {
	local a b
	read -r -a a <<<"$3"
	read -r -a b <<<"$(drop_counts)"
	local xs=$((b[0] - a[0])) xd=$((b[1] - a[1])) ts=$((b[2] - a[2])) td=$((b[3] - a[3]))
	DROPS="dropped $xd/$xs segments from sluice, $td/$ts to it"
	[[ $((xd + td)) -gt 0 ]] || { bad "$1: the drop programs dropped nothing ($DROPS)"; return; }
	local why
	why=$($PY -c '
import math, sys
p = int(sys.argv[1]) / 1000
for name, seen, drop in (("from sluice", int(sys.argv[2]), int(sys.argv[3])),
                         ("to sluice", int(sys.argv[4]), int(sys.argv[5]))):
    mu = seen * p
    sd = math.sqrt(seen * p * (1 - p))
    if abs(drop - mu) > 6 * sd + 2:
        print("%s: %d of %d dropped, expected about %.0f" % (name, drop, seen, mu))
' "$2" "$xs" "$xd" "$ts" "$td")
	[[ -z $why ]] || bad "$1: the drop rate is off: $why"
}

# pass WHAT N T0 S0 S1: one line for a transfer that arrived intact (and a row for the table).
TABLE=()
pass() {
	local el
	el=$(elapsed_since "$3")
	ok "$1: $(($2 >> 20)) MiB exact in $el s; $DROPS; sluice: $(counters_delta "$4" "$5" "${RECOVERY[@]}")"
	TABLE+=("$(printf '%-22s %4d MiB %7s s  rtx %5d  rto %3d  tlp %3d' "$1" $(($2 >> 20)) "$el" \
		$(($(stats_get "$5" tcp_retransmits) - $(stats_get "$4" tcp_retransmits))) \
		$(($(stats_get "$5" tcp_rto_expired) - $(stats_get "$4" tcp_rto_expired))) \
		$(($(stats_get "$5" tcp_tlp_probes) - $(stats_get "$4" tcp_tlp_probes))))")
}

# cc_check CC: a connection to the running stack reports congestion control CC.
# nc -N sends its FIN when the 1.5 s of silence on its stdin end; the echo service closes back,
# so nc exits then (without -N it waited for its 5 s timeout).
cc_check() {
	(sleep 1.5 | in_peer timeout 5 nc -N "$STACK_IP" 7 >/dev/null) &
	local pid=$! got=
	for _ in $(seq 10); do
		sleep 0.1
		got=$(in_sl "$SLUICE" stats "$IF_SL" --json | $PY -c "
import json,sys
d=json.load(sys.stdin)
print(' '.join(c['cc'] for c in d['stacks'][0].get('connections', []) if c['local'].endswith(':7')))")
		[[ -n $got ]] && break
	done
	wait $pid
	[[ $got == "$1" ]] || bad "an echo connection reports congestion control '$got', expected $1"
}

# curl_case CC PERMILLE: curl /bytes/N from the running stack.
curl_case() {
	local what="curl $1 $(pct "$2")" n d0 s0 s1 t0 size got
	n=$(size_for "$2")
	d0=$(drop_counts)
	s0=$(stats_json)
	t0=$EPOCHREALTIME
	if ! in_peer timeout 60 curl -sS --max-time 55 -o "$TMP/bytes" "http://$STACK_IP/bytes/$n"; then
		bad "$what: curl failed after $(elapsed_since "$t0") s"
		return
	fi
	s1=$(stats_json)
	size=$(stat -c %s "$TMP/bytes")
	got=$(sha256sum "$TMP/bytes" | cut -d' ' -f1)
	rm -f "$TMP/bytes"
	check_drops "$what" "$2" "$d0"
	[[ $size -eq $n && $got == "$(pattern_sha "$n")" ]] || { bad "$what: $size bytes, SHA-256 $got"; return; }
	pass "$what" "$n" "$t0" "$s0" "$s1"
}

# echo_case CC PERMILLE: N bytes through the echo service and back.
echo_case() {
	local what="echo $1 $(pct "$2")" n d0 s0 s1 t0 size got
	n=$(size_for "$2")
	d0=$(drop_counts)
	s0=$(stats_json)
	t0=$EPOCHREALTIME
	if ! $PY "$TCP_UTIL" gen "$n" | in_peer timeout 60 nc -N -w 30 "$STACK_IP" 7 |
		$PY "$TCP_UTIL" sink >"$TMP/echo.out"; then
		bad "$what: nc failed after $(elapsed_since "$t0") s"
		return
	fi
	s1=$(stats_json)
	read -r size got <"$TMP/echo.out"
	check_drops "$what" "$2" "$d0"
	[[ $size -eq $n && $got == "$(pattern_sha "$n")" ]] || { bad "$what: $size bytes back, SHA-256 $got"; return; }
	pass "$what" "$n" "$t0" "$s0" "$s1"
}

# send_case CC PERMILLE: sluice --send N bytes to a kernel nc -l (a sluice run of its own;
# --json prints its final counters and frame count).
send_case() {
	local what="--send $1 $(pct "$2")" n d0 t0 s1 rc=0 size got sinkpid
	n=$(size_for "$2")
	(in_peer timeout 60 nc -l -p 5001 </dev/null | $PY "$TCP_UTIL" sink >"$TMP/sink.out") &
	sinkpid=$!
	wait_peer_listen 5001
	d0=$(drop_counts)
	t0=$EPOCHREALTIME
	start_sluice --send "$PEER_IP:5001:$n" --cc "$1" --json
	for _ in $(seq 550); do kill -0 "$SLUICE_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$SLUICE_PID" 2>/dev/null; then
		bad "$what: still sending after 55 s"
		kill -TERM "$SLUICE_PID"
	fi
	wait "$SLUICE_PID" || rc=$?
	SLUICE_PID=
	wait "$sinkpid" || bad "$what: the kernel receiver (nc -l) failed"
	[[ $rc -eq 0 ]] || { cat "$TMP/run.err" >&2; bad "$what: sluice run exited $rc"; return; }
	s1=$($PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
if d["frames_total"] != 4096 or d["frames_returned"] != 4096:
    sys.exit("frames %d/%d returned" % (d["frames_returned"], d["frames_total"]))
print(json.dumps(d["counters"]))' "$TMP/run.out") || { bad "$what: $(cat "$TMP/run.out")"; return; }
	read -r size got <"$TMP/sink.out"
	check_drops "$what" "$2" "$d0"
	[[ $size -eq $n && $got == "$(pattern_sha "$n")" ]] || { bad "$what: nc received $size bytes, SHA-256 $got"; return; }
	pass "$what" "$n" "$t0" '{}' "$s1"
	ok "$what: sluice run ended with frames 4096/4096 returned"
}

T0=$EPOCHREALTIME
# --- Linux as client, CUBIC -------------------------------------------------------------
start_sluice --http 80 --tcp-echo 7
in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"
cc_check cubic
for r in "${RATES[@]}"; do
	drop_attach "${OBJ[$r]}"
	curl_case cubic "$r"
	echo_case cubic "$r"
done
drop_detach
clean_stop
# --- Linux as server, CUBIC -------------------------------------------------------------
for r in "${RATES[@]}"; do
	drop_attach "${OBJ[$r]}"
	send_case cubic "$r"
done
# --- NewReno at 2 % -----------------------------------------------------------------------
drop_detach
start_sluice --http 80 --tcp-echo 7 --cc newreno
cc_check newreno
drop_attach "${OBJ[20]}"
curl_case newreno 20
echo_case newreno 20
drop_detach
clean_stop
drop_attach "${OBJ[20]}"
send_case newreno 20

echo "matrix done in $(elapsed_since "$T0") s (times are printed, not judged):"
printf '  %s\n' "${TABLE[@]}"
[[ $failed -eq 0 ]] || fail "some transfers under loss failed (see above)"
ok "exact transfers at 0.1, 1, 2 and 5 % loss, both directions, Linux as client and server"
