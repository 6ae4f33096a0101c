#!/usr/bin/env bash
# Hostile TCP from scapy on the kernel peer (tests/net/tcp_hostile.py), each case checked
# against the exact stack counter and the reply it must (or must not) draw:
#   - SYN+FIN, SYN+RST, no flags, short header, bad data offsets, bad checksums, malformed
#     option lengths; data before the handshake (RST), SYN/ACK to a closed port (RST);
#   - on a live hand-made connection: RST out of window (ignored), RST in window but not
#     exact and SYN (challenge ACK, RFC 5961), ACKs for unsent or too old data, data out of
#     window, bad checksum / options mid-connection; the connection survives each; an exact
#     RST ends it;
#   - 10 000 SYNs from the peer's address and random ports, back to back: every SYN is
#     answered or counted, the echo service then serves a real nc client, RSS stays bounded;
#   - 10 000 SYNs from an address that never answers: the backlog bounds the half-open
#     connections, memory stays bounded, and a real nc client is still served;
#   - connection churn: 1000 HTTP/1.0 requests (the stack closes first and keeps TIME-WAIT)
#     leave RSS within 64 MiB, and 20000 more one-connection requests in a row all succeed.
# RSS cannot see memory allocated but never touched (a 256 KiB ring nobody wrote to costs no
# RSS), so each phase is also held to the stack's own account of what TCP allocated
# (tcp_mem_bytes now, tcp_mem_peak since start: control blocks, rings, segment maps): a SYN
# flood must not make it allocate rings (half-open connections cost a control block), and
# connections in TIME-WAIT must have given theirs back.
# Takes about 40 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
setup_net
need timeout
$PY -c 'import scapy' 2>/dev/null || fail "python3-scapy missing for $PY (make deps installs it)"
start_sluice --tcp-echo 7 --http 80
in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering before the test"
MAC=$(in_sl ip -o link show "$IF_SL" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')

hostile() { # CASES
	nsenter --net=/run/netns/"$NS_PEER" timeout 120 $PY "$ROOT/tests/net/tcp_hostile.py" \
		"$IF_PEER" "$STACK_IP" "$MAC" "$PEER_IP" 7 "$1" \
		nsenter --net=/run/netns/"$NS_SL" "$SLUICE" stats "$IF_SL" --json
}

MIB=$((1 << 20))
# mem_within WHAT COUNTER LIMIT_BYTES: the stack's TCP allocation account stays under a bound.
mem_within() {
	local v
	v=$(stat_of "$2")
	if [[ $v -lt $3 ]]; then
		ok "$1: $2 = $v bytes (bound $3)"
	else
		failed=1
		echo "FAIL: $1: $2 = $v bytes, above $3: TCP allocated more than the phase should cost" >&2
	fi
}

rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/"$SLUICE_PID"/status; }

# echo_ok TAG: a real kernel client (nc) gets its line echoed.
echo_ok() {
	local out
	out=$(printf 'hello after %s\n' "$1" | in_peer timeout 10 nc -N -w 5 "$STACK_IP" 7) || true
	[[ $out == "hello after $1" ]]
}

failed=0
hostile segments || { failed=1; echo "FAIL: hostile segments (see above)" >&2; }
echo_ok "the hostile segments" || fail "echo service does not serve nc after the hostile segments"
ok "nc still served after the hostile segments"

rss0=$(rss_kib)
hostile flood || { failed=1; echo "FAIL: SYN flood from the peer (see above)" >&2; }
echo_ok "the SYN flood" || fail "echo service does not serve nc after the SYN flood from the peer"
rss1=$(rss_kib)
[[ $((rss1 - rss0)) -lt 65536 ]] || fail "RSS grew from $rss0 to $rss1 KiB during the SYN flood"
ok "nc still served after 10 000 SYNs; RSS $rss0 -> $rss1 KiB"

hostile flood-silent || { failed=1; echo "FAIL: SYN flood from a silent address (see above)" >&2; }
rss2=$(rss_kib)
[[ $((rss2 - rss0)) -lt 65536 ]] || fail "RSS grew from $rss0 to $rss2 KiB during the silent SYN flood"
ok "RSS after the silent SYN flood: $rss2 KiB"
# 20 000 SYNs, a backlog of 256 half-open connections of ~1.3 KiB each, a few real clients of
# ~600 KiB each (rings and segment map): 8 MiB is room for a dozen live connections, far below
# the 128 MiB that rings allocated at SYN time would take.
mem_within "the SYN floods" tcp_mem_peak $((8 * MIB))
# A real client must still be served while the silent half-open connections wait out their
# SYN-ACK retransmissions (about two minutes).
if echo_ok "the silent SYN flood"; then
	ok "nc still served after 10 000 SYNs from a silent address"
else
	failed=1
	echo "FAIL: after 10 000 SYNs from a silent address the echo service refuses a real nc client" \
		"(tcp_backlog_full $(stat_of tcp_backlog_full)): the backlog stays full of half-open" \
		"connections until their SYN-ACK retransmissions run out" >&2
fi

# Connection churn: each HTTP/1.0 request ends with the stack's close, so the stack holds
# the connection in TIME-WAIT (2·MSL = 60 s). Those must cost neither the buffers of a live
# connection nor a slot that locks new clients out.
rss3=$(rss_kib)
if in_peer timeout 100 $PY "$TCP_UTIL" http-churn "$STACK_IP" 80 1000 /bytes/200000; then
	rss4=$(rss_kib)
	if [[ $((rss4 - rss3)) -lt 65536 ]]; then
		ok "1000 HTTP/1.0 connections of 200000 bytes: RSS $rss3 -> $rss4 KiB"
	else
		failed=1
		echo "FAIL: 1000 closed HTTP/1.0 connections (in TIME-WAIT) grew RSS from $rss3 to $rss4 KiB:" \
			"each still holds its send and receive rings" >&2
	fi
	# ~1000 in TIME-WAIT (2·MSL is 60 s) at ~1.3 KiB each; with their rings they would hold
	# over 500 MiB, touched or not.
	mem_within "1000 connections in TIME-WAIT" tcp_mem_bytes $((8 * MIB))
else
	failed=1
	echo "FAIL: 1000 HTTP/1.0 requests of 200000 bytes" >&2
fi
lim0=$(stat_of tcp_conn_limit)
if in_peer timeout 100 $PY "$TCP_UTIL" http-churn "$STACK_IP" 80 20000 /bytes/0; then
	ok "20000 more HTTP/1.0 requests, one connection each, all served"
	# At most the table's 8192 connections, nearly all in TIME-WAIT without rings (11 MiB; rings
	# nobody filled would not show in RSS: 8192 of them are 4 GiB of address space).
	mem_within "20000 connections of no data" tcp_mem_bytes $((32 * MIB))
else
	failed=1
	echo "FAIL: connection churn: a client that opens and closes connections locks itself and" \
		"everyone else out (tcp_conn_limit +$(($(stat_of tcp_conn_limit) - lim0))): TIME-WAIT" \
		"connections fill the connection table (8192) for 2·MSL" >&2
fi

mem_within "the whole hostile run" tcp_mem_peak $((64 * MIB))
clean_stop
[[ $failed -eq 0 ]] || fail "hostile TCP cases failed (see above)"
