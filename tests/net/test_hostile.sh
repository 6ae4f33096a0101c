#!/usr/bin/env bash
# Hostile frames from scapy on the kernel peer are counted by the right counter, never
# answered wrongly, and the stack still answers ping afterwards.
source "$(dirname "$0")/lib.sh"
setup_net
$PY -c 'import scapy' 2>/dev/null || fail "python3-scapy missing for $PY (make deps installs it)"
start_sluice
in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering before the test"
MAC=$(in_sl ip -o link show "$IF_SL" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
nsenter --net=/run/netns/"$NS_PEER" $PY "$ROOT/tests/net/hostile.py" "$IF_PEER" "$STACK_IP" "$MAC" "$PEER_IP" \
	nsenter --net=/run/netns/"$NS_SL" "$SLUICE" stats "$IF_SL" --json || fail "hostile frames"
out=$(in_peer ping -c 10 -i 0.05 -W 2 "$STACK_IP") || { echo "$out"; fail "stack stopped answering"; }
ok "stack still answers ping after the hostile frames"
stop_sluice || { cat "$TMP/run.err"; fail "unclean stop"; }
grep -q 'frames 4096/4096 returned' "$TMP/run.err" || fail "frames lost: $(tail -1 "$TMP/run.err")"
ok "every frame returned"
