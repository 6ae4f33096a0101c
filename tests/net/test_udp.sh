#!/usr/bin/env bash
# UDP against the kernel peer: `sluice run --udp-echo 7` echoes what socat, nc -u and a python
# client send, byte for byte, from 1 byte up to 65507 (fragmented both ways); a connected UDP
# socket on the peer that sends to a closed port gets ECONNREFUSED (the stack's ICMP port
# unreachable); the counters say what happened, and a clean stop returns every frame.
source "$(dirname "$0")/lib.sh"
setup_net
need socat timeout cmp
$PY -c 'import socket' || fail "no $PY"
start_sluice --udp-echo 7
in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"

# socat: one datagram out, its echo back (-t: how long to wait for it after stdin ends).
out=$(printf 'hello from socat' | in_peer timeout 10 socat -b 65536 -t 2 - "UDP:$STACK_IP:7") ||
	fail "socat failed"
[[ $out == 'hello from socat' ]] || fail "socat got '$out'"
ok "socat: datagram echoed"

# nc -u (OpenBSD netcat): -w bounds how long it waits for the answer.
out=$(printf 'hello from nc\n' | in_peer timeout 10 nc -u -w 2 "$STACK_IP" 7) || true
[[ $out == 'hello from nc' ]] || fail "nc -u got '$out'"
ok "nc -u: datagram echoed"

# 8000 random bytes in one datagram: 6 fragments each way. socat reads the file in one
# read(2) of up to 65536 bytes (-b), so it sends exactly one datagram.
head -c 8000 /dev/urandom >"$TMP/big.in"
frags0=$(stat_of ipv4_frags_sent)
reasm0=$(stat_of ipv4_reasm_ok)
in_peer timeout 10 socat -b 65536 -t 2 - "UDP:$STACK_IP:7" <"$TMP/big.in" >"$TMP/big.out" ||
	fail "socat (8000 bytes) failed"
cmp "$TMP/big.in" "$TMP/big.out" || fail "8000-byte datagram came back different ($(stat -c %s "$TMP/big.out") bytes)"
[[ $(($(stat_of ipv4_reasm_ok) - reasm0)) -eq 1 ]] || fail "the stack did not reassemble exactly one datagram"
[[ $(($(stat_of ipv4_frags_sent) - frags0)) -eq 6 ]] || fail "the echo did not leave in 6 fragments"
ok "socat: 8000-byte datagram echoed intact (reassembled, sent back in 6 fragments)"

# Python client: sizes from 0 to 65507 and 300 datagrams one after the other, each echo
# compared byte for byte; then a connected socket to a closed port sees ECONNREFUSED.
in_peer timeout 120 $PY - "$STACK_IP" <<'EOF' || fail "python UDP client"
import errno, os, socket, sys, time
ip = sys.argv[1]

def echo(s, data, what):
    s.send(data)
    try:
        got = s.recv(65536)
    except socket.timeout:
        sys.exit("no echo for %s" % what)
    if got != data:
        sys.exit("echo differs for %s: sent %d bytes, got %d" % (what, len(data), len(got)))

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((ip, 7))
for n in (0, 1, 7, 8, 1471, 1472, 1473, 1480, 2960, 4000, 20000, 65507):
    echo(s, os.urandom(n), "%d bytes" % n)
print("ok: sizes 0..65507 echoed intact")
for i in range(300):
    n = 1 + (i * 97) % 3000  # some fragmented
    echo(s, os.urandom(n), "datagram %d (%d bytes)" % (i, n))
print("ok: 300 datagrams echoed intact, one at a time")
try:
    s.send(os.urandom(65508))
    sys.exit("65508 bytes accepted by the kernel?")
except OSError as e:
    assert e.errno == errno.EMSGSIZE, e
s.close()

# RFC 1122 §4.1.3.3: the port unreachable reaches the connected socket as ECONNREFUSED.
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(3)
c.connect((ip, 9))
c.send(b"anyone there?")
try:
    c.recv(100)
    sys.exit("closed port answered")
except ConnectionRefusedError:
    pass
except socket.timeout:
    sys.exit("no ECONNREFUSED from a closed port (no ICMP port unreachable?)")
print("ok: connected socket to a closed port: ECONNREFUSED")
EOF
[[ $(stat_of udp_no_port) -eq 1 ]] || fail "udp_no_port is $(stat_of udp_no_port), want 1"
[[ $(stat_of icmp_errors_sent) -eq 1 ]] || fail "icmp_errors_sent is $(stat_of icmp_errors_sent), want 1"
# socat 1 + nc 1 + socat 1 + python 12 + 300 = 315 datagrams echoed.
[[ $(stat_of udp_rx) -eq 315 ]] || fail "udp_rx is $(stat_of udp_rx), want 315"
[[ $(stat_of udp_tx) -eq 315 ]] || fail "udp_tx is $(stat_of udp_tx), want 315"
for c in udp_bad_csum udp_bad_len udp_short ipv4_reasm_overlap ipv4_reasm_timeout tx_no_frame tx_ring_full; do
	[[ $(stat_of $c) -eq 0 ]] || fail "$c is $(stat_of $c)"
done
ok "counters: 315 datagrams in and out, one port unreachable, no drops"

stop_sluice || { cat "$TMP/run.err"; fail "sluice run exited non-zero on SIGTERM"; }
grep -q 'udp-rx 315' "$TMP/run.err" || fail "summary: $(tail -1 "$TMP/run.err")"
grep -q 'frames 4096/4096 returned' "$TMP/run.err" || { cat "$TMP/run.err"; fail "frames not all returned"; }
ok "clean stop: $(tail -1 "$TMP/run.err")"
