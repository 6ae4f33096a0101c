#!/usr/bin/env bash
# Four queues: a veth pair with 4 TX and 4 RX queues on both ends and `sluice run --queues 4`
# (one stack and one AF_XDP socket per queue, ARP shared through the neighbour table).
# 32 UDP flows from the kernel peer, each from its own source port, all get their echo; the
# kernel spreads the flows over its TX queues (veth delivers on the RX queue of the same
# number), so `sluice stats --json` shows 4 stacks and datagrams received on at least two
# of them. Ping works, and a clean stop returns all 4 × 4096 frames.
source "$(dirname "$0")/lib.sh"
NQ=4

setup_net $NQ
in_peer ip -d link show "$IF_PEER" | grep "numtxqueues $NQ numrxqueues $NQ" >/dev/null ||
	fail "peer veth does not have $NQ queues: $(in_peer ip -d link show "$IF_PEER")"
in_sl ip -d link show "$IF_SL" | grep "numtxqueues $NQ numrxqueues $NQ" >/dev/null ||
	fail "stack veth does not have $NQ queues: $(in_sl ip -d link show "$IF_SL")"
start_sluice --udp-echo 7 --queues $NQ
grep -q "queues 0..$((NQ - 1))" "$TMP/run.err" || fail "sluice run does not say it serves $NQ queues: $(cat "$TMP/run.err")"

# Every stack published its counters.
nstacks=$(in_sl "$SLUICE" stats "$IF_SL" --json | $PY -c '
import json, sys
d = json.load(sys.stdin)
print(len(d["stacks"]), sorted(s["queue"] for s in d["stacks"]))') || fail "sluice stats --json"
[[ $nstacks == "$NQ [0, 1, 2, 3]" ]] || fail "stats shows stacks $nstacks, want $NQ [0, 1, 2, 3]"
ok "$NQ stacks, one per queue"

# 32 flows, one socket each (a socket keeps its TX queue; different sockets hash apart).
in_peer timeout 60 $PY - "$STACK_IP" <<'EOF' || fail "UDP flows"
import os, socket, sys
ip = sys.argv[1]
socks = []
for i in range(32):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 20000 + i))
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
print("ok: 32 flows x 3 rounds echoed intact")
EOF

per_queue=$(in_sl "$SLUICE" stats "$IF_SL" --json | $PY -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("q%d:%d" % (s["queue"], s["counters"]["udp_rx"]) for s in d["stacks"]))')
echo "udp_rx per queue: $per_queue"
total=0 busy=0
for kv in $per_queue; do
	n=${kv#*:}
	total=$((total + n))
	[[ $n -gt 0 ]] && busy=$((busy + 1))
done
[[ $total -eq 96 ]] || fail "the stacks received $total datagrams in all, want 96 ($per_queue)"
[[ $busy -ge 2 ]] || fail "all datagrams arrived on one queue ($per_queue): flows not spread"
ok "96 datagrams over $busy queues ($per_queue)"

out=$(in_peer ping -c 10 -i 0.05 -W 2 "$STACK_IP") || { echo "$out"; fail "ping to the stack lost packets"; }
out=$(in_peer ping -c 3 -i 0.1 -W 2 -s 4000 "$STACK_IP") || { echo "$out"; fail "ping -s 4000 lost packets"; }
ok "ping (also 4000 bytes, fragmented) answered"

stop_sluice || { cat "$TMP/run.err"; fail "sluice run exited non-zero on SIGTERM"; }
grep -q "($NQ queues)" "$TMP/run.err" || fail "summary: $(tail -1 "$TMP/run.err")"
grep -q 'udp-rx 96 ' "$TMP/run.err" || fail "summary does not count 96 datagrams: $(tail -1 "$TMP/run.err")"
grep -q "frames $((NQ * 4096))/$((NQ * 4096)) returned" "$TMP/run.err" || { cat "$TMP/run.err"; fail "frames not all returned"; }
ok "clean stop: $(tail -1 "$TMP/run.err")"
