#!/usr/bin/env bash
# ARP under attack (issue 9 item 4) on a /16: the stack (`sluice run --udp-echo 7 --tcp-echo 7`)
# has talked to the kernel peer, then the peer sends 5000 spoofed ARP requests for the
# stack's address, each from its own random on-link sender with a random MAC, in about 10 s
# (20 times the 256 entries of the neighbour cache). During the flood and after it, UDP echo
# and TCP echo (a connection held open and fresh ones) keep working for the peer, cached
# before the flood, and for a second host the stack had never seen (a macvlan on the peer's
# link with its own MAC, in a namespace of its own) that starts talking in the middle of it.
# The counters show the cache evicting (arp_evicted) rather than refusing (arp_cache_full 0).
PLEN=16
source "$(dirname "$0")/lib.sh"
NS_NEW=slt-$ID-new
IF_NEW=slm$ID
NEW_IP=10.$NET.0.9
in_new() { ip netns exec "$NS_NEW" "$@"; }
trap 'ip netns del "$NS_NEW" 2>/dev/null; cleanup' EXIT
FLOOD=5000
FLOOD_S=10

setup_net
need timeout
$PY -c 'import scapy.all' 2>/dev/null || fail "$PY cannot import scapy (make deps)"
ip netns add "$NS_NEW" || fail "cannot create namespace"
in_peer ip link add "$IF_NEW" link "$IF_PEER" type macvlan mode bridge || fail "cannot create macvlan"
in_peer ip link set "$IF_NEW" netns "$NS_NEW" || fail "cannot move the macvlan"
in_new ip link set lo up
in_new sysctl -qw net.ipv6.conf."$IF_NEW".disable_ipv6=1
in_new ip addr add "$NEW_IP/$PLEN" dev "$IF_NEW"
in_new ip link set "$IF_NEW" up
in_new ethtool -K "$IF_NEW" tx off >/dev/null 2>&1
start_sluice --udp-echo 7 --tcp-echo 7
ECHO="$ROOT/tests/net/arp_flood.py echo $STACK_IP 7"

# The peer is cached: it asked for the stack's address and has had its echoes.
in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"
out=$(in_peer timeout 20 $PY $ECHO 1 0.2) || fail "echo before the flood: $out"
ok "before the flood: the peer's echoes ($out)"

in_peer timeout $((3 * FLOOD_S + 10)) $PY "$ROOT/tests/net/arp_flood.py" flood "$IF_PEER" \
	"$STACK_IP" "10.$NET" $FLOOD $FLOOD_S >"$TMP/flood.out" 2>&1 &
flood_pid=$!
sleep 1 # the cache is full after about half a second
in_peer timeout 60 $PY $ECHO $((FLOOD_S - 3)) 0.1 >"$TMP/old.out" 2>&1 &
old_pid=$!
sleep 2
in_new timeout 60 $PY $ECHO $((FLOOD_S - 5)) 0.1 >"$TMP/new.out" 2>&1 &
new_pid=$!
wait $flood_pid || fail "flood: $(cat "$TMP/flood.out")"
wait $old_pid || fail "the peer (cached before) during the flood: $(cat "$TMP/old.out")"
wait $new_pid || fail "the new host during the flood: $(cat "$TMP/new.out")"
ok "flood: $(cat "$TMP/flood.out")"
ok "during the flood, the peer cached before it: $(cat "$TMP/old.out")"
ok "during the flood, a host never seen before: $(cat "$TMP/new.out")"

out=$(in_peer timeout 20 $PY $ECHO 1 0.2) || fail "the peer after the flood: $out"
ok "after the flood, the peer: $out"
out=$(in_new timeout 20 $PY $ECHO 1 0.2) || fail "the new host after the flood: $out"
ok "after the flood, the new host: $out"

rx=$(stat_of arp_rx)
evicted=$(stat_of arp_evicted)
full=$(stat_of arp_cache_full)
echo "arp_rx $rx arp_evicted $evicted arp_cache_full $full arp_replies_sent $(stat_of arp_replies_sent)"
[[ $rx -ge $FLOOD ]] || fail "the stack saw $rx ARP packets, fewer than the $FLOOD sent"
[[ $evicted -ge $((FLOOD - 256)) ]] || fail "arp_evicted is $evicted, want at least $((FLOOD - 256))"
[[ $full -eq 0 ]] || fail "arp_cache_full is $full, want 0 (the cache evicts)"
ok "counters: $rx ARP packets, $evicted entries evicted, none refused"

stop_sluice || { cat "$TMP/run.err"; fail "sluice run exited non-zero on SIGTERM"; }
grep -q 'frames 4096/4096 returned' "$TMP/run.err" || { cat "$TMP/run.err"; fail "frames not all returned"; }
ok "clean stop: $(tail -1 "$TMP/run.err")"
