"""Hostile IPv4 fragments from the kernel peer to a sluice stack, each case checked against
the exact counter that must count it and against what may come back. Run inside the peer
namespace:

    frag_hostile.py IFACE STACK_IP STACK_MAC PEER_IP STATS_CMD...

STATS_CMD prints `sluice stats DEV --json` for the stack's interface. The stack runs with
the default limits (64 datagrams in reassembly, 16 per source) and the reassembly timeout in
seconds the environment's REASM_TIMEOUT gives (default 30, sluice's default). Every wait is bounded; the
script exits non-zero listing the cases that failed.
"""
import json
import os
import subprocess
import sys
import time

from scapy.all import (ICMP, IP, AsyncSniffer, Ether, IPerror, Raw, conf, fragment,
                       get_if_hwaddr, sendp)

conf.verb = 0
iface, stack_ip, stack_mac, peer_ip = sys.argv[1:5]
stats_cmd = sys.argv[5:]
peer_mac = get_if_hwaddr(iface)
REASM_TIMEOUT = float(os.environ.get("REASM_TIMEOUT", "30"))  # sluice run --reasm-timeout
MAX_DATAGRAMS = 64  # the stack's default reasm_max_datagrams
MAX_PER_SRC = 16  # the stack's default reasm_max_per_src: one source holds at most this many


def counters():
    d = json.loads(subprocess.check_output(stats_cmd))
    if not d["stacks"]:
        sys.exit("no stack published counters")
    return dict(d["stacks"][0]["counters"])


def wait_for(name, want, before, limit=5.0):
    """Poll until counter name grew by want (bounded by limit seconds); then, after a short
    settle, return the growth, which must be exactly want."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if counters().get(name, 0) - before.get(name, 0) >= want:
            break
        time.sleep(0.05)
    time.sleep(0.2)  # anything more would show now: the check is for exactly `want`
    return counters().get(name, 0) - before.get(name, 0)


def frag(ident, off, mf, payload, proto=17, src=None):
    """One fragment: bytes at offset off (in bytes, a multiple of 8) of datagram ident."""
    assert off % 8 == 0
    return (Ether(src=peer_mac, dst=stack_mac)
            / IP(src=src or peer_ip, dst=stack_ip, id=ident, flags="MF" if mf else 0,
                 frag=off // 8, proto=proto) / Raw(payload))


def echo(ident, seq, size):
    payload = bytes((seq * 7 + i) & 0xFF for i in range(size))
    return IP(src=peer_ip, dst=stack_ip, id=ident) / ICMP(id=0x5151, seq=seq) / payload


def eth(pkts):
    return [Ether(src=peer_mac, dst=stack_mac) / p for p in pkts]


def is_reply(seq):
    return lambda p: (ICMP in p and p[ICMP].type == 0 and p[ICMP].seq == seq)


def from_stack(p):
    return IP in p and p[IP].src == stack_ip and p[Ether].src == stack_mac


# The sniffer runs for the whole script: replies to each case, and the time exceeded that
# the never-completing datagram must produce at the end.
seen = []
sniffer = AsyncSniffer(iface=iface, lfilter=from_stack, prn=seen.append, store=False)
sniffer.start()
time.sleep(0.3)

failed = []


def check(name, ok, msg):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + msg))
    if not ok:
        failed.append(name)


def case(name, frames, counter, want, reply=None):
    """Send frames; counter must grow by exactly want; reply (a predicate) must match at
    least one frame from the stack, and nothing else may come back."""
    before = counters()
    n0 = len(seen)
    sendp(frames, iface=iface)
    got = wait_for(counter, want, before)
    if reply:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not any(reply(p) for p in seen[n0:]):
            time.sleep(0.05)
    new = seen[n0:]
    # A reply the stack had to fragment: its other fragments share the IP ID.
    ids = {p[IP].id for p in new if reply and reply(p)}
    bad = [p for p in new if not ((reply and reply(p)) or p[IP].id in ids)]
    if got != want:
        check(name, False, "%s grew by %d, want %d" % (counter, got, want))
    elif reply and not any(reply(p) for p in new):
        check(name, False, "expected reply missing")
    elif bad:
        check(name, False, "unexpected frame from the stack: " + bad[0].summary())
    else:
        check(name, True, "")
    return got


# 1. Overlap with different bytes: the whole datagram goes, three times.
frames = []
for i in range(3):
    frames += [frag(1000 + i, 0, True, b"A" * 16), frag(1000 + i, 8, True, b"B" * 16)]
case("overlap-different-bytes", frames, "ipv4_reasm_overlap", 3)

# 2. Teardrop: the second fragment starts inside the first, with different bytes, and ends
# inside it too (no new data, changed old data).
frames = [frag(1010, 0, True, b"\x11" * 48), frag(1010, 16, False, b"\x22" * 8)]
case("teardrop", frames, "ipv4_reasm_overlap", 1)

# 3. Overlap with identical bytes: an echo request cut twice, answered once.
req = echo(1020, 1, 400)
raw_ip = bytes(req)
hdr, body = raw_ip[:20], raw_ip[20:]
pieces = [(0, 200), (96, 200), (296, len(body) - 296)]  # [96, 200) sent twice
frames = []
for off, ln in pieces:
    frames.append(Ether(src=peer_mac, dst=stack_mac)
                  / IP(src=peer_ip, dst=stack_ip, id=1020, proto=1,
                       flags="MF" if off + ln < len(body) else 0, frag=off // 8)
                  / Raw(body[off:off + ln]))
case("overlap-identical-bytes", frames, "ipv4_reasm_ok", 1, reply=is_reply(1))

# 4. Tiny fragments: 8 bytes each (the smallest legal non-last fragment).
frames = eth(fragment(echo(1030, 2, 200), fragsize=8))
case("tiny-8-byte-fragments", frames, "ipv4_reasm_ok", 1, reply=is_reply(2))

# 5. Out of order and duplicated: the last fragment first, then a duplicate of it before
# the datagram completes (counted as a duplicate), then a duplicate of the first fragment
# after it completed: that one starts a new datagram that can never complete (it times out
# in step 11, with a time exceeded, since it is a first fragment).
fr = eth(fragment(echo(1040, 3, 3000), fragsize=1000))
assert len(fr) == 4
dup0 = counters()["ipv4_reasm_dup"]
frames = [fr[3], fr[0], fr[3], fr[2], fr[1], fr[0]]
case("out-of-order-duplicates", frames, "ipv4_reasm_ok", 1, reply=is_reply(3))
check("duplicate-counted", counters()["ipv4_reasm_dup"] - dup0 == 1,
      "ipv4_reasm_dup grew by %d, want 1" % (counters()["ipv4_reasm_dup"] - dup0))
dup_stale = 1  # datagram 1040, restarted by the late duplicate

# 6. Ping of death: offset 65528 + 16 bytes ends beyond 65535.
frames = [frag(1050 + i, 65528, False, b"D" * 16, proto=1) for i in range(3)]
case("ping-of-death", frames, "ipv4_reasm_too_big", 3)
frames = [frag(1060, 65512, True, b"E" * 8)]  # 20 + 65512 + 8 = 65540
case("end-beyond-65535", frames, "ipv4_reasm_too_big", 1)

# 7. Bad lengths: a non-last fragment not a multiple of 8 bytes; an empty one.
frames = [frag(1070, 0, True, b"F" * 12), frag(1071, 8, True, b"G" * 1),
          frag(1072, 8, True, b"")]
case("bad-fragment-lengths", frames, "ipv4_reasm_bad_frag", 3)

# 8. The stack still reassembles a normal fragmented ping.
frames = eth(fragment(echo(1080, 4, 4000), fragsize=1480))
case("normal-fragmented-ping", frames, "ipv4_reasm_ok", 1, reply=is_reply(4))

# 9. Never completing: the first fragment of an echo (time exceeded expected after the
# timeout), and a middle fragment only (dropped silently).
t_incomplete = time.monotonic()
before_to = counters()
first = bytes(echo(1090, 5, 3000))[20:20 + 1000]
case("never-completing-first", [frag(1090, 0, True, first, proto=1)], "ipv4_frags_rx", 1)
case("never-completing-middle", [frag(1091, 1000, True, b"M" * 1000)], "ipv4_frags_rx", 1)

# 10. Too many datagrams at once from one source: it may hold 16 of the 64 slots; 3 are taken
# (1040 stale, 1090, 1091), so of 70 more, 13 fit and 57 are refused. Middle fragments: no
# ICMP on timeout.
in_use = dup_stale + 2
frames = [frag(2000 + i, 8, True, b"S" * 8) for i in range(70)]
case("too-many-datagrams", frames, "ipv4_reasm_no_mem", 70 - (MAX_PER_SRC - in_use))

# The stack keeps answering an unfragmented ping meanwhile.
frames = [Ether(src=peer_mac, dst=stack_mac) / echo(3000, 6, 56)]
case("ping-while-full", frames, "icmp_echo_replies", 1, reply=is_reply(6))

# 11. After the timeout everything held is dropped: 16 datagrams, one ICMP time exceeded
# (code 1) for 1090 (the only one whose first fragment arrived: 1040's late first fragment
# counts too, so two).
want_to = MAX_PER_SRC
deadline = t_incomplete + REASM_TIMEOUT + 10
while time.monotonic() < deadline:
    if counters()["ipv4_reasm_timeout"] - before_to["ipv4_reasm_timeout"] >= want_to:
        break
    time.sleep(0.5)
time.sleep(0.5)
got_to = counters()["ipv4_reasm_timeout"] - before_to["ipv4_reasm_timeout"]
check("reassembly-timeout", got_to == want_to,
      "ipv4_reasm_timeout grew by %d, want %d" % (got_to, want_to))
te = [p for p in seen if ICMP in p and p[ICMP].type == 11]
ids = sorted(p[IPerror].id for p in te if IPerror in p)
check("time-exceeded-sent", all(p[ICMP].code == 1 for p in te) and ids == [1040, 1090],
      "time exceeded for ids %s (codes %s), want [1040, 1090] code 1"
      % (ids, [p[ICMP].code for p in te]))

sniffer.stop()
if failed:
    print("failed: " + " ".join(failed))
sys.exit(1 if failed else 0)
