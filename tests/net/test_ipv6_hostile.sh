#!/usr/bin/env bash
# Hostile IPv6 from scapy on the kernel peer against a running stack (tests/net/hostile6.py):
# long and malformed extension-header chains, unknown options with each of the four actions
# of RFC 8200 §4.2 (Parameter Problem code 2 and its pointer where one is due, also to a
# multicast destination), routing headers type 0 and unknown (RFC 5095, §4.4), Hop-by-Hop
# not first, overlapping fragments (RFC 5722), tiny first fragments (RFC 7112), atomic
# fragments (RFC 6946), bad fragment lengths, zero UDP checksums, NS/NA/RA/redirect that
# must be ignored (hop limit, option length 0, ...), NS for addresses the stack does not own,
# Packet Too Big below 1280 (RFC 8201 §4), ICMPv6 error rules (RFC 4443 §2.4: none about an
# error or to a multicast destination), multicast echo; each judged by what comes back and
# by the counter named in EXPECTED at the top of hostile6.py. Afterwards the stack still
# answers ping -6, TCP and UDP, and the kernel's own IPv6 on the same interface is unharmed.
# `hostile6.py ... none` runs the same cases against any IPv6 host (Linux passes them all).
# About 55 s (69 cases).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
source "$(dirname "$0")/lib6.sh"
V6_UTIL=$ROOT/tests/net/v6_util.py
setup_net6
need curl socat timeout ss sha256sum

start_sluice_args --addr "$STACK6/64" --http 80 --tcp-echo 7 --udp-echo 7
in_peer ping -6 -c 2 -W 2 "$STACK6" >/dev/null || fail "stack not answering ping -6 at $STACK6 before the test"

failed=0
nsenter --net=/run/netns/"$NS_PEER" timeout 240 $PY "$ROOT/tests/net/hostile6.py" \
	"$IF_PEER" "$STACK6" "$MAC_SL" "$PEER6" "$PEER_LL" "$KERNEL6" "$KERNEL_LL" \
	nsenter --net=/run/netns/"$NS_SL" "$SLUICE" stats "$IF_SL" --json ||
	{ failed=1; echo "FAIL: hostile IPv6 frames (see above)" >&2; }
kill -0 "$SLUICE_PID" 2>/dev/null || { cat "$TMP/run.err" >&2; fail "sluice died during the hostile frames"; }

# --- the stack survives ------------------------------------------------------------------------
out=$(in_peer ping -6 -c 10 -i 0.05 -W 2 "$STACK6") || { echo "$out"; fail "stack stopped answering ping -6"; }
grep -q ' 0% packet loss' <<<"$out" || fail "ping -6 after the hostile frames: $out"
in_peer timeout 20 curl -6 -g -sS --max-time 10 -o "$TMP/bytes" "http://[$STACK6]/bytes/100000" ||
	fail "curl -6 after the hostile frames failed"
[[ $(sha256sum "$TMP/bytes" | cut -d' ' -f1) == "$(pattern_sha 100000)" ]] ||
	fail "curl -6 after the hostile frames: the bytes differ"
out=$(in_peer timeout 10 $PY "$V6_UTIL" tcp-hello "$STACK6" 7 $'still there\n') || fail "TCP echo after the hostile frames"
[[ $out == 'still there' ]] || fail "TCP echo after the hostile frames returned '$out'"
in_peer timeout 20 $PY "$V6_UTIL" udp-echo "$STACK6" 7 1 1200 3000 || fail "UDP echo after the hostile frames"
ok "the stack still answers ping -6, HTTP, TCP and UDP echo"

# --- the kernel's own IPv6 is unharmed ---------------------------------------------------------
for a in "$KERNEL6" "$KERNEL_LL%$IF_PEER"; do
	out=$(in_peer ping -6 -c 3 -i 0.1 -W 2 "$a") || { echo "$out"; fail "the kernel's $a stopped answering ping -6"; }
done
nsenter --net=/run/netns/"$NS_SL" timeout 20 socat TCP6-LISTEN:7,reuseaddr,fork SYSTEM:'cat; echo kernel' 2>/dev/null &
kpid=$!
for _ in $(seq 50); do
	in_sl ss -Hltn 'sport = :7' | grep LISTEN >/dev/null && break
	sleep 0.1
done
kill -0 "$kpid" 2>/dev/null || fail "the kernel's TCP listener on port 7 did not start"
out=$(in_peer timeout 10 $PY "$V6_UTIL" tcp-hello "$KERNEL6" 7 $'hello\n') || fail "TCP to the kernel's $KERNEL6"
[[ $out == $'hello\nkernel' ]] || fail "TCP to [$KERNEL6]:7 got '$out'"
kill "$kpid" 2>/dev/null
ok "the kernel's $KERNEL6 and $KERNEL_LL answer ping -6 and TCP"

clean_stop
[[ $failed -eq 0 ]] || fail "hostile IPv6 cases failed (see above)"
