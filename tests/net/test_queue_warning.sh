#!/usr/bin/env bash
# A run that serves fewer receive queues than the device has says so at start, in one line:
# what the device puts on the other queues passes the gate to the kernel, which drops what
# is for sluice's address (the queues bench lost about half the flows this way with
# --queues 1 on a 2-queue veth, without a word). Checked on a veth pair with 2 queues per
# end: `--queues 1` (queue 0 only) and `--queue 1` warn, `--queues 2` does not. The loss the warning is about is shown too: 32 UDP flows from 32 sockets
# (the kernel spreads them over its TX queues; veth delivers on the RX queue of the same
# number) against `--queues 1`: some go unanswered, and against `--queues 2` all are.
source "$(dirname "$0")/lib.sh"

setup_net 2
WARN='has 2 receive queues and this run serves 1 of them'

flows() { # flows: how many of 32 flows got their echo (2 tries each, 0.5 s timeout: ≤ 32 s)
	in_peer timeout 60 $PY - "$STACK_IP" <<'PYEOF'
import socket, sys
ip, n = sys.argv[1], 0
for i in range(32):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 21000 + i))
    s.settimeout(0.5)
    s.connect((ip, 7))
    for _ in range(2):
        s.send(b"flow %d" % i)
        try:
            if s.recv(100) == b"flow %d" % i:
                n += 1
                break
        except socket.timeout:
            pass
    s.close()
print(n)
PYEOF
}

start_sluice --udp-echo 7
grep -q "$WARN" "$TMP/run.err" || fail "--queues 1 on a 2-queue device: no warning: $(cat "$TMP/run.err")"
[[ $(grep -c 'warning' "$TMP/run.err") -eq 1 ]] || fail "more than one warning line: $(cat "$TMP/run.err")"
got=$(flows) || fail "UDP flows"
stop_sluice || fail "sluice run exited with an error"
[[ $got -lt 32 ]] || fail "all 32 flows answered with one queue served: the test cannot show the loss"
ok "--queues 1 on 2 queues warns ($got of 32 flows answered)"

start_sluice --udp-echo 7 --queue 1
grep -q "$WARN" "$TMP/run.err" || fail "--queue 1 on a 2-queue device: no warning: $(cat "$TMP/run.err")"
stop_sluice || fail "sluice run exited with an error"
ok "--queue 1 alone warns"

start_sluice --udp-echo 7 --queues 2
grep -q 'warning' "$TMP/run.err" && fail "--queues 2 on 2 queues warned: $(cat "$TMP/run.err")"
got=$(flows) || fail "UDP flows"
stop_sluice || fail "sluice run exited with an error"
[[ $got -eq 32 ]] || fail "--queues 2: $got of 32 flows answered"
ok "--queues 2 serves every queue: no warning, 32 of 32 flows answered"
