#!/usr/bin/env bash
# Hostile IPv4 fragments from scapy on the kernel peer (overlapping, teardrop, tiny,
# duplicated, never completing, beyond 64 KiB, bad lengths, more datagrams than reassembly
# slots), each checked against the exact stack counter (tests/net/frag_hostile.py). The stack
# runs with --reasm-timeout 10 (default 30): the never-completing datagrams must still be held
# through the cases after them, then time out, with a time exceeded, within 10 s more; the
# test takes about 20 s. Afterwards the kernel's fragmented pings (4000 and 20000 bytes) are still
# reassembled and answered, and a clean stop returns every frame.
source "$(dirname "$0")/lib.sh"
setup_net
$PY -c 'import scapy' 2>/dev/null || fail "python3-scapy missing for $PY (make deps installs it)"
REASM=10
start_sluice --reasm-timeout $REASM
in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering before the test"
out=$(in_peer ping -c 3 -i 0.1 -W 2 -s 4000 "$STACK_IP") || { echo "$out"; fail "ping -s 4000 before the test"; }
MAC=$(in_sl ip -o link show "$IF_SL" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
REASM_TIMEOUT=$REASM nsenter --net=/run/netns/"$NS_PEER" timeout 120 $PY "$ROOT/tests/net/frag_hostile.py" \
	"$IF_PEER" "$STACK_IP" "$MAC" "$PEER_IP" \
	nsenter --net=/run/netns/"$NS_SL" "$SLUICE" stats "$IF_SL" --json || fail "hostile fragments"

reasm0=$(stat_of ipv4_reasm_ok)
for size in 4000 20000; do
	out=$(in_peer ping -c 5 -i 0.1 -W 2 -s $size "$STACK_IP") || { echo "$out"; fail "ping -s $size after the hostile fragments"; }
	grep -q ' 0% packet loss' <<<"$out" || fail "ping -s $size: $out"
done
[[ $(($(stat_of ipv4_reasm_ok) - reasm0)) -eq 10 ]] || fail "expected 10 more reassembled datagrams"
ok "ping -s 4000 and -s 20000 still reassembled and answered"

stop_sluice || { cat "$TMP/run.err"; fail "sluice run exited non-zero on SIGTERM"; }
grep -q 'frames 4096/4096 returned' "$TMP/run.err" || { cat "$TMP/run.err"; fail "frames not all returned"; }
ok "clean stop: $(tail -1 "$TMP/run.err")"
