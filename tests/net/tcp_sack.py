"""Reads a capture taken on the kernel peer's veth (tcpdump -w) and checks SACK (RFC 2018),
D-SACK (RFC 2883) and timestamps (RFC 7323) on every TCP connection between the stack and
the kernel peer. Run with /usr/bin/python3 (scapy, for the selftest only).

    tcp_sack.py check PCAP STACK_IP [--json OUT]   check a capture, summary to OUT
    tcp_sack.py selftest                           the checks against hand-made captures

Where the capture sees frames (the drop programs of tests/net/drop.bpf.c sit on the same
veth as the capture):
  - frames from the stack: XDP runs in the veth's receive path before the packet taps, so a
    frame the XDP program dropped is NOT in the capture; every frame in it reached the
    kernel peer;
  - frames from the kernel: the clsact egress filter runs in __dev_queue_xmit before the
    taps (dev_queue_xmit_nit), so a frame the tc program dropped is NOT in the capture;
    every frame in it was handed to the veth towards the stack. (The caller makes sure the
    veth and the AF_XDP socket dropped nothing after that: counters.)
  - the file order is causal: a kernel frame is tapped before it enters the veth, a stack
    frame after it left the stack, so whatever the stack did in answer to a frame comes
    after that frame in the file.

Checks, per connection:
  negotiation  both SYNs carry SACK-permitted, timestamps and window scale;
  timestamps   the stack's TSval never decreases; every TSecr it sends echoes a TSval the
               kernel sent earlier in the file (0 on its own SYN), and never decreases
               (TS.Recent only moves forward, RFC 7323 §4.3);
  receiver     (kernel sends data, stack ACKs) every SACK block in the stack's ACKs is a
               non-empty range of bytes that reached the stack, above the cumulative ACK,
               disjoint from and not adjacent to the others, at most 4 (3 with timestamps);
               the cumulative ACK never covers bytes that did not reach the stack; a first
               block below the ACK or inside the second one is a D-SACK (RFC 2883 §4) and
               must name bytes that reached the stack at least twice; when the newest
               kernel segment before an ACK was new out-of-order data that the ACK reports,
               the ACK's first (non-D-SACK) block contains it (RFC 2018 §4); no segment
               leaves without a SACK option while the stack holds out-of-order data it has
               SACKed itself (RFC 2018 §4: SACK options SHOULD be in every such ACK). What
               the stack had processed when it sent a segment is proved by the segment: its
               ACK and SACK blocks name bytes, first delivered by known kernel segments. So
               a D-SACK must not report a duplicate that the stack had provably processed
               before its previous segment (RFC 2883 §4 (1): the most recent packet), and
               duplicates the stack provably processed without any D-SACK in answer are
               counted (the caller bounds them: a batch with several duplicates draws one);
  sender       (stack sends data, kernel ACKs) a stack segment's TSecr E proves that the
               stack had processed the first kernel segment carrying TSval E, and so (in
               order, nothing lost after the capture) every kernel segment up to it; no
               data segment of the stack may carry bytes that those segments had already
               acknowledged cumulatively or selectively ("sure" knowledge; this is weaker
               than the truth, never wrong: Linux's TSval ticks in milliseconds). After a
               retransmission timeout RFC 2018 §8 would allow resending SACKed data; the
               message says how quiet the stack was before, to tell. Keepalive probes
               (SND.NXT - 1) would count as resent data: the tests do not enable them.
               Retransmissions into holes that the kernel's SACK blocks showed are counted.
Prints one line per finding and a summary; exits 1 when a check fails.
"""
import json
import struct
import sys

M32 = 0xFFFFFFFF


class Ranges:
    """A set of byte offsets as sorted, disjoint, non-adjacent half-open intervals."""

    def __init__(self):
        self.iv = []

    def add(self, a, b):
        if a >= b:
            return
        out, placed = [], False
        for x, y in self.iv:
            if y < a:
                out.append((x, y))
            elif b < x:
                if not placed:
                    out.append((a, b))
                    placed = True
                out.append((x, y))
            else:
                a, b = min(a, x), max(b, y)
        if not placed:
            out.append((a, b))
        self.iv = sorted(out)

    def covers(self, a, b):
        """True when [a, b) lies entirely inside the set."""
        for x, y in self.iv:
            if x <= a and b <= y:
                return True
        return False

    def overlap(self, a, b):
        """The parts of [a, b) inside the set."""
        return [(max(a, x), min(b, y)) for x, y in self.iv if x < b and a < y]

    def prefix(self):
        """End of the contiguous run starting at 0 (0 if none)."""
        return self.iv[0][1] if self.iv and self.iv[0][0] == 0 else 0

    def total(self):
        return sum(y - x for x, y in self.iv)


TCP_FLAGS = "FSRPAUECN"  # bit 0 first, as scapy spells them


def tcp_options(b):
    """The options field of a TCP header as {kind name: value}, with scapy's names and value
    shapes: MSS and WScale ints, SAckOK b"", Timestamp (TSval, TSecr), SAck the flat tuple of
    block edges. A malformed length ends the walk (what follows is not options)."""
    d = {}
    i = 0
    while i < len(b):
        kind = b[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(b) or b[i + 1] < 2 or i + b[i + 1] > len(b):
            break
        ln = b[i + 1]
        v = b[i + 2:i + ln]
        if kind == 2 and ln == 4:
            d["MSS"] = int.from_bytes(v, "big")
        elif kind == 3 and ln == 3:
            d["WScale"] = v[0]
        elif kind == 4 and ln == 2:
            d["SAckOK"] = b""
        elif kind == 5 and (ln - 2) % 8 == 0:
            d["SAck"] = struct.unpack("!%dI" % ((ln - 2) // 4), v)
        elif kind == 8 and ln == 10:
            d["Timestamp"] = struct.unpack("!II", v)
        i += ln
    return d


class Seg:
    """The fields of a captured TCP header the checks read (scapy's TCP attribute names)."""
    __slots__ = ("sport", "dport", "seq", "ack", "dataofs", "flags")

    def __init__(self, sport, dport, seq, ack, dataofs, bits):
        self.sport, self.dport, self.seq, self.ack, self.dataofs = sport, dport, seq, ack, dataofs
        self.flags = "".join(c for k, c in enumerate(TCP_FLAGS) if bits >> k & 1)

    def sprintf(self, fmt):
        return fmt.replace("%TCP.flags%", self.flags)


def pcap_tcp4(path):
    """Yields (time, src, dst, ip total length, ihl bytes, Seg, options) for every IPv4 TCP
    frame of a classic pcap file on Ethernet (what tcpdump -w writes). A struct reader: scapy's
    dissection took most of this test's time (about 30 s of 57 for 57 000 frames)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("%s: not a pcap file" % path)
    div = 1e9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e6
    if struct.unpack(e + "I", data[20:24])[0] != 1:
        raise ValueError("%s: link type is not Ethernet" % path)
    rec = struct.Struct(e + "IIII")
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, _ = rec.unpack_from(data, off)
        off += 16
        fr = data[off:off + caplen]
        off += caplen
        if len(fr) < 34 or fr[12:14] != b"\x08\x00" or fr[14] >> 4 != 4:
            continue
        ihl = (fr[14] & 15) * 4
        if fr[23] != 6 or len(fr) < 14 + ihl + 20:
            continue
        tot = int.from_bytes(fr[16:18], "big")
        src = "%d.%d.%d.%d" % tuple(fr[26:30])
        dst = "%d.%d.%d.%d" % tuple(fr[30:34])
        t0 = 14 + ihl
        sp, dp, seq, ack, do, bits = struct.unpack_from("!HHIIBB", fr, t0)
        hl = (do >> 4) * 4
        bits |= (do & 1) << 8
        seg = Seg(sp, dp, seq, ack, do >> 4, bits)
        yield sec + frac / div, src, dst, tot, ihl, seg, tcp_options(fr[t0 + 20:t0 + hl])


class Conn:
    def __init__(self, key):
        self.key = key  # (stack port, kernel port)
        self.pkts = []  # (index, side, tcp layer, options dict, payload length)
        self.time = {}  # index -> capture time
        self.syn = {}  # side -> options of its SYN (the first one seen)
        self.isn = {}  # side -> ISN
        self.first = None  # the side that sent the first SYN


def load(path, stack_ip):
    conns = {}
    order = []
    n = 0
    for when, src, dst, tot, ihl, t, o in pcap_tcp4(path):
        if src == stack_ip:
            side, key = "stack", (t.sport, dst, t.dport)
        elif dst == stack_ip:
            side, key = "kernel", (t.dport, src, t.sport)
        else:
            continue
        c = conns.get(key)
        fl = t.flags
        if c is None or ("S" in fl and "A" not in fl and side in c.isn
                         and t.seq != c.isn[side]):
            # The first segment of a tuple, or a new SYN on one that was used before.
            c = Conn(key)
            conns[key] = c
            order.append(c)
        plen = tot - ihl - t.dataofs * 4
        if "S" in fl and side not in c.isn:
            c.first = c.first or side
            c.isn[side] = t.seq
            c.syn[side] = o
        c.pkts.append((n, side, t, o, plen))
        c.time[n] = when
        n += 1
    return order, n


def rel(c, side, seq):
    """Offset of sequence number seq in side's byte stream (byte 0 = first data byte)."""
    return ((seq - c.isn[side] - 1) & M32)


def srel(v):
    """A relative value that is really slightly negative (a D-SACK below the ISN etc.)."""
    return v - (1 << 32) if v > (1 << 31) else v


class Report:
    def __init__(self):
        self.fails = 0
        self.quiet = False
        self.msgs = []  # findings, when quiet

    def fail(self, msg):
        self.fails += 1
        if self.quiet:
            self.msgs.append(msg)
            return
        if self.fails <= 40:
            print("FAIL " + msg, flush=True)
        elif self.fails == 41:
            print("FAIL ... (more failures not shown)", flush=True)

    def ok(self, msg):
        print("ok   " + msg, flush=True)


def check_negotiation(c, rep, name):
    for side in ("kernel", "stack"):
        o = c.syn.get(side)
        if o is None:
            rep.fail("%s: no SYN from the %s in the capture" % (name, side))
            continue
        miss = [k for k in ("SAckOK", "Timestamp", "WScale") if k not in o]
        if miss:
            rep.fail("%s: the %s's first SYN%s lacks %s (options %s)" %
                     (name, side, "" if side == c.first else "-ACK", ", ".join(miss), o))
    # Every SYN (retransmissions included) must carry the same offer.
    for _, side, t, o, _ in c.pkts:
        if "S" in str(t.flags):
            miss = [k for k in ("SAckOK", "Timestamp", "WScale") if k not in o]
            if miss and side == "stack":
                rep.fail("%s: a %s from the stack lacks %s" % (name, t.sprintf("%TCP.flags%"),
                                                                ", ".join(miss)))


def check_timestamps(c, rep, name, st):
    last_val = None
    last_ecr = None
    kvals = set()
    for _, side, t, o, _ in c.pkts:
        ts = o.get("Timestamp")
        if side == "kernel":
            if ts:
                kvals.add(ts[0])
            continue
        if "R" in str(t.flags):
            continue  # RFC 7323 §5.2 does not require timestamps on RST
        if ts is None:
            rep.fail("%s: stack segment seq %d without timestamps on a connection that "
                     "negotiated them" % (name, t.seq))
            continue
        val, ecr = ts
        st["stack_ts_segments"] += 1
        if last_val is not None and ((val - last_val) & M32) > (1 << 31):
            rep.fail("%s: the stack's TSval went back from %d to %d" % (name, last_val, val))
        last_val = val
        if "S" in str(t.flags) and "A" not in str(t.flags):
            if ecr != 0:
                rep.fail("%s: the stack's SYN has TSecr %d, not 0" % (name, ecr))
            continue
        if ecr not in kvals:
            rep.fail("%s: the stack's TSecr %d (seq %d ack %d) echoes no TSval the kernel sent "
                     "before" % (name, ecr, t.seq, t.ack))
        if last_ecr is not None and ((ecr - last_ecr) & M32) > (1 << 31):
            rep.fail("%s: the stack's TSecr went back from %d to %d" % (name, last_ecr, ecr))
        last_ecr = ecr


def check_receiver(c, rep, name, st):
    """The kernel sends data; the stack's ACKs carry SACK blocks about it.

    What the stack had processed when it sent a segment B is known from B itself: B's ACK
    and SACK blocks name bytes, and the kernel segment that first delivered a byte was
    processed before B. The newest such segment is B's "proof"; the stack processes in
    order, so everything up to the newest proof so far (the frontier) had been processed
    when B left."""
    if "kernel" not in c.isn or "stack" not in c.isn:
        return
    got = Ranges()  # bytes (and FIN) delivered to the stack
    twice = Ranges()  # bytes delivered at least twice
    firsts = []  # (index, a, b): bytes a kernel segment delivered first, in capture order
    dups = []  # (index, a, b) duplicate deliveries: overlap with bytes delivered before
    pending = []  # duplicates not yet answered by a D-SACK
    held = Ranges()  # out-of-order bytes the stack itself said (SACKed) it holds
    newest = None  # (a, b, new) of the newest kernel data segment
    frontier = -1  # the newest kernel segment the stack had provably processed
    for idx, side, t, o, plen in c.pkts:
        fl = str(t.flags)
        if side == "kernel":
            if "S" in fl:
                continue
            n = plen + (1 if "F" in fl else 0)
            if n == 0:
                continue
            a = srel(rel(c, "kernel", t.seq))
            b = a + n
            old = got.overlap(a, b)
            for x, y in old:
                twice.add(x, y)
                dups.append((idx, x, y))
                pending.append((idx, x, y))
                st["kernel_dup_deliveries"] += 1
            new = sum(y - x for x, y in old) < n
            if new:
                # the parts of [a, b) not delivered before
                cur = a
                for x, y in sorted(old):
                    if cur < x:
                        firsts.append((idx, cur, x))
                    cur = max(cur, y)
                if cur < b:
                    firsts.append((idx, cur, b))
            got.add(a, b)
            newest = (a, b, new)
            st["kernel_data_segments"] += 1
            continue
        # a stack segment: look at its ACK and SACK option
        if "A" not in fl or "R" in fl:
            continue
        ack = srel(rel(c, "kernel", t.ack))
        if ack > got.prefix():
            rep.fail("%s: the stack ACKs %d but only bytes up to %d reached it" %
                     (name, ack, got.prefix()))
        sack = o.get("SAck")
        edges = list(sack or ())
        if len(edges) % 2:
            rep.fail("%s: SACK option with an odd number of edges %s" % (name, edges))
            continue
        blocks = [(srel(rel(c, "kernel", edges[i])), srel(rel(c, "kernel", edges[i + 1])))
                  for i in range(0, len(edges), 2)]
        dsack = None
        if blocks and (blocks[0][1] <= ack or
                       (len(blocks) > 1 and blocks[1][0] <= blocks[0][0] and
                        blocks[0][1] <= blocks[1][1])):
            dsack = blocks[0]
            regular = blocks[1:]
        else:
            regular = blocks
        # The proof: the newest first delivery this segment reports.
        told = Ranges()
        told.add(0, ack)
        for x, y in regular:
            told.add(x, y)
        prev_frontier = frontier
        for k in range(len(firsts) - 1, -1, -1):
            fi, x, y = firsts[k]
            if fi <= frontier:
                break
            if told.covers(x, y):
                frontier = fi
                break
        if dsack:
            st["stack_dsacks"] += 1
            a, b = dsack
            if not a < b:
                rep.fail("%s: empty or inverted D-SACK block %s (ack %d)" % (name, dsack, ack))
            elif not twice.covers(a, b):
                rep.fail("%s: D-SACK block [%d,%d) (ack %d) names bytes that did not reach the "
                         "stack twice" % (name, a, b, ack))
            else:
                # The duplicate it reports: the newest duplicate delivery inside the block.
                d = max((di for di, x, y in dups if a <= x and y <= b), default=None)
                if d is not None and d <= prev_frontier:
                    # RFC 2883 §4 (1): a D-SACK reports a duplicate received in the most
                    # recent packet; this one had been processed before the stack's
                    # previous segment, which did not report it.
                    st["stack_dsack_late"] += 1
                    rep.fail("%s: D-SACK [%d,%d) (ack %d) reports a duplicate (segment #%d) "
                             "that the stack had processed before its previous segment "
                             "(proved by segment #%d): not the most recent packet "
                             "(RFC 2883 §4)" % (name, a, b, ack, d, prev_frontier))
                if d is not None:
                    pending = [q for q in pending if q[0] > d]
        # Duplicates the stack has provably processed by now and that no segment since
        # reported (a D-SACK for it or for a newer duplicate: a batch with several duplicates
        # draws one D-SACK, for the newest).
        left = [q for q in pending if q[0] <= frontier]
        if left:
            st["kernel_dups_unreported"] += len(left)
            st["unreported_dups"] = (st.get("unreported_dups", []) + left)[:10]
            pending = [q for q in pending if q[0] > frontier]
        if not sack:
            # RFC 2018 §4: SACK options SHOULD be in every ACK that does not acknowledge the
            # highest sequence number held; the stack itself said it holds bytes above ack.
            above = [(x, y) for x, y in held.iv if x > ack]
            if above:
                st["stack_sack_omitted"] += 1
                st["omitted_max_len"] = max(st.get("omitted_max_len", 0), plen)
                st["omitted_min_len"] = min(st.get("omitted_min_len", 1 << 30), plen)
                rep.fail("%s: a stack segment (seq %d, %d bytes) ACKs %d without a SACK option "
                         "although the stack had SACKed %s above it" %
                         (name, srel(rel(c, "stack", t.seq)), plen, ack, above[:3]))
            continue
        st["stack_sack_acks"] += 1
        if plen:
            st["sack_data_max_len"] = max(st.get("sack_data_max_len", 0), plen)
        lim = 3 if "Timestamp" in o else 4
        if len(blocks) > lim:
            rep.fail("%s: %d SACK blocks in one ACK (at most %d fit)" % (name, len(blocks), lim))
        for a, b in regular:
            if not a < b:
                rep.fail("%s: empty or inverted SACK block [%d,%d) (ack %d)" % (name, a, b, ack))
                continue
            if a <= ack:
                rep.fail("%s: SACK block [%d,%d) not above the cumulative ACK %d (blocks %s)"
                         % (name, a, b, ack, blocks))
            if not got.covers(a, b):
                rep.fail("%s: SACK block [%d,%d) (ack %d) names bytes that never reached the "
                         "stack" % (name, a, b, ack))
            held.add(a, b)
            st["stack_sack_blocks"] += 1
        srt = sorted(regular)
        for (a1, b1), (a2, b2) in zip(srt, srt[1:]):
            if a2 <= b1:
                rep.fail("%s: SACK blocks [%d,%d) and [%d,%d) %s (ack %d)" %
                         (name, a1, b1, a2, b2, "overlap" if a2 < b1 else "touch", ack))
        # RFC 2018 §4: the first block contains the segment that triggered the ACK. We can
        # tell which one that was when the newest kernel segment before this ACK carried new
        # out-of-order data that this ACK reports (so the stack had processed it, and nothing
        # newer reached it before it sent the ACK).
        if newest and newest[2] and newest[0] > ack:
            a, b, _ = newest
            if any(x <= a and b <= y for x, y in regular):
                st["first_block_checked"] += 1
                if not (regular and regular[0][0] <= a and b <= regular[0][1]):
                    rep.fail("%s: the newest segment [%d,%d) is not in the first SACK block "
                             "(ack %d, blocks %s)" % (name, a, b, ack, blocks))


def check_sender(c, rep, name, st):
    """The stack sends data; the kernel's ACKs carry SACK blocks about it."""
    if "kernel" not in c.isn or "stack" not in c.isn:
        return
    # Kernel segments in order, with the knowledge each one carries.
    kseq = []  # (idx, tsval, ack, blocks)
    first_ts = {}  # tsval -> position in kseq of the first kernel segment carrying it
    for idx, side, t, o, plen in c.pkts:
        if side != "kernel" or "A" not in str(t.flags) or "R" in str(t.flags):
            continue
        ts = o.get("Timestamp")
        ack = srel(rel(c, "stack", t.ack))
        edges = list(o.get("SAck") or ())
        blocks = [(srel(rel(c, "stack", edges[i])), srel(rel(c, "stack", edges[i + 1])))
                  for i in range(0, len(edges) - 1, 2)]
        if blocks:
            st["kernel_sack_acks"] += 1
        if ts:
            first_ts.setdefault(ts[0], len(kseq))
        kseq.append((idx, ts[0] if ts else None, ack, blocks))
    sure = Ranges()  # bytes the stack certainly knew to be acknowledged (cum. or SACK)
    latest = Ranges()  # everything the kernel reported so far (for counting hole repairs)
    latest_ack = 0
    applied = 0  # kernel segments folded into `sure`
    kpos = 0  # kernel segments folded into `latest`
    sent = Ranges()
    sent_max = 0
    last_t = prev_t = 0.0
    for idx, side, t, o, plen in c.pkts:
        while kpos < len(kseq) and kseq[kpos][0] < idx:
            _, _, ack, blocks = kseq[kpos]
            latest_ack = max(latest_ack, ack)
            for a, b in blocks:
                if b > latest_ack:
                    latest.add(max(a, latest_ack), b)
            kpos += 1
        if side != "stack":
            continue
        prev_t, last_t = last_t, c.time[idx]
        if "S" in str(t.flags) or "R" in str(t.flags):
            continue
        n = plen + (1 if "F" in str(t.flags) else 0)
        if n == 0:
            continue
        a = srel(rel(c, "stack", t.seq))
        b = a + n
        st["stack_data_segments"] += 1
        rtx = a < sent_max
        if rtx:
            st["stack_retransmissions"] += 1
            if latest.iv and a >= latest_ack and b <= latest.iv[-1][1] and \
                    not latest.overlap(a, b):
                st["stack_hole_repairs"] += 1
        sent.add(a, b)
        sent_max = max(sent_max, b)
        ts = o.get("Timestamp")
        if not ts or ts[1] not in first_ts:
            continue  # reported by the timestamp check
        upto = first_ts[ts[1]]
        if upto >= kpos:
            rep.fail("%s: stack segment [%d,%d) echoes TSval %d before the kernel sent it"
                     % (name, a, b, ts[1]))
            continue
        while applied <= upto:
            _, _, ack, blocks = kseq[applied]
            sure.add(0, ack)
            for x, y in blocks:
                sure.add(x, y)
            applied += 1
        if len(sure.iv) > 1:
            st["stack_segs_checked_vs_sack"] += 1
        bad = sure.overlap(a, b)
        if bad:
            st["stack_rtx_of_acked"] += 1
            # Which part of the knowledge it contradicts: the cumulative ACK or a SACK block.
            why = "cumulatively ACKed" if a < kseq[upto][2] else "SACKed"
            # The quiet time before it tells a retransmission timeout (after which RFC 2018
            # §8 lets a sender forget SACK information) from fast recovery.
            quiet = c.time[idx] - prev_t
            rep.fail("%s: the stack sent [%d,%d) (TSecr %d) although the kernel had %s %s "
                     "before (its segment #%d, known to the stack by that TSecr; %.0f ms after "
                     "the stack's previous segment)" %
                     (name, a, b, ts[1], why, bad, kseq[upto][0], quiet * 1000))


KEYS = ["kernel_data_segments", "kernel_dup_deliveries", "kernel_dups_unreported",
        "stack_sack_acks", "stack_sack_blocks", "stack_dsacks", "first_block_checked",
        "kernel_sack_acks", "stack_data_segments", "stack_retransmissions", "stack_hole_repairs",
        "stack_segs_checked_vs_sack", "stack_rtx_of_acked", "stack_ts_segments",
        "stack_sack_omitted", "stack_dsack_late"]


def run_checks(path, stack_ip, quiet=False):
    conns, npk = load(path, stack_ip)
    rep = Report()
    rep.quiet = quiet
    allst = []
    for c in conns:
        name = "stack :%d <-> %s:%d" % c.key
        st = {k: 0 for k in KEYS}
        st["conn"] = name
        before = rep.fails
        check_negotiation(c, rep, name)
        if "Timestamp" in c.syn.get("kernel", {}) and "Timestamp" in c.syn.get("stack", {}):
            check_timestamps(c, rep, name, st)
        check_receiver(c, rep, name, st)
        check_sender(c, rep, name, st)
        st["failures"] = rep.fails - before
        allst.append(st)
        if not quiet:
            print("conn %s: %s" % (name, ", ".join("%s %s" % (k, st[k]) for k in KEYS if st[k])),
                  flush=True)
    if not quiet:
        print("%d packets, %d connections, %d failures" % (npk, len(conns), rep.fails),
              flush=True)
    return rep, allst


def selftest():
    """The checks must notice each kind of violation in a hand-made capture (for the right
    reason), and stay quiet on the same capture without it: a checker that finds nothing
    proves nothing."""
    import os
    import tempfile
    from scapy.all import IP, TCP, Ether, Raw, wrpcap

    K, S = "10.9.0.1", "10.9.0.3"
    KI, SI = 1000, 5000  # ISNs

    def seg(frm, flags, off, ack_off, ts, n=0, sack=(), syn_opts=None):
        """A segment from 'k' or 's'; off and ack_off are stream offsets (-1: the SYN)."""
        src, dst = (K, S) if frm == "k" else (S, K)
        sp, dp = (40000, 80) if frm == "k" else (80, 40000)
        mine, theirs = (KI, SI) if frm == "k" else (SI, KI)
        opts = syn_opts if syn_opts is not None else [("NOP", None), ("NOP", None)]
        if syn_opts is None:
            opts = opts + [("Timestamp", ts)]
            if sack:
                opts = opts + [("NOP", None), ("NOP", None),
                               ("SAck", tuple((theirs + 1 + x) & M32 for b in sack for x in b))]
        t = TCP(sport=sp, dport=dp, flags=flags, seq=(mine + 1 + off) & M32,
                ack=(theirs + 1 + ack_off) & M32 if "A" in flags else 0, options=opts)
        p = Ether() / IP(src=src, dst=dst) / t
        return p / Raw(b"x" * n) if n else p

    def hs(stack_sackok=True):
        so = [("MSS", 1460)] + ([("SAckOK", b"")] if stack_sackok else []) + \
            [("Timestamp", (10, 100)), ("NOP", None), ("WScale", 7)]
        return [seg("k", "S", -1, 0, None, syn_opts=[("MSS", 1460), ("SAckOK", b""),
                                                  ("Timestamp", (100, 0)), ("NOP", None),
                                                  ("WScale", 7)]),
                seg("s", "SA", -1, 0, None, syn_opts=so),
                seg("k", "A", 0, 0, (101, 10))]

    # The stack sends four segments; the kernel ACKs the first and SACKs the fourth.
    send = hs() + [seg("s", "A", i * 1000, 0, (11, 101), 1000) for i in range(4)] + \
        [seg("k", "A", 0, 1000, (102, 11), sack=[(3000, 4000)])]
    # The kernel sends [0,1000) and [2000,3000); the stack ACKs 1000 and SACKs the second.
    recv = hs() + [seg("k", "A", 0, 0, (102, 10), 1000), seg("k", "A", 2000, 0, (102, 10), 1000),
                   seg("s", "A", 0, 1000, (11, 102), sack=[(2000, 3000)])]
    def ack(ackoff, ts, sack=(), n=0):
        return seg("s", "A", 0, ackoff, ts, n, sack=sack)

    dup0 = seg("k", "A", 0, 0, (103, 11), 1000)  # [0,1000) again
    new3 = seg("k", "A", 3000, 0, (103, 11), 1000)
    new4 = seg("k", "A", 4000, 0, (103, 11), 1000)
    # (name, capture, None for a clean one or a phrase the finding must contain)
    cases = [
        ("clean sender", send + [seg("s", "A", 1000, 0, (12, 102), 1000)], None),
        ("resends SACKed bytes it knew of", send + [seg("s", "A", 3000, 0, (12, 102), 1000)],
         "although the kernel had SACKed"),
        ("resends cumulatively ACKed bytes", send + [seg("s", "A", 0, 0, (12, 102), 1000)],
         "although the kernel had cumulatively ACKed"),
        ("resends SACKed bytes before it saw the SACK",
         send + [seg("s", "A", 3000, 0, (12, 101), 1000)], None),
        ("clean receiver", recv, None),
        ("SACKs bytes it never got", recv + [ack(1000, (12, 102), [(2000, 3500)])],
         "names bytes that never reached"),
        ("SACK block at the ACK", recv + [ack(1000, (12, 102), [(1000, 3000)])],
         "not above the cumulative ACK"),
        ("ACKs bytes it never got", recv + [ack(2000, (12, 102))], "only bytes up to"),
        ("overlapping SACK blocks", recv + [ack(1000, (12, 102), [(2000, 2600), (2500, 3000)])],
         "overlap"),
        ("D-SACK without a duplicate", recv + [ack(1000, (12, 102), [(0, 1000), (2000, 3000)])],
         "did not reach the stack twice"),
        ("D-SACK for a duplicate", recv + [dup0, ack(1000, (12, 103), [(0, 1000), (2000, 3000)])],
         None),
        ("newest segment not in the first block",
         recv + [new4, ack(1000, (12, 103), [(2000, 3000), (4000, 5000)])],
         "is not in the first SACK block"),
        ("newest segment in the first block",
         recv + [new4, ack(1000, (12, 103), [(4000, 5000), (2000, 3000)])], None),
        ("data segment without SACK while holding out-of-order data",
         recv + [ack(1000, (12, 102), n=1000)], "without a SACK option"),
        ("data segment without SACK once nothing is out of order",
         recv + [seg("k", "A", 1000, 0, (103, 11), 1000), ack(3000, (12, 103), n=1000)], None),
        ("D-SACK one segment too late",
         recv + [dup0, new3, ack(1000, (12, 103), [(2000, 4000)]),
                 ack(1000, (13, 103), [(0, 1000), (2000, 4000)])], "not the most recent packet"),
        ("D-SACK in the first segment after the duplicate",
         recv + [dup0, new3, ack(1000, (12, 103), [(0, 1000), (2000, 4000)])], None),
        ("TSval goes back", recv + [ack(1000, (9, 102), [(2000, 3000)])], "TSval went back"),
        ("TSecr echoes nothing the kernel sent", recv + [ack(1000, (12, 555), [(2000, 3000)])],
         "echoes no TSval"),
        ("TSecr goes back", recv + [ack(1000, (12, 101), [(2000, 3000)])], "TSecr went back"),
        ("TSval and TSecr move on", recv + [ack(1000, (12, 102), [(2000, 3000)])], None),
        ("SYN-ACK without SACK-permitted", hs(stack_sackok=False), "lacks SAckOK"),
    ]
    bad = 0
    fd, path = tempfile.mkstemp(suffix=".pcap")
    os.close(fd)
    try:
        for name, pkts, want in cases:
            wrpcap(path, pkts)
            rep, _ = run_checks(path, S, quiet=True)
            # A violation must be found for its own reason, a clean capture pass.
            right = (not rep.msgs) if want is None else any(want in m for m in rep.msgs)
            if not right:
                bad += 1
                print("FAIL selftest %s: expected %s, found %s" %
                      (name, "nothing" if want is None else repr(want), rep.msgs or "nothing"),
                      flush=True)
    finally:
        os.unlink(path)
    print("selftest: %d cases, %d wrong" % (len(cases), bad), flush=True)
    return bad == 0


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "selftest":
        sys.exit(0 if selftest() else 1)
    if len(sys.argv) < 4 or sys.argv[1] != "check":
        sys.exit(__doc__)
    path, stack_ip = sys.argv[2], sys.argv[3]
    args = sys.argv[4:]
    rep, allst = run_checks(path, stack_ip)
    if "--json" in args:
        with open(args[args.index("--json") + 1], "w") as f:
            json.dump(allst, f)
    sys.exit(1 if rep.fails else 0)


if __name__ == "__main__":
    main()
