#!/usr/bin/env bash
# Measures what sluice-relay forwards on this machine, one direction, no impairment:
#   raw   relay-blast floods SIZE-byte frames into A's veth for SECONDS (CPU 0); the relay
#         (CPU 1) forwards them to B, whose kernel drops them on arrival (unknown destination
#         MAC), so the figure is the relay's own cost plus veth. Rate = the relay's
#         `forwarded` counter between two stats-file snapshots taken while the flood runs.
#   tcp   kernel TCP (iperf3, GSO/TSO off, MTU-sized segments) from A to B through the relay.
# Usage: tools/relay/bench/throughput.sh [SIZE] [SECONDS] [RELAY OPTIONS...]   (root; after make)
# e.g. tools/relay/bench/throughput.sh 1514 5 --delay 5
set -uo pipefail
cd "$(dirname "$0")/../../.."
source tests/net/relay_lib.sh
SIZE=${1:-1514}
SECS=${2:-5}
shift 2 2>/dev/null
OPTS=("$@")
echo "relay options: ${OPTS[*]:-(none)}"
need clang iperf3 taskset
clang -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o build/relay-blast tools/relay/bench/blast.c ||
	fail "cannot build relay-blast"
relay_setup

# cpu_snap: "busy total" jiffies of cpu0 and cpu1 from /proc/stat.
cpu_snap() { awk '/^cpu[01] /{b=$2+$3+$4+$7+$8; t=b+$5+$6; printf "%d %d ", b, t}' /proc/stat; }

snap() { $RELAY_PY -c '
import json, sys
d = json.loads(open(sys.argv[1]).readline())
print(d["elapsed_s"], d["forwarded"], d["received"], d["rx_ring_drops"])' "$RELAY_TMP/stats"; }

RELAY_CPU=1 relay_start "${OPTS[@]}" --stats-file "$RELAY_TMP/stats" --stats-interval 0.1
taskset -c 0 ip netns exec "$NS_A" build/relay-blast "$IF_A" 02:00:00:00:00:99 "$SIZE" "$SECS" \
	>"$RELAY_TMP/blast.json" &
BLAST=$!
sleep 1
read -r t1 f1 r1 d1 <<<"$(snap)"
read -r b0a t0a b1a t1a <<<"$(cpu_snap)"
sleep $((SECS - 2))
read -r t2 f2 r2 d2 <<<"$(snap)"
read -r b0b t0b b1b t1b <<<"$(cpu_snap)"
wait $BLAST
relay_stop
$RELAY_PY -c '
import sys
t1, f1, d1, t2, f2, d2, size = map(float, sys.argv[1:8])
pps = (f2 - f1) / (t2 - t1)
print("raw: %d-byte frames: relay forwarded %.0f pps = %.2f Gbit/s (ring drops %d in the window)"
      % (size, pps, pps * size * 8 / 1e9, d2 - d1))' "$t1" "$f1" "$d1" "$t2" "$f2" "$d2" "$SIZE"
echo "blast: $(cat "$RELAY_TMP/blast.json")"
echo "busy in the window: CPU 0 (blast, M's receive) $((100 * (b0b - b0a) / (t0b - t0a))) %, CPU 1 (relay, B's receive) $((100 * (b1b - b1a) / (t1b - t1a))) %"
echo "relay: $(head -1 "$RELAY_OUT")"

RELAY_CPU=1 relay_start "${OPTS[@]}"
in_b iperf3 -s -1 -D -p 5201 >/dev/null
sleep 0.3
in_a iperf3 -c "$B_IP" -p 5201 -t "$SECS" -J >"$RELAY_TMP/iperf.json" || fail "iperf3 failed"
relay_stop
$RELAY_PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
e = d["end"]
print("tcp: kernel TCP through the relay: %.2f Gbit/s, %d retransmits"
      % (e["sum_received"]["bits_per_second"] / 1e9, e["sum_sent"].get("retransmits", 0)))' \
	"$RELAY_TMP/iperf.json"
echo "relay: $(head -1 "$RELAY_OUT")"
