#!/usr/bin/env bash
# TCP over IPv6 under 2 % random loss against the kernel peer. tests/net/drop.bpf.c, built
# with -DDROP_IPV6=1, drops 2 % of the TCP segments on the peer's veth both ways (XDP: from
# the stack; tc clsact egress: to the stack; one segment per skb). First the two kernels alone
# move 8 MiB through it (the harness drops IPv6 TCP at all), then, every byte exact:
#   - curl -6 8 MiB from --http (sluice sends data under loss, receives lossy ACKs);
#   - 8 MiB through --tcp-echo with nc -6 (sluice receives out of order and sends);
#   - --send 8 MiB to a kernel sink over IPv6 (sluice's active open under loss);
# with the drops counted both ways by the BPF programs and repaired by the stack
# (tcp_retransmits, fast retransmits or RTOs grew). About 20 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
source "$(dirname "$0")/lib6.sh"
V6_UTIL=$ROOT/tests/net/v6_util.py
N=$((8 << 20))
setup_net6
need clang gcc tc bpftool curl timeout ss sha256sum

# check_loss6 WHAT D0 S0 [S1]: both drop programs dropped since D0 (about 2 % of what the XDP
# one saw) and, when S0 is not '-', the stack's retransmission counters grew from S0 to S1.
check_loss6() {
	local what=$1 a b
	read -r -a a <<<"$2"
	read -r -a b <<<"$(drop_counts)"
	local xs=$((b[0] - a[0])) xd=$((b[1] - a[1])) ts=$((b[2] - a[2])) td=$((b[3] - a[3]))
	[[ $xd -gt 0 && $td -gt 0 ]] ||
		fail "$what: the drop programs did not drop IPv6 TCP both ways (XDP $xd of $xs, tc $td of $ts)"
	[[ $((xd * 1000)) -ge $((xs * 5)) && $((xd * 1000)) -le $((xs * 60)) ]] ||
		fail "$what: XDP dropped $xd of $xs segments, not about 2 %"
	LOSS_SUMMARY="dropped $xd/$xs from the stack side, $td/$ts towards it"
	[[ $3 == - ]] && return 0
	local s1=${4:-}
	[[ -n $s1 ]] || s1=$(stats_json)
	local rtx=$(($(stats_get "$s1" tcp_retransmits) - $(stats_get "$3" tcp_retransmits)))
	local fr=$(($(stats_get "$s1" tcp_fast_retransmits) - $(stats_get "$3" tcp_fast_retransmits)))
	local rto=$(($(stats_get "$s1" tcp_rto_expired) - $(stats_get "$3" tcp_rto_expired)))
	[[ $rtx -gt 0 ]] || fail "$what: segments were dropped but tcp_retransmits did not grow"
	[[ $((fr + rto)) -gt 0 ]] || fail "$what: retransmissions without fast retransmit or RTO"
	LOSS_SUMMARY+="; stack retransmitted $rtx (fast $fr, RTO $rto)"
}

# sink_check FILE WHAT: FILE holds "BYTES SHA256" of N pattern bytes.
sink_check() {
	local size got
	read -r size got <"$1"
	[[ $size -eq $N ]] || fail "$2: $size bytes arrived, expected $N"
	[[ $got == "$WANT" ]] || fail "$2: SHA-256 $got, expected $WANT"
}

WANT=$(pattern_sha $N)
OBJ=$TMP/drop6.bpf.o
clang -O2 -g -target bpf -I/usr/include/"$(gcc -dumpmachine)" -DDROP_PERMILLE=20 -DDROP_IPV6=1 \
	-c "$ROOT/tests/net/drop.bpf.c" -o "$OBJ" || fail "cannot compile tests/net/drop.bpf.c"
drop_attach "$OBJ"

# --- the harness: kernel to kernel over IPv6 through the drop programs ----------------------
nsenter --net=/run/netns/"$NS_SL" timeout 60 $PY "$V6_UTIL" sink 6000 0 >"$TMP/k.out" 2>"$TMP/k.err" &
ksink=$!
for _ in $(seq 50); do
	in_sl ss -Hltn 'sport = :6000' | grep LISTEN >/dev/null && break
	sleep 0.1
done
d0=$(drop_counts)
$PY "$TCP_UTIL" gen $N | in_peer timeout 60 nc -6 -N "$KERNEL6" 6000 ||
	fail "harness: nc -6 to the kernel sink at [$KERNEL6]:6000 failed"
wait $ksink || fail "harness: kernel sink: $(cat "$TMP/k.err")"
sink_check "$TMP/k.out" "harness: kernel to kernel"
check_loss6 "harness: kernel to kernel over IPv6" "$d0" -
ok "harness: 8 MiB kernel to kernel over IPv6 under loss exact; $LOSS_SUMMARY"

# --- sluice serves ----------------------------------------------------------------------------
start_sluice_args --addr "$STACK6/64" --http 80 --tcp-echo 7
in_peer ping -6 -c 2 -W 2 "$STACK6" >/dev/null || fail "stack not answering ping -6 at $STACK6"

d0=$(drop_counts)
s0=$(stats_json)
t0=$EPOCHREALTIME
in_peer timeout 60 curl -6 -g -sS --max-time 50 -o "$TMP/bytes" "http://[$STACK6]/bytes/$N" ||
	fail "curl -6 of /bytes/$N under 2 % loss failed after $(elapsed_since "$t0") s"
size=$(stat -c %s "$TMP/bytes")
got=$(sha256sum "$TMP/bytes" | cut -d' ' -f1)
rm -f "$TMP/bytes"
[[ $size -eq $N ]] || fail "curl -6 under loss: $size bytes, expected $N"
[[ $got == "$WANT" ]] || fail "curl -6 under loss: SHA-256 $got, expected $WANT"
check_loss6 "curl -6" "$d0" "$s0"
ok "curl -6 8 MiB under 2 % loss: exact ($(elapsed_since "$t0") s); $LOSS_SUMMARY"

d0=$(drop_counts)
s0=$(stats_json)
t0=$EPOCHREALTIME
$PY "$TCP_UTIL" gen $N | in_peer timeout 60 nc -6 -N -w 30 "$STACK6" 7 | $PY "$TCP_UTIL" sink >"$TMP/echo.out" ||
	fail "nc -6 through the echo service under loss failed after $(elapsed_since "$t0") s"
sink_check "$TMP/echo.out" "echo over IPv6 under loss"
check_loss6 "echo over IPv6" "$d0" "$s0"
ok "echo 8 MiB over IPv6 under 2 % loss both ways: exact ($(elapsed_since "$t0") s); $LOSS_SUMMARY"
clean_stop

# --- sluice sends ------------------------------------------------------------------------------
ip netns exec "$NS_PEER" timeout 90 $PY "$V6_UTIL" sink 5001 0 >"$TMP/sink.out" 2>"$TMP/sink.err" &
sinkpid=$!
wait_peer_listen 5001
d0=$(drop_counts)
t0=$EPOCHREALTIME
# --json: the summary on stdout carries the final counters (the run may end between samples).
start_sluice_args --addr "$STACK6/64" --send "[$PEER6]:5001:$N" --json
for _ in $(seq 600); do
	kill -0 "$SLUICE_PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$SLUICE_PID" 2>/dev/null && fail "--send 8 MiB over IPv6 under loss still running after 60 s"
rc=0
wait "$SLUICE_PID" || rc=$?
SLUICE_PID=
[[ $rc -eq 0 ]] || { cat "$TMP/run.err" >&2; fail "--send over IPv6 under loss exited $rc"; }
wait $sinkpid || fail "the kernel sink failed: $(cat "$TMP/sink.err")"
sink_check "$TMP/sink.out" "--send over IPv6 under loss"
s_end=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d["counters"]))' "$TMP/run.out") ||
	fail "--send --json: no JSON summary on stdout: $(head -c 300 "$TMP/run.out")"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["frames_returned"] != d["frames_total"])' "$TMP/run.out" ||
	fail "--send: frames not all returned: $(head -c 300 "$TMP/run.out")"
check_loss6 "--send over IPv6" "$d0" '{}' "$s_end"
ok "--send 8 MiB over IPv6 under 2 % loss: exact ($(elapsed_since "$t0") s); $LOSS_SUMMARY"
