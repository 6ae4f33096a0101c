#!/usr/bin/env bash
# TCP under random loss against the kernel peer. tests/net/drop.bpf.c drops 2 % of the TCP
# segments on the peer's veth in both directions: as XDP (segments from sluice) and as a tc
# clsact egress filter (packets towards sluice: GSO packets, so a drop is a burst of segments).
# Transfers must stay exact:
#   - curl 100 MiB from /bytes/N (sluice sends, loses data and ACKs), SHA-256 equal;
#   - --send 64 MiB to a kernel `nc -l`, SHA-256 equal;
#   - 16 MiB through the echo service with nc (both directions lossy: the stack receives
#     out of order and sends), SHA-256 of what came back equal;
# and the drops really happened (BPF map counters) and were repaired by the stack
# (tcp_retransmits, tcp_fast_retransmits / tcp_rto_expired grow). Before the loss starts,
# scapy checks fast retransmit itself: three duplicate ACKs draw the missing segment at
# once (not after the RTO), whichever half of the sequence space the ISN lies in.
# Takes about 60 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
setup_net
need clang gcc tc bpftool curl timeout ss sha256sum
$PY -c 'import scapy' 2>/dev/null || fail "python3-scapy missing for $PY (make deps installs it)"

# drops: "XDP_SEEN XDP_DROPPED TC_SEEN TC_DROPPED"
drops() { echo "$(in_peer $PY "$TCP_UTIL" drop-counts "$XDP_ID") $(in_peer $PY "$TCP_UTIL" drop-counts "$TC_ID")"; }

# check_loss WHAT D0 S0 [S1]: the drop programs dropped in both directions since snapshot D0
# and the stack's retransmission counters grew from stats snapshot S0 to S1 (default: now).
check_loss() {
	local what=$1 s0=$3 s1=${4:-} a b
	read -r -a a <<<"$2"
	read -r -a b <<<"$(drops)"
	[[ -n $s1 ]] || s1=$(stats_json)
	local xs=$((b[0] - a[0])) xd=$((b[1] - a[1])) ts=$((b[2] - a[2])) td=$((b[3] - a[3]))
	[[ $xd -gt 0 && $td -gt 0 ]] ||
		fail "$what: the drop programs did not drop both ways (XDP $xd of $xs, tc $td of $ts)"
	# 2 % with a generous margin: a broken random test would show up here.
	[[ $((xd * 1000)) -ge $((xs * 5)) && $((xd * 1000)) -le $((xs * 60)) ]] ||
		fail "$what: XDP dropped $xd of $xs segments, not about 2 %"
	local rtx=$(($(stats_get "$s1" tcp_retransmits) - $(stats_get "$s0" tcp_retransmits)))
	local fr=$(($(stats_get "$s1" tcp_fast_retransmits) - $(stats_get "$s0" tcp_fast_retransmits)))
	local rto=$(($(stats_get "$s1" tcp_rto_expired) - $(stats_get "$s0" tcp_rto_expired)))
	[[ $rtx -gt 0 ]] || fail "$what: segments were dropped but tcp_retransmits did not grow"
	[[ $((fr + rto)) -gt 0 ]] || fail "$what: retransmissions without fast retransmit or RTO"
	LOSS_SUMMARY="dropped $xd/$xs to the peer, $td/$ts to the stack; stack retransmitted $rtx (fast $fr, RTO $rto)"
}

# repairs S0: what the stack's loss-recovery counters did since snapshot S0 (for messages).
repairs() {
	local s1 k out=
	s1=$(stats_json)
	for k in tcp_retransmits tcp_fast_retransmits tcp_rto_expired tcp_ooo_dropped; do
		out+=" $k +$(($(stats_get "$s1" $k) - $(stats_get "$1" $k)))"
	done
	echo "stack:$out"
}

start_sluice --http 80 --tcp-echo 7
in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"

# --- fast retransmit, deterministically (before any random loss) ----------------------------
# scapy holds one segment of the stack's echo back and sends three duplicate ACKs: the stack
# must resend at once, for an ISN in either half of the sequence space.
MAC=$(in_sl ip -o link show "$IF_SL" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
failed=0
nsenter --net=/run/netns/"$NS_PEER" timeout 60 $PY "$ROOT/tests/net/tcp_hostile.py" \
	"$IF_PEER" "$STACK_IP" "$MAC" "$PEER_IP" 7 fastrtx \
	nsenter --net=/run/netns/"$NS_SL" "$SLUICE" stats "$IF_SL" --json ||
	{ failed=1; echo "FAIL: fast retransmit on three duplicate ACKs (see above)" >&2; }

# --- 2 % random loss both ways on the peer's veth -------------------------------------------
OBJ=$ROOT/build/drop.bpf.o
# Compiled beside the final name and renamed: a concurrent run never loads half a file.
clang -O2 -g -target bpf -I/usr/include/"$(gcc -dumpmachine)" -c "$ROOT/tests/net/drop.bpf.c" \
	-o "$OBJ.$$" && mv -f "$OBJ.$$" "$OBJ" || fail "cannot compile tests/net/drop.bpf.c"
# One segment per skb from the kernel: the tc filter then drops segments, not GSO bursts.
in_peer ip link set dev "$IF_PEER" gso_max_segs 1 || fail "cannot limit GSO on $IF_PEER"
in_peer ip link set dev "$IF_PEER" xdp obj "$OBJ" sec xdp || fail "cannot attach the XDP drop program to $IF_PEER"
in_peer tc qdisc add dev "$IF_PEER" clsact || fail "cannot add a clsact qdisc to $IF_PEER"
in_peer tc filter add dev "$IF_PEER" egress bpf da obj "$OBJ" sec tc ||
	fail "cannot attach the tc drop program to $IF_PEER egress"
XDP_ID=$(in_peer ip -j -d link show "$IF_PEER" | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["xdp"]["prog"]["id"])') ||
	fail "no XDP program id on $IF_PEER"
TC_ID=$(in_peer tc -j filter show dev "$IF_PEER" egress | $PY -c '
import json,sys
print([f["options"]["prog"]["id"] for f in json.load(sys.stdin) if "options" in f][0])') ||
	fail "no tc program id on $IF_PEER egress"


# --- curl 100 MiB -------------------------------------------------------------------------
N=$((100 << 20))
want=$(pattern_sha $N)
d0=$(drops)
s0=$(stats_json)
t0=$EPOCHREALTIME
in_peer timeout 120 curl -sS --max-time 110 -o "$TMP/bytes" "http://$STACK_IP/bytes/$N" ||
	fail "curl of /bytes/$N under 2 % loss failed after $(elapsed_since $t0) s ($(repairs "$s0"))"
size=$(stat -c %s "$TMP/bytes")
got=$(sha256sum "$TMP/bytes" | cut -d' ' -f1)
rm -f "$TMP/bytes"
[[ $size -eq $N ]] || fail "curl under loss: got $size bytes, expected $N"
[[ $got == "$want" ]] || fail "curl under loss: SHA-256 $got, expected $want"
check_loss "curl" "$d0" "$s0"
ok "curl 100 MiB under 2 % loss: SHA-256 matches ($(elapsed_since $t0) s); $LOSS_SUMMARY"

# --- 16 MiB through the echo service (the stack receives under loss too) -------------------
N=$((16 << 20))
want=$(pattern_sha $N)
d0=$(drops)
s0=$(stats_json)
t0=$EPOCHREALTIME
$PY "$TCP_UTIL" gen $N | in_peer timeout 120 nc -N -w 30 "$STACK_IP" 7 | $PY "$TCP_UTIL" sink >"$TMP/echo.out" ||
	fail "nc through the echo service under loss failed after $(elapsed_since $t0) s ($(repairs "$s0"))"
read -r size got <"$TMP/echo.out"
[[ $size -eq $N ]] || fail "echo under loss: $size bytes came back, expected $N"
[[ $got == "$want" ]] || fail "echo under loss: SHA-256 $got, expected $want"
check_loss "echo" "$d0" "$s0"
ok "echo 16 MiB under 2 % loss both ways: SHA-256 matches ($(elapsed_since $t0) s); $LOSS_SUMMARY"
clean_stop

# --- --send 64 MiB to nc -l ----------------------------------------------------------------
N=$((64 << 20))
want=$(pattern_sha $N)
(in_peer timeout 120 nc -l -p 5001 </dev/null | $PY "$TCP_UTIL" sink >"$TMP/sink.out") &
sinkpid=$!
wait_peer_listen 5001
d0=$(drops)
t0=$EPOCHREALTIME
start_sluice --send "$PEER_IP:5001:$N"
# Counters vanish when the run ends: sample them while it sends.
s_last='{}'
for _ in $(seq 1100); do
	kill -0 "$SLUICE_PID" 2>/dev/null || break
	s=$(stats_json)
	[[ $s != '{}' ]] && s_last=$s
	sleep 0.1
done
kill -0 "$SLUICE_PID" 2>/dev/null &&
	fail "--send 64 MiB under loss still running after 110 s (stack: tcp_fast_retransmits $(stats_get "$s_last" tcp_fast_retransmits), tcp_rto_expired $(stats_get "$s_last" tcp_rto_expired))"
rc=0
wait "$SLUICE_PID" || rc=$?
SLUICE_PID=
[[ $rc -eq 0 ]] || { cat "$TMP/run.err" >&2; fail "--send under loss exited $rc"; }
wait $sinkpid || fail "the kernel nc -l receiver failed"
read -r size got <"$TMP/sink.out"
[[ $size -eq $N ]] || fail "--send under loss: nc received $size bytes, expected $N"
[[ $got == "$want" ]] || fail "--send under loss: SHA-256 $got, expected $want"
grep -q 'frames 4096/4096 returned' "$TMP/run.err" || fail "--send: frames not all returned: $(cat "$TMP/run.err")"
# The counters vanish with the run: the last sample (at most 0.1 s before the end) stands in.
check_loss "--send" "$d0" '{}' "$s_last"
ok "--send 64 MiB under 2 % loss: SHA-256 matches ($(elapsed_since $t0) s); $LOSS_SUMMARY (last sample)"
[[ $failed -eq 0 ]] || fail "fast retransmit failed (see above)"
