#!/usr/bin/env bash
# TCP against the Linux kernel as the real peer (curl, nc, python sockets in the peer
# namespace):
#   - curl gets the page; 100 MiB from /bytes/N arrives with the pattern's SHA-256;
#   - several URLs in one curl invocation share one connection (HTTP keep-alive), and
#     pipelined requests are answered in order;
#   - nc talks to the echo service; a late reader gets all of a 700 kB echo; a closed port
#     refuses at once (RST, tcp_no_conn);
#   - 1000 concurrent echo connections, each its own line back, then all closed;
#   - sluice as the client: --send 256 MiB to a kernel `nc -l`, SHA-256 equal;
#   - keepalive: an idle connection whose peer answers survives; when the peer's link
#     goes down, exactly N probes, then ETIMEDOUT (echo service and --send client, the
#     latter both while sending and after its FIN, waiting for the peer's);
#   - every stop returns all 4096 UMEM frames.
# Takes about 30 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
setup_net
need curl timeout ss sha256sum
ulimit -n 8192 || fail "cannot raise the open-file limit to 8192"

start_sluice --http 80 --tcp-echo 7
in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"

# --- HTTP ---------------------------------------------------------------------------------
out=$(in_peer timeout 10 curl -sS --max-time 5 "http://$STACK_IP/") || fail "curl http://$STACK_IP/ failed"
grep -q 'Hello from sluice' <<<"$out" || fail "curl got an unexpected page: $out"
ok "curl http://$STACK_IP/ gets the page"

N=$((100 << 20))
want=$(pattern_sha $N)
t0=$EPOCHREALTIME
in_peer timeout 60 curl -sS --max-time 50 -o "$TMP/bytes" "http://$STACK_IP/bytes/$N" ||
	fail "curl of /bytes/$N failed"
got=$(sha256sum "$TMP/bytes" | cut -d' ' -f1)
size=$(stat -c %s "$TMP/bytes")
[[ $size -eq $N ]] || fail "/bytes/$N: got $size bytes"
[[ $got == "$want" ]] || fail "/bytes/$N: SHA-256 $got, expected $want"
rm -f "$TMP/bytes"
ok "curl -o /bytes/$N: $size bytes, SHA-256 matches the pattern ($(elapsed_since $t0) s)"

acc0=$(stat_of tcp_accepted)
out=$(in_peer timeout 20 curl -sS --max-time 15 -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
	-w '%{http_code}:%{num_connects} ' "http://$STACK_IP/" "http://$STACK_IP/bytes/1000" \
	"http://$STACK_IP/bytes/0" "http://$STACK_IP/") || fail "curl with four URLs failed"
[[ $out == "200:1 200:0 200:0 200:0 " ]] ||
	fail "keep-alive: curl reported code:connects '$out', expected '200:1 200:0 200:0 200:0'"
acc=$(($(stat_of tcp_accepted) - acc0))
[[ $acc -eq 1 ]] || fail "keep-alive: the stack accepted $acc connections for four requests"
ok "keep-alive: four requests over one connection (tcp_accepted +1)"

# Two pipelined requests in one write: answered in order, then closed (Connection: close).
# nc -w 5 would wait 5 idle seconds if the stack did not close: it must end well before.
t0=$EPOCHREALTIME
printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /bytes/300 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' |
	in_peer timeout 10 nc -w 5 "$STACK_IP" 80 >"$TMP/pipe.out" || fail "nc with two pipelined requests failed"
dt=$(elapsed_since $t0)
fcmp "$dt" '<' 4 || fail "pipelined requests: the stack did not close after 'Connection: close' (nc ran $dt s)"
[[ $(grep -c '^HTTP/1.1 200 OK' "$TMP/pipe.out") -eq 2 ]] ||
	fail "pipelined requests: expected two 200 answers, got: $(head -c 300 "$TMP/pipe.out")"
tail -c 300 "$TMP/pipe.out" | cmp -s - <($PY "$TCP_UTIL" gen 300) ||
	fail "pipelined requests: the second body is not the first 300 pattern bytes"
ok "two pipelined requests answered in order, then the stack closes"

# --- echo and a closed port ---------------------------------------------------------------
t0=$EPOCHREALTIME
out=$(printf 'line one\nline two\nline three\n' | in_peer timeout 10 nc -N -w 5 "$STACK_IP" 7) ||
	fail "nc to the echo service failed (rc $?)"
dt=$(elapsed_since $t0)
[[ $out == $'line one\nline two\nline three' ]] || fail "echo returned: '$out'"
fcmp "$dt" '<' 4 || fail "echo: the stack did not close after nc's FIN (nc ran $dt s, -w 5)"
ok "nc $STACK_IP 7 echoes three lines, then the stack closes"

# A client that reads late (64 KiB receive buffer; 700 kB written before reading a byte): the
# echo service's send buffer fills while its receive buffer still holds data. When the client
# drains, the freed room must bring the rest (on_writable), with no new data arriving.
failed=0
if in_peer timeout 60 $PY "$TCP_UTIL" echo-slow "$STACK_IP" 7 700000; then
	ok "echo to a late reader: 700000 bytes back intact"
else
	failed=1
	echo "FAIL: echo to a late reader stalls: the send buffer filled exactly, so no on_writable" \
		"callback came when room returned" >&2
fi

nc0=$(stat_of tcp_no_conn)
rst0=$(stat_of tcp_resets_tx)
t0=$EPOCHREALTIME
if in_peer timeout 10 nc -z -v -w 5 "$STACK_IP" 8 >"$TMP/nc.err" 2>&1; then
	fail "nc -z to closed port 8 succeeded"
fi
dt=$(elapsed_since $t0)
grep -q 'refused' "$TMP/nc.err" || fail "closed port 8: not refused: $(cat "$TMP/nc.err")"
fcmp "$dt" '<' 2 || fail "closed port 8: refused only after $dt s (nc -w 5): no RST?"
[[ $(($(stat_of tcp_no_conn) - nc0)) -eq 1 ]] || fail "closed port: tcp_no_conn did not grow by 1"
[[ $(($(stat_of tcp_resets_tx) - rst0)) -eq 1 ]] || fail "closed port: tcp_resets_tx did not grow by 1"
ok "closed port 8 refused at once ($dt s), tcp_no_conn +1, tcp_resets_tx +1"

# --- 1000 concurrent connections ------------------------------------------------------------
acc0=$(stat_of tcp_accepted)
t0=$EPOCHREALTIME
in_peer bash -c "ulimit -n 8192 && exec timeout 120 $PY '$TCP_UTIL' echo-many '$STACK_IP' 7 1000" ||
	fail "1000 concurrent echo connections"
acc=$(($(stat_of tcp_accepted) - acc0))
[[ $acc -eq 1000 ]] || fail "1000 connections: tcp_accepted grew by $acc"
ok "1000 concurrent echo connections in $(elapsed_since $t0) s (tcp_accepted +1000)"

# The kernel peer has nothing left open towards the stack.
left=$(in_peer ss -Htn state established "dst $STACK_IP" | wc -l)
[[ $left -eq 0 ]] || fail "$left connections still established on the peer"
clean_stop

# --- sluice as the client -----------------------------------------------------------------
N=$((256 << 20))
want=$(pattern_sha $N)
(in_peer timeout 60 nc -l -p 5001 </dev/null | $PY "$TCP_UTIL" sink >"$TMP/sink.out") &
sinkpid=$!
wait_peer_listen 5001
t0=$EPOCHREALTIME
in_sl timeout 60 "$SLUICE" run "$IF_SL" --addr "$STACK_IP/24" --send "$PEER_IP:5001:$N" \
	>"$TMP/send.out" 2>"$TMP/send.err" || { cat "$TMP/send.err" >&2; fail "sluice --send failed (rc $?)"; }
wait $sinkpid || fail "the kernel nc -l receiver failed"
read -r size got <"$TMP/sink.out"
[[ $size -eq $N ]] || fail "--send: nc received $size bytes, expected $N"
[[ $got == "$want" ]] || fail "--send: SHA-256 $got, expected $want"
grep -q "sent $N bytes" "$TMP/send.err" || fail "--send did not report the transfer: $(cat "$TMP/send.err")"
grep -q 'frames 4096/4096 returned' "$TMP/send.err" || fail "--send: frames not all returned: $(cat "$TMP/send.err")"
ok "--send $N bytes to nc -l: SHA-256 matches ($(elapsed_since $t0) s); $(grep -o 'in [0-9.]* s: .*' "$TMP/send.err")"

# --- keepalive: echo service, idle connection -------------------------------------------------
# --keepalive 1:0.5:3: first probe 1.5 s after the last segment received, then every 0.5 s,
# ETIMEDOUT 0.5 s after the third unanswered probe: 3 s of silence in all.
start_sluice --tcp-echo 7 --keepalive 1:0.5:3
mkfifo "$TMP/ka.in"
in_peer timeout 60 $PY "$TCP_UTIL" echo-idle "$STACK_IP" 7 <"$TMP/ka.in" >"$TMP/ka.out" 2>&1 &
kapid=$!
exec 7>"$TMP/ka.in"
for _ in $(seq 50); do
	grep -q ready "$TMP/ka.out" && break
	sleep 0.1
done
grep -q ready "$TMP/ka.out" || fail "keepalive client did not get its echo: $(cat "$TMP/ka.out")"
# Idle for 4 s with the peer alive: the kernel answers every probe, nothing times out.
sleep 4
s=$(stats_json)
p=$(stats_get "$s" tcp_keepalive_probes)
[[ $p -ge 1 ]] || fail "no keepalive probe after 4 s idle with --keepalive 1:0.5:3"
[[ $(stats_get "$s" tcp_timeouts) -eq 0 ]] || fail "keepalive timed out although the peer answers its probes"
echo again >&7
for _ in $(seq 50); do
	grep -q 'ok-again\|dead' "$TMP/ka.out" && break
	sleep 0.1
done
grep -q ok-again "$TMP/ka.out" || fail "answered keepalive probes, yet the connection is gone: $(cat "$TMP/ka.out")"
ok "idle 4 s with a live peer: $p probe(s) answered, connection alive"

# Now the peer vanishes right after a fresh exchange (which restarts the keepalive clock).
echo again >&7
for _ in $(seq 50); do
	[[ $(grep -c ok-again "$TMP/ka.out") -ge 2 ]] && break
	sleep 0.1
done
[[ $(grep -c ok-again "$TMP/ka.out") -ge 2 ]] || fail "second echo exchange failed: $(cat "$TMP/ka.out")"
sleep 0.3 # the kernel's delayed ACK for the echo leaves (else the stack rightly retransmits)
in_peer ip link set "$IF_PEER" down
t0=$EPOCHREALTIME
s=$(stats_json)
p0=$(stats_get "$s" tcp_keepalive_probes)
to0=$(stats_get "$s" tcp_timeouts)
rtx0=$(stats_get "$s" tcp_retransmits)
dt=
for _ in $(seq 100); do
	s=$(stats_json)
	if [[ $(stats_get "$s" tcp_timeouts) -gt $to0 ]]; then
		dt=$(elapsed_since $t0)
		break
	fi
	sleep 0.1
done
[[ -n $dt ]] || fail "keepalive: no timeout 10 s after the peer's link went down (probes +$(($(stats_get "$s" tcp_keepalive_probes) - p0)))"
probes=$(($(stats_get "$s" tcp_keepalive_probes) - p0))
[[ $probes -eq 3 ]] || fail "keepalive: $probes probes before the timeout, expected 3"
[[ $(($(stats_get "$s" tcp_timeouts) - to0)) -eq 1 ]] || fail "keepalive: tcp_timeouts grew by more than 1"
[[ $(($(stats_get "$s" tcp_retransmits) - rtx0)) -eq 0 ]] || fail "keepalive: retransmissions on an idle connection"
fcmp "$dt" '>=' 2.3 || fail "keepalive: timed out after $dt s, before 1 + 4*0.5 = 3 s of silence"
fcmp "$dt" '<' 5 || fail "keepalive: timed out after $dt s, expected about 3 s"
ok "peer link down: 3 keepalive probes, then tcp_timeouts +1 after $dt s (bound 3 s)"

# The stack forgot the connection: with the link back, the client's next data draws a RST.
in_peer ip link set "$IF_PEER" up
for _ in $(seq 50); do
	in_peer ip link show "$IF_PEER" | grep 'state UP' >/dev/null && break
	sleep 0.1
done
nc0=$(stat_of tcp_no_conn)
echo again >&7
exec 7>&-
wait $kapid
grep -q 'dead' "$TMP/ka.out" || fail "the timed-out connection still echoes: $(cat "$TMP/ka.out")"
[[ $(($(stat_of tcp_no_conn) - nc0)) -ge 1 ]] || fail "data on the timed-out connection not counted as tcp_no_conn"
ok "after the timeout the connection is gone: the client's data is reset ($(tail -1 "$TMP/ka.out"))"
clean_stop

# --- keepalive: the --send client against a peer that stops reading, then vanishes ----------
(in_peer timeout 60 $PY "$TCP_UTIL" stall-listen 5002 >"$TMP/stall.out" 2>&1) &
stallpid=$!
wait_peer_listen 5002
start_sluice --send "$PEER_IP:5002:$((64 << 20))" --keepalive 1:0.5:3
for _ in $(seq 50); do
	grep -q accepted "$TMP/stall.out" && break
	sleep 0.1
done
grep -q accepted "$TMP/stall.out" || fail "--send did not connect to the stalled listener"
sleep 1 # the peer's window closes; the stack probes it (persist) and the peer answers
kill -0 "$SLUICE_PID" 2>/dev/null || fail "--send ended while the peer was alive: $(cat "$TMP/run.err")"
in_peer ip link set "$IF_PEER" down
t0=$EPOCHREALTIME
maxp=0
for _ in $(seq 100); do
	kill -0 "$SLUICE_PID" 2>/dev/null || break
	p=$(stat_of tcp_keepalive_probes)
	[[ $p -gt $maxp ]] && maxp=$p
	sleep 0.1
done
rc=0
if kill -0 "$SLUICE_PID" 2>/dev/null; then
	fail "--send still running 10 s after the peer's link went down (keepalive 1:0.5:3)"
fi
wait "$SLUICE_PID" || rc=$?
SLUICE_PID=
dt=$(elapsed_since $t0)
[[ $rc -ne 0 ]] || fail "--send exited 0 although the peer vanished"
grep -q 'timed out' "$TMP/run.err" || fail "--send: no timeout error: $(cat "$TMP/run.err")"
fcmp "$dt" '<' 5.5 || fail "--send: ended $dt s after the link went down, bound about 3 s"
[[ $maxp -ge 3 ]] || fail "--send: saw only $maxp keepalive probes before the exit"
ok "--send to a vanished peer: exit $rc after $dt s with '$(grep -o 'failed after.*' "$TMP/run.err")'"
kill "$stallpid" 2>/dev/null
in_peer ip link set "$IF_PEER" up

# --- keepalive: the --send client after its FIN, waiting for a peer that vanishes ------------
# The data is delivered and acknowledged, the stack's FIN too; the peer never closes, so the
# connection waits in FIN-WAIT-2 for the peer's FIN. When the peer's link goes down, the
# keepalive must still find out (RFC 1122 §4.2.3.6 speaks of idle connections, not of
# ESTABLISHED ones; Linux probes in FIN-WAIT-2 too) and --send must fail with a timeout.
(in_peer timeout 60 $PY "$TCP_UTIL" read-hold 5003 >"$TMP/hold.out" 2>&1) &
holdpid=$!
wait_peer_listen 5003
start_sluice --send "$PEER_IP:5003:100000" --keepalive 1:0.5:3
for _ in $(seq 50); do
	grep -q '^eof' "$TMP/hold.out" && break
	sleep 0.1
done
grep -q '^eof 100000$' "$TMP/hold.out" || fail "--send 100000: the peer did not get the data and FIN: $(cat "$TMP/hold.out")"
sleep 0.3
kill -0 "$SLUICE_PID" 2>/dev/null || fail "--send ended although the peer has not closed: $(cat "$TMP/run.err")"
in_peer ip link set "$IF_PEER" down
t0=$EPOCHREALTIME
for _ in $(seq 80); do
	kill -0 "$SLUICE_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$SLUICE_PID" 2>/dev/null; then
	fail "--send with --keepalive 1:0.5:3 still waits 8 s after the peer's link went down:" \
		"FIN-WAIT-2 with keepalive probes $(stat_of tcp_keepalive_probes), tcp_timeouts" \
		"$(stat_of tcp_timeouts) — keepalive only runs in ESTABLISHED"
fi
rc=0
wait "$SLUICE_PID" || rc=$?
SLUICE_PID=
dt=$(elapsed_since $t0)
[[ $rc -ne 0 ]] || fail "--send exited 0 although the peer vanished before closing"
grep -q 'timed out' "$TMP/run.err" || fail "--send: no timeout error: $(cat "$TMP/run.err")"
ok "--send in FIN-WAIT-2 to a vanished peer: exit $rc after $dt s ('$(grep -o 'failed after.*' "$TMP/run.err")')"
kill "$holdpid" 2>/dev/null
in_peer ip link set "$IF_PEER" up
[[ $failed -eq 0 ]] || fail "echo to a late reader (see above)"
