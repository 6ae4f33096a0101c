#!/usr/bin/env bash
# No receive livelock (issue 9 item 3).
# First, a full TX array flushes instead of dropping: tests/net/xsk_burst.c opens the AF_XDP
# device on the stack's veth through the library and queues 1000 frames with tx() before a
# single flush (one poll's output, four times the device's TX array of 256): every one is
# queued (3 mid-poll submits, dev_tx_batch_flush), the kernel peer receives all 1000 (an
# AF_PACKET socket counting their numbers), and every frame comes back at close. Before,
# frames 257..1000 were refused.
# Then tests/net/flood.c writes UDP datagrams to the stack's
# echo port as raw Ethernet frames on the kernel peer's veth (AF_PACKET, PACKET_QDISC_BYPASS),
# as fast as the socket takes them: several times what `sluice run --udp-echo 7` can echo on
# this machine, so the kernel drops at the AF_XDP rings (dev_rx_dropped, dev_rx_ring_full:
# checked for the small UMEM, or the run showed nothing; the default one may keep up when the
# VM's per-packet costs rise, and then says so). The flood's source is the peer's own address, port 9
# (discard, nothing listens: the peer drops the echoes). Meanwhile tests/net/probe.py in the
# peer sends one probe every 10 ms from its own socket and counts the intact echoes.
# For the default UMEM (4096 frames) and a small one (--frames 256):
#   - before the flood 50 of 50 probes are answered;
#   - during it at least half of 300 probes are answered (a probe is lost only where a flood
#     datagram would be: the kernel drops at the full RX ring or the empty fill ring before
#     the stack sees it, or its reply at a full TX ring; 98-100 % measured here);
#   - no reply fails for want of a frame (tx_no_frame 0: the TX reserve, --tx-reserve);
#   - after the flood is stopped, 100 of 100 probes are answered (recovery);
#   - sluice stops cleanly with every frame returned.
# Then the small UMEM without the reserve (--tx-reserve 0, the behaviour before the reserve):
# its tx_no_frame count must be above 0, which shows this flood is one the reserve matters for.
# CPUs: sluice runs on CPU 1, the flood and the probes on CPU 0, as a deployment would place
# them. Left to the scheduler on two CPUs, three busy programs take turns on one of them, and
# probes are lost in bursts of 100 ms or more while the stack waits for its CPU (answered
# 34-82 % in six unpinned runs here, 298-300 of 300 in three pinned ones): that measures the
# scheduler, not the stack.
# Every loop is bounded: the flood by a packet count and seconds (and stopped by its PID
# once the probes are done), the probes by their count. Takes about 30 s.
source "$(dirname "$0")/lib.sh"
setup_net
need cc timeout taskset
[[ $(nproc) -ge 2 ]] || fail "needs 2 CPUs (sluice on one, the flood and the probes on the other); this machine has $(nproc)"
export SLUICE_CPUS=1
GENCPU=(taskset -c 0)
GEN=$TMP/flood
cc -O2 -Wall -Wextra -Werror -o "$GEN" "$ROOT/tests/net/flood.c" || fail "cannot build tests/net/flood.c"
BURST=$TMP/xsk_burst
cc -O2 -Wall -Wextra -Werror -I"$ROOT/include" -o "$BURST" "$ROOT/tests/net/xsk_burst.c" \
	"$ROOT/build/libsluice.a" -lxdp -lbpf -lelf -lz || fail "cannot build tests/net/xsk_burst.c"
PROBE="$ROOT/tests/net/probe.py"
MAC=$(in_sl ip -o link show "$IF_SL" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
[[ -n $MAC ]] || fail "no MAC address on $IF_SL"
FLOOD_MAX=20000000 # packets; the seconds bound below ends it first at this machine's rates
FLOOD_SECS=8
DURING=300 # probes every 10 ms during the flood
MIN_PCT=50
FLOOD_PID=
livelock_cleanup() {
	[[ -n $FLOOD_PID ]] && kill "$FLOOD_PID" 2>/dev/null
	cleanup
}
trap livelock_cleanup EXIT
failed=0
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# answered OUT: the M of "sent N answered M".
answered() { sed -n 's/^sent [0-9]* answered \([0-9]*\)$/\1/p' <<<"$1"; }

# flood_run LABEL [sluice args]: one sluice, one flood; sets NO_FRAME to its tx_no_frame and
# KDROP to the frames the kernel dropped at the rings. With OVERLOAD_OPTIONAL=1 a run the flood
# did not overload is reported, not failed (see the default UMEM's run below).
flood_run() {
	local label=$1 out n kdrop
	shift
	start_sluice --udp-echo 7 "$@"
	in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "$label: stack not answering ping"
	out=$(in_peer timeout 10 $PY "$PROBE" "$STACK_IP" 7 50 0.01) || fail "$label: probe failed"
	[[ $(answered "$out") -eq 50 ]] || bad "$label: before the flood: $out"

	# nsenter execs the generator, so $! is the generator itself (ip netns exec forks: killing
	# its PID would leave the flood running). flood.c bounds itself in packets and seconds.
	"${GENCPU[@]}" nsenter --net=/run/netns/"$NS_PEER" "$GEN" "$IF_PEER" "$MAC" "$PEER_IP" 9 "$STACK_IP" 7 64 \
		$FLOOD_MAX $FLOOD_SECS >"$TMP/flood.out" 2>&1 &
	FLOOD_PID=$!
	sleep 0.5
	out=$(in_peer "${GENCPU[@]}" timeout 20 $PY "$PROBE" "$STACK_IP" 7 $DURING 0.01 0.5) || fail "$label: probe failed"
	kill -0 "$FLOOD_PID" 2>/dev/null || bad "$label: the flood ended before the probes did ($(cat "$TMP/flood.out"))"
	kill -TERM "$FLOOD_PID" 2>/dev/null
	wait "$FLOOD_PID" 2>/dev/null
	FLOOD_PID=
	n=$(answered "$out")
	echo "$label: during the flood: $out ($((100 * n / DURING)) %); flood: $(cat "$TMP/flood.out")"
	[[ $((100 * n)) -ge $((MIN_PCT * DURING)) ]] ||
		bad "$label: fewer than $MIN_PCT % of probes answered during the flood: $out"

	sleep 0.5
	out=$(in_peer timeout 10 $PY "$PROBE" "$STACK_IP" 7 100 0.01) || fail "$label: probe failed"
	[[ $(answered "$out") -eq 100 ]] || bad "$label: after the flood, not all probes answered: $out"

	kdrop=$(($(stat_of dev_rx_dropped) + $(stat_of dev_rx_ring_full)))
	NO_FRAME=$(stat_of tx_no_frame)
	echo "$label: udp_rx $(stat_of udp_rx) tx_frames $(stat_of tx_frames) tx_no_frame $NO_FRAME" \
		"tx_ring_full $(stat_of tx_ring_full) dev_tx_ring_full $(stat_of dev_tx_ring_full)" \
		"dev_fill_reserved $(stat_of dev_fill_reserved) kernel drops $kdrop"
	KDROP=$kdrop
	[[ $kdrop -gt 0 || ${OVERLOAD_OPTIONAL:-0} -eq 1 ]] ||
		bad "$label: the kernel dropped nothing: the flood did not overload the stack"
	stop_sluice || bad "$label: sluice exited non-zero"
	grep -Eq 'frames ([0-9]+)/\1 returned' "$TMP/run.err" ||
		bad "$label: frames not all returned: $(tail -1 "$TMP/run.err")"
}

# --- a full TX array flushes --------------------------------------------------------------
# The receiver counts distinct frame numbers of EtherType 0x88b5 for 4 s (bounded), after
# saying it is ready.
in_peer timeout 10 $PY -c '
import select, socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
s.bind((sys.argv[1], 0x88b5))
open(sys.argv[2], "w").write("ready\n")
seen = set()
end = time.monotonic() + 4
while time.monotonic() < end:
    if select.select([s], [], [], 0.2)[0]:
        d = s.recv(2048)
        seen.add(d[14] << 8 | d[15])
print("received %d" % len(seen))
' "$IF_PEER" "$TMP/ready" >"$TMP/burst.rx" 2>&1 &
RX_PID=$!
for _ in $(seq 50); do
	[[ -s $TMP/ready ]] && break
	sleep 0.1
done
[[ -s $TMP/ready ]] || fail "the frame counter in the peer did not start"
out=$(in_sl timeout 10 "$BURST" "$IF_SL" 1000) || bad "xsk_burst: $out"
wait "$RX_PID"
echo "1000 frames in one poll: $out; peer: $(cat "$TMP/burst.rx")"
[[ $out == "queued 1000 refused 0 batch_flushes 3 tx_ring_full 0 frames 4096/4096 returned" ]] ||
	bad "a full TX array did not flush: $out"
[[ $(cat "$TMP/burst.rx") == "received 1000" ]] || bad "the peer got $(cat "$TMP/burst.rx") of 1000 frames"

# --- the flood -----------------------------------------------------------------------------
# The default UMEM outruns the flood on a slow day of this VM (seen once: the flood reached
# 184 k frames/s and the stack echoed all of them): then its run checks answers and recovery
# under load, not overload, and says so; the 256-frame runs below must overload either way.
OVERLOAD_OPTIONAL=1 flood_run "4096 frames"
[[ $KDROP -gt 0 ]] || echo "4096 frames: the flood did not overload the default UMEM on this run"
[[ $NO_FRAME -eq 0 ]] || bad "4096 frames: $NO_FRAME replies found no frame (tx_no_frame)"
flood_run "256 frames" --frames 256
[[ $NO_FRAME -eq 0 ]] || bad "256 frames: $NO_FRAME replies found no frame (tx_no_frame)"
flood_run "256 frames, no reserve" --frames 256 --tx-reserve 0
echo "without the reserve: tx_no_frame $NO_FRAME (replies that found no frame)"
# The flood must be one that starves replies without the reserve, or the two checks of
# tx_no_frame 0 above prove nothing.
[[ $NO_FRAME -gt 0 ]] || bad "256 frames, no reserve: tx_no_frame 0: the flood never starved a reply of a frame"

[[ $failed -eq 0 ]] || fail "$failed check(s) failed"
ok "receive flood: echoes kept flowing, recovered, no reply starved of a frame, every frame back"
