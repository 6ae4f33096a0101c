#!/usr/bin/env bash
# IPv6 over four queues: `sluice run --queues 4` with an IPv6 address. 32 UDP flows from the
# kernel peer, each from its own source port, all get their echo, spread over at least two
# stacks; ping -6 (also fragmented) works; a clean stop returns all 4 × 4096 frames. (Here the
# peer's own solicitations, which carry its link-layer address, reach the queues, so this does
# not prove that an advertisement landing on another queue is shared: it passes without that.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib6.sh"
NQ=4

setup_net6 $NQ
in_sl ip -d link show "$IF_SL" | grep "numtxqueues $NQ numrxqueues $NQ" >/dev/null ||
	fail "stack veth does not have $NQ queues"
start_sluice_args --addr "$STACK6/64" --udp-echo 7 --queues $NQ

in_peer timeout 60 $PY - "$STACK6" <<'PYEOF' || fail "UDP flows over IPv6"
import os, socket, sys
ip = sys.argv[1]
socks = []
for i in range(32):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", 20000 + i))
    s.settimeout(3)
    s.connect((ip, 7))
    socks.append(s)
bad = []
for rnd in range(3):
    for i, s in enumerate(socks):
        data = b"flow %d round %d " % (i, rnd) + os.urandom(64 + i * 40)
        s.send(data)
        try:
            got = s.recv(65536)
        except socket.timeout:
            bad.append("flow %d round %d: no echo" % (i, rnd))
            continue
        if got != data:
            bad.append("flow %d round %d: echo differs" % (i, rnd))
if bad:
    sys.exit("; ".join(bad[:8]) + (" (%d failures)" % len(bad)))
print("ok: 32 IPv6 flows x 3 rounds echoed intact")
PYEOF

per_queue=$(in_sl "$SLUICE" stats "$IF_SL" --json | $PY -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("q%d:%d" % (s["queue"], s["counters"]["udp_rx"]) for s in d["stacks"]))') ||
	fail "sluice stats --json"
busy=0 total=0
for kv in $per_queue; do
	n=${kv#*:}
	total=$((total + n))
	[[ $n -gt 0 ]] && busy=$((busy + 1))
done
[[ $total -eq 96 ]] || fail "the stacks received $total datagrams, want 96 ($per_queue)"
[[ $busy -ge 2 ]] || fail "all datagrams arrived on one queue ($per_queue): flows not spread"
ok "96 IPv6 datagrams over $busy queues ($per_queue)"

out=$(in_peer ping -6 -c 10 -i 0.05 -W 2 "$STACK6") || { echo "$out"; fail "ping -6 lost packets"; }
out=$(in_peer ping -6 -c 3 -i 0.1 -W 2 -s 4000 "$STACK6") || { echo "$out"; fail "ping -6 -s 4000 lost packets"; }
ok "ping -6 (also 4000 bytes, fragmented) answered"

kill -TERM "$SLUICE_PID"
wait "$SLUICE_PID" || { cat "$TMP/run.err"; fail "sluice run exited non-zero on SIGTERM"; }
SLUICE_PID=
grep -q "frames $((NQ * 4096))/$((NQ * 4096)) returned" "$TMP/run.err" || { cat "$TMP/run.err"; fail "frames not all returned"; }
ok "clean stop: $(tail -1 "$TMP/run.err")"
