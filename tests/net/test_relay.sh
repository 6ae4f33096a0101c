#!/usr/bin/env bash
# sluice-relay against real kernel peers: namespace A and namespace B talk through the relay in
# namespace M (tests/net/relay_lib.sh). Checks, each with bounded traffic:
#   - plain forwarding; ARP passes unimpaired by default, and is delayed with --impair-all;
#   - --delay-ab/--delay-ba: ping's RTT is at least their sum (a lower bound only);
#   - jitter without --reorder keeps every datagram in order; --reorder reorders;
#   - --loss 100 drops everything; --loss 10 over 2000 datagrams lands within 5 sigma and the
#     relay's dropped_loss equals what B missed; Gilbert-Elliott loses in bursts;
#   - --dup makes ping report DUP!;
#   - --rate with --limit / --limit-bytes tail-drops a burst and bounds the queue;
#   - --max-frames bounds what the relay holds (dropped_pool);
#   - 802.1Q / 802.1ad tags cross intact (the kernel strips them before AF_PACKET sees them);
#   - 8 MiB of TCP through delay + jitter + loss + reorder + duplication, SHA-256 equal;
#   - super-frames (UDP GSO, --no-xdp) are dropped as dropped_oversize with a warning, and
#     unfinished checksums (tx on) are counted as csum_partial;
#   - one-line errors, --help naming every option, the stats file;
# and after every run the counters add up per direction:
#   received + duplicated = forwarded + dropped_*.
# The random decisions use RELAY_TEST_SEED (random by default, printed) so a failure replays.
# Takes 10-20 s (the TCP transfer is bounded at 40 s).
source "$(dirname "$0")/relay_lib.sh"
need ping arping socat sha256sum timeout ss head tcpdump
[[ -x $RELAY_PY ]] || fail "$RELAY_PY missing (make deps installs python3)"
SEED=${RELAY_TEST_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "seed $SEED (RELAY_TEST_SEED=$SEED replays it)"
UDP=$RELAY_TMP/udp.py
PORT=7000

cat >"$UDP" <<'EOF'
# udp.py recv PORT COUNT MAX_S > seqs.json | send IP PORT COUNT SIZE GAP_US | stats FILE COUNT
import json, socket, struct, sys, time
cmd = sys.argv[1]
if cmd == "recv":
    port, count, max_s = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", port))
    seqs, end = [], time.monotonic() + max_s
    # Ends at COUNT datagrams, 0.5 s after the last one, or at MAX_S.
    while len(seqs) < count and time.monotonic() < end:
        s.settimeout(0.5 if seqs else max(0.01, end - time.monotonic()))
        try:
            seqs.append(struct.unpack("!I", s.recv(65536)[:4])[0])
        except socket.timeout:
            if seqs:
                break
    print(json.dumps(seqs))
elif cmd == "send":
    ip, port, count, size, gap = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]) * 1e-6
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pad = bytes(size - 4)
    t = time.perf_counter()
    for i in range(count):
        s.sendto(struct.pack("!I", i) + pad, (ip, port))
        t += gap
        while gap and time.perf_counter() < t:
            pass
else:  # stats: received (unique), duplicates, lost, inversions, mean length of loss bursts
    seqs, count = json.load(open(sys.argv[2])), int(sys.argv[3])
    got = set(seqs)
    inv, top = 0, -1
    for q in seqs:
        if q < top:
            inv += 1
        top = max(top, q)
    bursts = lost = run = 0
    for i in range(count):
        if i in got:
            run = 0
        else:
            lost += 1
            if run == 0:
                bursts += 1
            run += 1
    print(len(got), len(seqs) - len(got), lost, inv, "%.2f" % (lost / bursts if bursts else 0))
EOF

# udp_run FROM_NS TO_NS TO_IP COUNT SIZE GAP_US: COUNT datagrams, bounded in time; prints
# "received duplicates lost inversions mean_burst" of what arrived.
udp_run() {
	local from=$1 to=$2 ip=$3 count=$4 size=$5 gap=$6 rpid
	PORT=$((PORT + 1))
	ip netns exec "$to" timeout 20 "$RELAY_PY" "$UDP" recv $PORT "$count" 15 >"$RELAY_TMP/seqs.json" &
	rpid=$!
	for _ in $(seq 50); do
		ip netns exec "$to" ss -Hlun "sport = :$PORT" | grep . >/dev/null && break
		sleep 0.05
	done
	ip netns exec "$from" timeout 20 "$RELAY_PY" "$UDP" send "$ip" $PORT "$count" "$size" "$gap" ||
		fail "UDP sender failed"
	wait $rpid || fail "UDP receiver failed"
	"$RELAY_PY" "$UDP" stats "$RELAY_TMP/seqs.json" "$count"
}

# stop_check: stop the relay and require the counters of both directions to add up.
stop_check() {
	relay_stop
	"$RELAY_PY" - "$RELAY_OUT" <<'EOF' || fail "relay counters do not add up: $(cat "$RELAY_OUT")"
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    drops = sum(v for k, v in d.items() if k.startswith("dropped_"))
    if d["received"] + d["duplicated"] != d["forwarded"] + drops:
        sys.exit(1)
EOF
}

st() { relay_stat "$@"; }
min_rtt() { sed -n 's|^rtt min/avg/max/mdev = \([0-9.]*\)/.*|\1|p'; }
fge() { "$RELAY_PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$1" "$2"; }
flush_neigh() {
	ip -n "$NS_A" neigh flush dev "$IF_A"
	ip -n "$NS_B" neigh flush dev "$IF_B"
}

# --- errors and help, before any topology -----------------------------------------------------
relay_setup
out=$(nsenter --net=/run/netns/"$NS_M" "$RELAY" nosuch0 "$IF_MB" 2>&1) && fail "relay accepted a missing interface"
[[ $out == "sluice-relay: nosuch0: no such interface" ]] || fail "unclear error for a missing interface: $out"
out=$(nsenter --net=/run/netns/"$NS_M" "$RELAY" "$IF_MA" "$IF_MB" --loss 150 2>&1) && fail "relay accepted --loss 150"
[[ $(wc -l <<<"$out") -eq 1 && $out == *"--loss"*"150"* ]] || fail "unclear error for --loss 150: $out"
help=$("$RELAY" --help) || fail "--help did not exit 0"
for o in delay jitter loss ge reorder reorder-delay dup rate limit limit-bytes overhead impair-all \
	no-xdp max-frames ring-frames seed stats-file stats-interval duration; do
	grep -q -- "--$o\b" <<<"$help" || fail "--help does not document --$o"
done
grep -q -- "--NAME-ab and --NAME-ba" <<<"$help" || fail "--help does not explain per-direction options"
ok "one-line errors; --help documents every option"

# --- plain forwarding, ARP unimpaired; --impair-all delays ARP ---------------------------------
relay_start --delay 5 --stats-file "$RELAY_TMP/stats" --stats-interval 0.1 --seed "$SEED"
flush_neigh
in_a ping -c 3 -i 0.05 -w 5 "$B_IP" >"$RELAY_TMP/ping" || fail "no ping through the relay: $(cat "$RELAY_TMP/ping")"
sleep 0.2
[[ $(grep -c '^{' "$RELAY_TMP/stats") -eq 2 ]] || fail "the stats file does not hold two JSON lines"
stop_check
[[ $(st ab passed) -ge 1 && $(st ba passed) -ge 1 ]] || fail "ARP was not passed unimpaired: $(cat "$RELAY_OUT")"
r=$(min_rtt <"$RELAY_TMP/ping")
fge "$r" 10 || fail "RTT $r ms through --delay 5 is below 10 ms"
ok "ping through --delay 5: min RTT $r ms (>= 10); ARP passed unimpaired ($(st ab passed) + $(st ba passed))"

relay_start --impair-all --delay 5 --seed "$SEED"
flush_neigh
in_a arping -c 2 -w 5 -I "$IF_A" "$B_IP" >"$RELAY_TMP/arping" || fail "no ARP reply through the relay"
stop_check
[[ $(st ab passed) -eq 0 ]] || fail "--impair-all still passed frames unimpaired"
r=$(sed -n 's/.* \([0-9.]*\)ms$/\1/p' "$RELAY_TMP/arping" | sort -n | head -1)
[[ -n $r ]] && fge "$r" 10 || fail "ARP through --impair-all --delay 5 answered in $r ms (< 10)"
ok "--impair-all delays ARP too: min $r ms"

# --- per-direction delay ------------------------------------------------------------------------
relay_start --delay-ab 3 --delay-ba 7.5 --seed "$SEED"
in_a ping -c 10 -i 0.02 -w 5 "$B_IP" >"$RELAY_TMP/ping" || fail "ping failed: $(cat "$RELAY_TMP/ping")"
stop_check
r=$(min_rtt <"$RELAY_TMP/ping")
fge "$r" 10.5 || fail "RTT $r ms through 3 + 7.5 ms is below 10.5 ms"
ok "--delay-ab 3 --delay-ba 7.5: min RTT $r ms (>= 10.5)"

# --- jitter keeps order (ab); --reorder reorders (ba) -------------------------------------------
relay_start --delay-ab 2 --jitter-ab 2 --delay-ba 5 --reorder-ba 10 --seed "$SEED"
read -r got dups lost inv _ <<<"$(udp_run "$NS_A" "$NS_B" "$B_IP" 1000 200 100)"
[[ $got -eq 1000 && $inv -eq 0 ]] || fail "jitter without --reorder: $got of 1000 arrived, $inv out of order"
read -r got2 _ _ inv2 _ <<<"$(udp_run "$NS_B" "$NS_A" "$A_IP" 1000 200 100)"
stop_check
[[ $got2 -eq 1000 && $inv2 -gt 0 ]] || fail "--reorder 10: $got2 of 1000 arrived, $inv2 out of order"
ro=$(st ba reordered)
[[ $ro -ge 50 && $ro -le 150 ]] || fail "--reorder 10 picked $ro of 1000 frames"
ok "jitter 2 ms at 100 us spacing: 1000/1000 in order; --reorder 10: $ro picked, $inv2 arrived behind a later datagram"

# --- loss: 100 %, Bernoulli 10 %, Gilbert-Elliott -----------------------------------------------
relay_start --loss 100 --seed "$SEED"
in_a ping -c 10 -i 0.01 -W 0.5 "$B_IP" >"$RELAY_TMP/ping" && fail "ping answered through --loss 100"
stop_check
grep -q '100% packet loss' "$RELAY_TMP/ping" || fail "--loss 100: $(tail -2 "$RELAY_TMP/ping")"
[[ $(st ab dropped_loss) -ge 10 && $(st ab forwarded) -eq $(st ab passed) ]] ||
	fail "--loss 100 forwarded IP frames: $(head -1 "$RELAY_OUT")"
ok "--loss 100: nothing but ARP passes ($(st ab dropped_loss) frames dropped)"

relay_start --loss-ab 10 --ge-ba 5,20 --seed "$SEED"
read -r got _ lost _ _ <<<"$(udp_run "$NS_A" "$NS_B" "$B_IP" 2000 200 50)"
read -r got2 _ lost2 _ burst2 <<<"$(udp_run "$NS_B" "$NS_A" "$A_IP" 2000 200 50)"
stop_check
# Binomial(2000, 0.1): mean 200, sigma 13.4; 5 sigma either way.
[[ $lost -ge 133 && $lost -le 267 ]] || fail "--loss 10: $lost of 2000 lost"
[[ $lost -eq $(st ab dropped_loss) && $got -eq $(($(st ab forwarded) - $(st ab passed))) ]] ||
	fail "--loss 10: B missed $lost and got $got, the relay says $(head -1 "$RELAY_OUT")"
# Gilbert-Elliott p 5 %, r 20 %: stationary loss p/(p+r) = 20 %, bursts of mean 1/r = 5; Bernoulli
# loss of 20 % would give bursts of 1.25.
[[ $lost2 -ge 160 && $lost2 -le 700 ]] || fail "--ge 5,20: $lost2 of 2000 lost (about 400 expected)"
fge "$burst2" 2.5 || fail "--ge 5,20: mean loss burst $burst2 frames (about 5 expected)"
[[ $lost2 -eq $(st ba dropped_loss) ]] || fail "--ge: A missed $lost2, the relay dropped $(st ba dropped_loss)"
ok "--loss 10: $lost of 2000 lost (= dropped_loss); --ge 5,20: $lost2 lost in bursts of $burst2"

# --- duplication --------------------------------------------------------------------------------
relay_start --dup-ab 50 --seed "$SEED"
in_a ping -c 20 -i 0.02 -w 5 "$B_IP" >"$RELAY_TMP/ping" # P(no duplicate) = 2^-20
stop_check
grep -q 'DUP!' "$RELAY_TMP/ping" || fail "--dup 50: ping saw no DUP!"
[[ $(st ab duplicated) -gt 0 ]] || fail "--dup 50: duplicated counter is 0"
ok "--dup-ab 50: ping reports DUP! ($(st ab duplicated) duplicates)"

# --- rate limit with a bounded queue; the pool bound --------------------------------------------
relay_start --rate-ab 10m --limit-ab 20 --rate-ba 10m --limit-bytes-ba 16k --seed "$SEED"
read -r got _ _ _ _ <<<"$(udp_run "$NS_A" "$NS_B" "$B_IP" 300 1400 0)"
read -r got2 _ _ _ _ <<<"$(udp_run "$NS_B" "$NS_A" "$A_IP" 300 1400 0)"
stop_check
[[ $(st ab dropped_queue) -gt 0 && $(st ab max_queue_frames) -le 20 && $(st ab max_queue_frames) -ge 2 ]] ||
	fail "--rate 10m --limit 20: $(head -1 "$RELAY_OUT")"
[[ $(st ba dropped_queue) -gt 0 && $(st ba max_queue_bytes) -le 16384 ]] ||
	fail "--rate 10m --limit-bytes 16k: $(tail -1 "$RELAY_OUT")"
[[ $got -eq $(($(st ab forwarded) - $(st ab passed))) && $got2 -eq $(($(st ba forwarded) - $(st ba passed))) ]] ||
	fail "rate limit: B got $got, A got $got2, the relay forwarded other numbers"
ok "--rate 10m: burst of 300 tail-dropped $(st ab dropped_queue) (queue max $(st ab max_queue_frames) <= 20 frames), $(st ba dropped_queue) (max $(st ba max_queue_bytes) <= 16384 bytes)"

relay_start --max-frames 64 --delay-ab 50 --seed "$SEED"
read -r got _ _ _ _ <<<"$(udp_run "$NS_A" "$NS_B" "$B_IP" 300 200 0)"
stop_check
[[ $(st ab dropped_pool) -gt 0 && $(st ab max_held_frames) -le 64 ]] ||
	fail "--max-frames 64: $(head -1 "$RELAY_OUT")"
ok "--max-frames 64: held at most $(st ab max_held_frames), refused $(st ab dropped_pool)"

# --- VLAN tags: classified through, put back on the wire ----------------------------------------
# The receiving kernel moves an 802.1Q tag out of the frame bytes into metadata before AF_PACKET
# sees it; the relay must put it back. A sends a tagged and a double-tagged (802.1ad + 802.1Q)
# IPv4 datagram and a tagged ARP frame by hand: B's tcpdump must see all three tags, the ARP
# frame first (unimpaired) and the IP ones after it (delayed as IP).
relay_start --delay-ab 20 --seed "$SEED"
in_b timeout 5 tcpdump -c 3 -eni "$IF_B" vlan >"$RELAY_TMP/td" 2>"$RELAY_TMP/td.err" &
tpid=$!
for _ in $(seq 50); do
	grep -q 'listening' "$RELAY_TMP/td.err" && break
	sleep 0.05
done
in_a timeout 10 "$RELAY_PY" -c '
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
eth = bytes.fromhex("020000000001" "020000000002")
ip = bytes.fromhex("4500001c00000000401100000a0000010a000002" "0009000900080000")
s.send(eth + bytes.fromhex("8100000a" "0800") + ip)
s.send(eth + bytes.fromhex("88a80014" "8100000a" "0800") + ip)
s.send(eth + bytes.fromhex("8100000a" "0806") + bytes(28))' "$IF_A" || fail "raw VLAN sender failed"
wait $tpid
stop_check
grep -q 'vlan 10, p 0, ethertype IPv4' "$RELAY_TMP/td" &&
	grep -q '802.1Q-QinQ (0x88a8).*vlan 20, p 0, ethertype 802.1Q (0x8100), vlan 10, p 0, ethertype IPv4' "$RELAY_TMP/td" &&
	head -1 "$RELAY_TMP/td" | grep 'vlan 10, p 0, ethertype ARP' >/dev/null ||
	fail "VLAN frames did not cross intact: $(cat "$RELAY_TMP/td")"
[[ $(st ab passed) -ge 1 && $(($(st ab forwarded) - $(st ab passed))) -eq 2 ]] || fail "VLAN frames misclassified: $(head -1 "$RELAY_OUT")"
ok "802.1Q and 802.1ad+802.1Q tags cross intact; tagged IP is impaired, tagged ARP passes"

# --- TCP through everything ---------------------------------------------------------------------
head -c $((8 << 20)) /dev/urandom >"$RELAY_TMP/data"
want=$(sha256sum <"$RELAY_TMP/data" | cut -d' ' -f1)
relay_start --delay 2 --jitter 1 --loss 1 --reorder 2 --dup 1 --seed "$SEED"
in_b timeout 40 socat -u TCP-LISTEN:5001,reuseaddr STDOUT >"$RELAY_TMP/got" &
spid=$!
for _ in $(seq 50); do
	in_b ss -Hltn "sport = :5001" | grep LISTEN >/dev/null && break
	sleep 0.05
done
t0=$EPOCHREALTIME
in_a timeout 40 socat -u FILE:"$RELAY_TMP/data" TCP:"$B_IP":5001 || fail "TCP sender failed"
wait $spid || fail "TCP receiver failed"
secs=$("$RELAY_PY" -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$t0" "$EPOCHREALTIME")
stop_check
have=$(sha256sum <"$RELAY_TMP/got" | cut -d' ' -f1)
[[ $have == "$want" ]] || fail "8 MiB over TCP arrived altered ($(stat -c %s "$RELAY_TMP/got") bytes)"
for d in ab ba; do
	[[ $(st $d dropped_loss) -gt 0 && $(st $d reordered) -gt 0 && $(st $d duplicated) -gt 0 ]] ||
		fail "TCP run: impairments did not all happen in $d: $(grep "\"$d\"" "$RELAY_OUT")"
done
ok "8 MiB TCP through delay 2 jitter 1 loss 1 reorder 2 dup 1: SHA-256 equal in $secs s (ab lost $(st ab dropped_loss), reordered $(st ab reordered), duplicated $(st ab duplicated))"

# --- super-frames are dropped and named ---------------------------------------------------------
# With tx on and without the relay's XDP program (which makes veth strip GSO from its peer), a
# UDP_SEGMENT send reaches the relay as one 14 KB super-frame: it must be dropped as
# dropped_oversize, with one warning. The small datagram after it carries an unfinished
# checksum (tx on): counted as csum_partial and named.
in_a ethtool -K "$IF_A" tx on >/dev/null 2>&1 || fail "cannot turn tx checksum offload on for the check"
relay_start --no-xdp --seed "$SEED"
in_a timeout 10 "$RELAY_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(17, 103, 1400)  # SOL_UDP, UDP_SEGMENT: 1400-byte segments
for _ in range(5):
    s.sendto(bytes(14000), (sys.argv[1], 9))
s.setsockopt(17, 103, 0)
s.sendto(bytes(100), (sys.argv[1], 9))' "$B_IP" || fail "UDP GSO sender failed"
sleep 0.2
stop_check
in_a ethtool -K "$IF_A" tx off >/dev/null 2>&1
[[ $(st ab dropped_oversize) -ge 1 ]] || fail "GSO super-frames were not counted: $(head -1 "$RELAY_OUT")"
[[ $(grep -c 'dropped_oversize' "$RELAY_ERR") -eq 1 ]] || fail "not one warning about oversize frames: $(cat "$RELAY_ERR")"
[[ $(st ab csum_partial) -ge 1 ]] && grep -q 'csum_partial' "$RELAY_ERR" ||
	fail "unfinished checksums (tx on) were not counted and named: $(cat "$RELAY_ERR")"
ok "UDP GSO with tx on: $(st ab dropped_oversize) super-frames dropped as dropped_oversize, $(st ab csum_partial) csum_partial, one warning each"
echo "PASS: relay"
