#!/usr/bin/env bash
# Active opens on the right queue: `sluice run --queues 2 --send` on a veth pair with two queues
# at both ends. --send runs on the stack of queue 0, and the peer's replies arrive on whichever
# queue the peer transmits on: XPS on the peer picks it here (veth delivers on the RX queue of
# the TX queue's number). With the replies on queue 1 (SYN-ACK, every ACK, the FIN), the
# transfer still completes with exactly the bytes sent, over IPv4 and IPv6: the tuple rule
# installed before the SYN names queue 0 as the flow's home, the gate marks the flow's frames
# that arrive on queue 1, and the device of queue 1 hands them to queue 0
# (dev_handoff_out/in, the gate's handoff counter). With the replies on queue 0 nothing is
# handed over. At MTU 9000, with the peer also sending 4 MiB back, the multi-buffer frames
# (gathered from several descriptors) are handed over whole. After each run the gate holds
# no rule of it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib6.sh"

setup_net6 2
N=$((16 << 20))

# xps Q: the peer transmits everything on its TX queue Q.
xps() {
	local all q
	all=$(printf '%x' $(((1 << $(nproc)) - 1)))
	for q in 0 1; do
		in_peer sh -c "echo $([[ $q == "$1" ]] && echo "$all" || echo 0) > /sys/class/net/$IF_PEER/queues/tx-$q/xps_cpus" ||
			fail "cannot set XPS on the peer's tx-$q"
	done
}

# A sink on the peer (IPv4 and IPv6): one connection, every byte checked against the pattern of
# --send (byte i = i mod 251), closed after the sender's FIN; start_sink PORT [BACK] first
# sends BACK bytes the other way (--send reads and drops them).
start_sink() {
	in_peer timeout 90 $PY - "$1" "$N" "${2:-0}" >"$TMP/sink.out" 2>&1 <<'EOF' &
import os, socket, sys
port, want, back = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("::", port))
ls.listen(1)
print("listening", flush=True)
c, peer = ls.accept()
if back:
    c.sendall(os.urandom(back))
pat = bytes(range(251)) * (262144 // 251 + 2)
got = 0
while True:
    b = c.recv(262144)
    if not b:
        break
    o = got % 251
    if b != pat[o:o + len(b)]:
        print("byte pattern differs in the %d bytes at %d" % (len(b), got), flush=True)
        sys.exit(1)
    got += len(b)
c.close()
print("received %d bytes from %s, pattern intact" % (got, peer[0]), flush=True)
sys.exit(0 if got == want else 1)
EOF
	SINK_PID=$!
	for _ in $(seq 50); do
		grep -q listening "$TMP/sink.out" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "the sink did not start: $(cat "$TMP/sink.out")"
}

gate_counter() {
	in_sl "$SLUICE" stats "$IF_SL" --json | $PY -c "import json,sys; print(json.load(sys.stdin)['gate'].get('$1', 0))"
}

# send_case LABEL REPLY_QUEUE DEST PORT [BACK]: one --send run with the peer replying on
# REPLY_QUEUE (and sending BACK bytes to sluice).
send_case() {
	local label=$1 rq=$2 dest=$3 port=$4 back=${5:-0} h0 h1 rc=0
	xps "$rq"
	start_sink "$port" "$back"
	h0=$( (in_sl "$SLUICE" attach "$IF_SL" >/dev/null 2>&1; gate_counter handoff))
	in_sl timeout 90 "$SLUICE" run "$IF_SL" --addr "$STACK_IP/24" --addr "$STACK6/64" --queues 2 \
		--send "$dest:$port:$N" --json >"$TMP/send.json" 2>"$TMP/send.err" || rc=$?
	wait "$SINK_PID" || { cat "$TMP/sink.out" "$TMP/send.err"; fail "$label: the sink failed"; }
	[[ $rc -eq 0 ]] || { cat "$TMP/send.err"; fail "$label: sluice run --send exited $rc"; }
	grep -q "received $N bytes.*pattern intact" "$TMP/sink.out" || fail "$label: sink: $(cat "$TMP/sink.out")"
	grep -q "sent $N bytes" "$TMP/send.err" || fail "$label: no transfer line: $(cat "$TMP/send.err")"
	h1=$(gate_counter handoff)
	$PY - "$TMP/send.json" "$rq" "$((h1 - h0))" "$label" "$back" <<'EOF' || fail "$label: $(cat "$TMP/send.err")"
import json, sys
d = json.load(open(sys.argv[1]))
rq, marked, label, back = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
c = d["counters"]
out, inn, full, nohome = (c["dev_handoff_out"], c["dev_handoff_in"], c["dev_handoff_full"],
                          c["dev_handoff_no_home"])
# A frame queue 1 hands over after queue 0's stack stopped (the peer's last ACK, say) waits in
# queue 0's mailbox and is discarded with it: counted there, not taken.
waiting = c["dev_handoff_waiting"]
assert d["frames_returned"] == d["frames_total"] > 0, (d["frames_returned"], d["frames_total"])
assert full == 0 and nohome == 0, (full, nohome)
assert c["tcp_no_conn"] == 0, "segments met no connection: %d" % c["tcp_no_conn"]
if rq == 1:
    # Every segment from the peer came on queue 1: the gate marked it, queue 1 passed it on,
    # queue 0 took it.
    assert out > 0 and out == inn + waiting and out == marked, (out, inn, waiting, marked)
    # Only what came in the moments between the stops; a queue 0 that took nothing would
    # leave hundreds (every ACK of the transfer).
    assert waiting <= 8, "%d frames left in queue 0's mailbox" % waiting
else:
    assert out == inn == marked == waiting == 0, (out, inn, marked, waiting)
multi = c["dev_rx_multibuf"]
if back and rq == 1:
    assert multi > 0, "no frame came in several buffers"
print("ok: %s: %d frames marked by the gate, %d handed from queue 1 to queue 0 (%d gathered from "
      "several buffers, %d after queue 0 stopped)" % (label, marked, out, multi, waiting))
EOF
	in_sl "$SLUICE" flow list "$IF_SL" --json | $PY -c '
import json, sys
f = json.load(sys.stdin)["flows"]
sys.exit("rules left after the run: %s" % f if f else 0)' || fail "$label: rules left behind"
	ok "$label: $(grep -o 'sent .*' "$TMP/send.err")"
}

send_case "IPv4, replies on queue 1" 1 "$PEER_IP" 5001
send_case "IPv6, replies on queue 1" 1 "[$PEER6]" 5002
send_case "IPv4, replies on queue 0" 0 "$PEER_IP" 5003

# Jumbo frames: MTU 9000 both ends (multi-buffer AF_XDP); the peer's 8960-byte segments come
# in several descriptors on queue 1 and are handed to queue 0 whole.
in_peer ip link set dev "$IF_PEER" mtu 9000 || fail "cannot set MTU 9000 on $IF_PEER"
in_sl ip link set dev "$IF_SL" mtu 9000 || fail "cannot set MTU 9000 on $IF_SL"
send_case "IPv4, MTU 9000, replies and 4 MiB of data on queue 1" 1 "$PEER_IP" 5004 $((4 << 20))
