#!/usr/bin/env bash
# The --http service's persistent connections (RFC 9112 §9.3) against real clients in the
# peer namespace:
#   - a raw-socket client (http_conn.py): HTTP/1.0 with and without keep-alive, HTTP/1.1 with
#     and without Connection: close, field names and tokens in any case, lists, other fields
#     that merely mention the words; the response's Connection header and whether the server
#     closes are both checked, every wait bounded;
#   - ApacheBench: `ab -k` (HTTP/1.0 with Connection: Keep-Alive) completes every request over
#     kept-alive connections (it hung: the service kept the connection open without saying
#     so), and plain `ab` (HTTP/1.0) gets each connection closed after its response;
#   - curl --http1.0 with and without -H 'Connection: keep-alive': the connection is reused
#     (-v: "Re-using existing connection") or closed, as asked;
#   - the stop returns all 4096 UMEM frames.
# Takes about 20 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
setup_net
need curl ab timeout

start_sluice --http 80
in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"

# --- raw sockets --------------------------------------------------------------------------
if ! in_peer timeout 120 $PY "$ROOT/tests/net/http_conn.py" "$STACK_IP" 80 >"$TMP/conn.out" 2>&1; then
	cat "$TMP/conn.out" >&2
	fail "raw-socket client: persistent-connection, request-line or status-line rules broken"
fi
ok "raw sockets: $(grep -c '^ok' "$TMP/conn.out") cases (HTTP/1.0 keep-alive and close, HTTP/1.1 close, case, lists; request and status lines)"

# --- ApacheBench --------------------------------------------------------------------------
acc0=$(stat_of tcp_accepted)
in_peer timeout 30 ab -k -n 400 -c 4 -s 5 "http://$STACK_IP/" >"$TMP/ab-k.out" 2>&1 ||
	{ cat "$TMP/ab-k.out" >&2; fail "ab -k did not finish (a 1.0 keep-alive client waits for a close that never comes)"; }
grep -qE '^Complete requests: +400$' "$TMP/ab-k.out" || fail "ab -k: $(grep -E 'requests' "$TMP/ab-k.out")"
grep -qE '^Failed requests: +0$' "$TMP/ab-k.out" || fail "ab -k: $(grep -E 'Failed' "$TMP/ab-k.out")"
grep -qE '^Keep-Alive requests: +400$' "$TMP/ab-k.out" ||
	fail "ab -k: $(grep -E 'Keep-Alive' "$TMP/ab-k.out") (responses without Connection: keep-alive)"
sleep 0.2 # the published counters lag by up to 50 ms
acc=$(($(stat_of tcp_accepted) - acc0))
[[ $acc -le 8 ]] || fail "ab -k: the stack accepted $acc connections for 400 requests at concurrency 4"
ok "ab -k -n 400 -c 4: all kept alive over $acc connections"

acc0=$(stat_of tcp_accepted)
in_peer timeout 30 ab -n 100 -c 2 -s 5 "http://$STACK_IP/" >"$TMP/ab.out" 2>&1 ||
	{ cat "$TMP/ab.out" >&2; fail "ab (no keep-alive) did not finish"; }
grep -qE '^Complete requests: +100$' "$TMP/ab.out" || fail "ab: $(grep -E 'requests' "$TMP/ab.out")"
grep -qE '^Failed requests: +0$' "$TMP/ab.out" || fail "ab: $(grep -E 'Failed' "$TMP/ab.out")"
sleep 0.2 # the published counters lag by up to 50 ms
acc=$(($(stat_of tcp_accepted) - acc0))
# ab opens one connection more than it needs (the peer kernel counts 101 TcpActiveOpens for
# -n 100); the requests done prove the closes: a 1.0 client without keep-alive reads to EOF.
[[ $acc -ge 100 && $acc -le 102 ]] || fail "ab without -k: $acc connections for 100 requests, want one each"
ok "ab -n 100 (HTTP/1.0, no keep-alive): one connection per request, each closed"

# --- curl ---------------------------------------------------------------------------------
out=$(in_peer timeout 20 curl -sS -v --max-time 10 --http1.0 -H 'Connection: keep-alive' \
	-o /dev/null -o /dev/null -w '%{num_connects} ' "http://$STACK_IP/" "http://$STACK_IP/bytes/1000" \
	2>"$TMP/curl-ka.err") || { cat "$TMP/curl-ka.err" >&2; fail "curl --http1.0 keep-alive failed"; }
[[ $out == "1 0 " ]] || fail "curl --http1.0 keep-alive: connects '$out', want '1 0 '"
grep -qi '^< Connection: keep-alive' "$TMP/curl-ka.err" ||
	fail "curl --http1.0 keep-alive: no 'Connection: keep-alive' in the response: $(grep '^<' "$TMP/curl-ka.err")"
grep -q 'Re-using existing connection' "$TMP/curl-ka.err" ||
	fail "curl --http1.0 keep-alive: the connection was not reused"
ok "curl --http1.0 -H 'Connection: keep-alive': response says keep-alive, connection reused"

out=$(in_peer timeout 20 curl -sS -v --max-time 10 --http1.0 \
	-o /dev/null -o /dev/null -w '%{num_connects} ' "http://$STACK_IP/" "http://$STACK_IP/bytes/1000" \
	2>"$TMP/curl-10.err") || { cat "$TMP/curl-10.err" >&2; fail "curl --http1.0 failed"; }
[[ $out == "1 1 " ]] || fail "curl --http1.0: connects '$out', want '1 1 ' (closed after each)"
grep -qi '^< Connection: keep-alive' "$TMP/curl-10.err" && fail "curl --http1.0: keep-alive offered unasked"
grep -q 'Closing connection' "$TMP/curl-10.err" || fail "curl --http1.0: the connection was not closed"
ok "curl --http1.0 without keep-alive: closed after each response"

out=$(in_peer timeout 20 curl -sS -v --max-time 10 -H 'Connection: close' \
	-o /dev/null -o /dev/null -w '%{num_connects} ' "http://$STACK_IP/" "http://$STACK_IP/" \
	2>"$TMP/curl-close.err") || { cat "$TMP/curl-close.err" >&2; fail "curl Connection: close failed"; }
[[ $out == "1 1 " ]] || fail "curl HTTP/1.1 Connection: close: connects '$out', want '1 1 '"
grep -qi '^< Connection: close' "$TMP/curl-close.err" || fail "curl HTTP/1.1 Connection: close: not said"
ok "curl HTTP/1.1 -H 'Connection: close': response says close, a new connection each time"

clean_stop
