"""Hostile and hand-made TCP segments from the kernel peer's namespace, each checked against
the exact stack counter that must count it and against what (if anything) comes back.

    tcp_hostile.py IFACE STACK_IP STACK_MAC PEER_IP ECHO_PORT CASES STATS_CMD...

CASES is a comma-separated list of groups:
    segments   malformed segments, RFC 5961 cases on a live connection, data before the
               handshake (each with its counter and the reply it must or must not draw)
    fastrtx    three duplicate ACKs draw a fast retransmit, whatever half of the sequence
               space the stack's ISN falls in (RFC 5681 §3.2, RFC 6582)
    flood      10 000 SYNs from the peer's own address and random ports, as fast as a raw
               socket sends them; the kernel resets every SYN-ACK
    flood-silent  10 000 SYNs from an address that answers ARP but never answers a SYN-ACK
STATS_CMD prints `sluice stats DEV --json` for the stack's interface.

Hand-made connections use a spoofed address in the peer's subnet (".7", ".8" …) whose ARP
this script answers: the peer kernel does not own it, so it never resets our connections.
Exits non-zero when a case fails; each case prints one line.
"""
import errno
import json
import random
import socket
import struct
import subprocess
import sys
import threading
import time

from scapy.all import (ARP, IP, TCP, AsyncSniffer, Ether, Raw, conf, get_if_hwaddr, raw)

conf.verb = 0
iface, stack_ip, stack_mac, peer_ip, echo_port, groups = sys.argv[1:7]
echo_port = int(echo_port)
groups = groups.split(",")
stats_cmd = sys.argv[7:]
peer_mac = get_if_hwaddr(iface)
net = ".".join(stack_ip.split(".")[:3])
FAKE = net + ".7"  # hand-made connections
SILENT = net + ".8"  # the silent SYN flood
fakes = {FAKE, SILENT}


def counters():
    d = json.loads(subprocess.check_output(stats_cmd))
    return dict(d["stacks"][0]["counters"]) if d["stacks"] else {}


def delta(before, after, name):
    return after.get(name, 0) - before.get(name, 0)


# --- the wire: one raw socket out, one sniffer in ------------------------------------------
tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
tx.bind((iface, 0))


def send(frame):
    tx.send(frame if isinstance(frame, (bytes, bytearray)) else raw(frame))


class Rx:
    """Every TCP segment the stack sends to one of our spoofed addresses, in order."""

    def __init__(self):
        self.segs = []
        self.cv = threading.Condition()

    def add(self, p):
        if ARP in p and p[ARP].op == 1 and p[ARP].pdst in fakes:
            # Answer for the spoofed addresses (the kernel will not).
            send(Ether(src=peer_mac, dst=p[ARP].hwsrc) /
                 ARP(op=2, hwsrc=peer_mac, psrc=p[ARP].pdst, hwdst=p[ARP].hwsrc,
                     pdst=p[ARP].psrc))
            return
        if IP in p and TCP in p and p[IP].src == stack_ip and p[IP].dst in fakes:
            with self.cv:
                self.segs.append(p)
                self.cv.notify_all()

    def mark(self):
        with self.cv:
            return len(self.segs)

    def wait(self, pred, start, timeout):
        """The first segment from index start on that satisfies pred, or None."""
        end = time.monotonic() + timeout
        i = start
        with self.cv:
            while True:
                while i < len(self.segs):
                    if pred(self.segs[i]):
                        return self.segs[i]
                    i += 1
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def since(self, start, pred=lambda p: True):
        with self.cv:
            return [p for p in self.segs[start:] if pred(p)]


rx = Rx()
sniffer = AsyncSniffer(iface=iface, store=False, prn=rx.add,
                       filter="arp or (tcp and src host %s)" % stack_ip)
sniffer.start()
time.sleep(0.5)


def announce(ip):
    # An ARP request for the stack from the spoofed address: the stack learns it (RFC 826).
    send(Ether(src=peer_mac, dst="ff:ff:ff:ff:ff:ff") /
         ARP(op=1, hwsrc=peer_mac, psrc=ip, pdst=stack_ip))


for ip in sorted(fakes):
    announce(ip)
time.sleep(0.2)


def flags_of(p):
    return str(p[TCP].flags)


class Conn:
    """A TCP connection from FAKE driven by hand: we know both sequence spaces exactly."""

    def __init__(self, dport=echo_port, mss=1000, src=FAKE):
        self.src, self.dport, self.mss = src, dport, mss
        self.sport = random.randint(20000, 60000)
        self.iss = random.getrandbits(32)
        m = rx.mark()
        send(self.frame("S", seq=self.iss, ack=0, options=[("MSS", mss)]))
        sa = rx.wait(lambda p: self.mine(p) and flags_of(p) == "SA", m, 3)
        if sa is None:
            raise RuntimeError("no SYN-ACK from the stack")
        self.irs = sa[TCP].seq
        self.snd_nxt = self.iss + 1 & 0xFFFFFFFF
        self.rcv_nxt = self.irs + 1 & 0xFFFFFFFF
        self.send("A")

    def mine(self, p):
        return p[IP].dst == self.src and p[TCP].dport == self.sport and p[TCP].sport == self.dport

    def frame(self, flags, seq=None, ack=None, data=b"", win=65535, options=None):
        has_ack = isinstance(flags, str) and "A" in flags
        t = TCP(sport=self.sport, dport=self.dport, flags=flags, window=win,
                seq=self.snd_nxt if seq is None else seq & 0xFFFFFFFF,
                ack=(self.rcv_nxt if ack is None else ack & 0xFFFFFFFF) if has_ack else 0,
                options=options or [])
        return Ether(src=peer_mac, dst=stack_mac) / IP(src=self.src, dst=stack_ip) / t / data

    def send(self, flags, **kw):
        send(self.frame(flags, **kw))

    def data_from(self, start, want, timeout=2.0):
        """Collect in-order payload from the stack after index start until want bytes."""
        got = b""
        end = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < end:
            time.sleep(0.02)
            for p in rx.since(start, self.mine):
                d = bytes(p[TCP].payload)
                if d and p[TCP].seq == self.rcv_nxt:
                    got += d
                    self.rcv_nxt = self.rcv_nxt + len(d) & 0xFFFFFFFF
        return got

    def echo(self, data):
        """Send data, read the echo back, ACK it. Returns the bytes that came back."""
        m = rx.mark()
        self.send("PA", data=data)
        self.snd_nxt = self.snd_nxt + len(data) & 0xFFFFFFFF
        got = self.data_from(m, len(data))
        self.send("A")
        return got

    def alive(self, tag):
        data = ("still alive after %s\n" % tag).encode()
        return self.echo(data) == data

    def reset(self):
        self.send("R")


# --- cases -----------------------------------------------------------------------------------
results = []


def report(name, msg, detail=""):
    print(("FAIL " if msg else "ok   ") + name + (": " + msg if msg else detail), flush=True)
    results.append(msg is None)


def one_shot(name, frame, counter, n=3, reply=None):
    """Send frame n times from FAKE: counter must grow by exactly n; reply(p) says which
    replies are expected (every one of the n must draw one), None means no reply at all."""
    before = counters()
    m = rx.mark()
    for _ in range(n):
        send(frame)
        time.sleep(0.01)
    time.sleep(0.4)
    after = counters()
    got = rx.since(m)
    d = delta(before, after, counter)
    if reply is None and got:
        msg = "unexpected reply: " + got[0].summary()
    elif reply is not None and len([p for p in got if reply(p)]) != n:
        msg = "expected %d replies, got: %s" % (n, [p.summary() for p in got])
    elif reply is not None and len(got) != n:
        msg = "unexpected extra replies: %s" % [p.summary() for p in got]
    elif d != n:
        msg = "counter %s grew by %d, expected %d" % (counter, d, n)
    else:
        msg = None
    report(name, msg, " (%s +%d)" % (counter, n))


def syn(sport=None, flags="S", options=None, **ip_kw):
    return (Ether(src=peer_mac, dst=stack_mac) / IP(src=FAKE, dst=stack_ip, **ip_kw) /
            TCP(sport=sport or random.randint(20000, 60000), dport=echo_port, flags=flags,
                seq=random.getrandbits(32), options=options or []))


def ip4(a):
    return bytes(map(int, a.split(".")))


def csum16(buf):
    if len(buf) % 2:
        buf += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(buf) // 2), buf))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def raw_tcp(tcp_bytes, src=FAKE):
    """An IPv4 packet carrying tcp_bytes verbatim (checksum included as given)."""
    ip = IP(src=src, dst=stack_ip, proto=6)
    return Ether(src=peer_mac, dst=stack_mac) / ip / Raw(tcp_bytes)


def tcp_bytes_with_csum(sport, flags, opts=b"", data=b"", doff=None, seq=1, ack=0, csum_ok=True):
    """TCP header + data from FAKE to the echo port, with a correct checksum unless csum_ok
    is False; doff overrides the data offset (in 32-bit words)."""
    hlen = 20 + len(opts)
    off = (doff if doff is not None else hlen // 4) << 4
    fl = {"S": 0x02, "A": 0x10, "PA": 0x18, "R": 0x04, "F": 0x01}[flags] if isinstance(flags, str) else flags
    hdr = struct.pack("!HHIIBBHHH", sport, echo_port, seq, ack, off, fl, 65535, 0, 0) + opts
    seg = hdr + data
    c = csum16(ip4(FAKE) + ip4(stack_ip) + struct.pack("!BBH", 0, 6, len(seg)) + seg)
    if not csum_ok:
        c ^= 0x5555
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def group_segments():
    sp = lambda: random.randint(20000, 60000)
    # Malformed: flags, lengths, options, checksums. None of these may draw any reply.
    one_shot("syn+fin", syn(flags="SF"), "tcp_bad_flags")
    one_shot("syn+rst", syn(flags="SR"), "tcp_bad_flags")
    one_shot("no-flags", syn(flags=0), "tcp_bad_flags")
    one_shot("short-header (12 bytes)", raw_tcp(tcp_bytes_with_csum(sp(), "S")[:12]), "tcp_short")
    one_shot("data-offset-4", raw_tcp(tcp_bytes_with_csum(sp(), "S", doff=4)), "tcp_bad_off")
    one_shot("data-offset-beyond-segment",
             raw_tcp(tcp_bytes_with_csum(sp(), "S", doff=15)), "tcp_bad_off")
    one_shot("bad-checksum (SYN)", raw_tcp(tcp_bytes_with_csum(sp(), "S", csum_ok=False)),
             "tcp_bad_csum")
    one_shot("bad-checksum (zero)", raw_tcp(tcp_bytes_with_csum(sp(), "S")[:16] + b"\x00\x00" +
                                            tcp_bytes_with_csum(sp(), "S")[18:]), "tcp_bad_csum")
    bad_opts = [
        ("option-length-0", b"\x02\x00\x05\xb4"),
        ("option-length-1", b"\x08\x01\x00\x00"),
        ("option-past-header", b"\x01\x01\x08\x0a\x00\x00\x00\x00"),  # TS wants 10, 6 left
        ("mss-length-3", b"\x02\x03\x05\x01"),
        ("mss-length-6", b"\x02\x06\x05\xb4\x00\x00\x01\x01"),
        ("wscale-length-4", b"\x03\x04\x07\x00"),
        ("sack-ok-length-3", b"\x04\x03\x00\x00"),
        ("timestamps-length-8", b"\x08\x08\x00\x00\x00\x01\x00\x00"),
        ("kind-without-length", b"\x01\x01\x01\x02"),
    ]
    for name, opts in bad_opts:
        one_shot("bad-options " + name, raw_tcp(tcp_bytes_with_csum(sp(), "S", opts=opts)),
                 "tcp_bad_opts")

    # Data before any handshake: an ACK-bearing segment for no connection draws
    # <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.1) and counts as tcp_no_conn.
    port = sp()
    ackno = random.getrandbits(32)
    f = (Ether(src=peer_mac, dst=stack_mac) / IP(src=FAKE, dst=stack_ip) /
         TCP(sport=port, dport=echo_port, flags="PA", seq=12345, ack=ackno) / b"too early\n")
    one_shot("data-before-handshake", f, "tcp_no_conn",
             reply=lambda p: p[TCP].dport == port and flags_of(p) == "R" and
             p[TCP].seq == ackno)
    # Data with no ACK to a listener is dropped without a reply (RFC 9293 §3.10.7.2).
    f = (Ether(src=peer_mac, dst=stack_mac) / IP(src=FAKE, dst=stack_ip) /
         TCP(sport=sp(), dport=echo_port, flags="P", seq=12345) / b"too early\n")
    one_shot("data-without-ack-to-listener", f, "tcp_bad_flags")
    # An ACK-bearing segment to a closed port: RST too.
    port = sp()
    f = (Ether(src=peer_mac, dst=stack_mac) / IP(src=FAKE, dst=stack_ip) /
         TCP(sport=port, dport=echo_port + 1, flags="A", seq=1, ack=ackno))
    one_shot("ack-to-closed-port", f, "tcp_no_conn",
             reply=lambda p: p[TCP].dport == port and flags_of(p) == "R" and p[TCP].seq == ackno)
    # A SYN to a closed port: RST+ACK acknowledging the SYN.
    port = sp()
    f = (Ether(src=peer_mac, dst=stack_mac) / IP(src=FAKE, dst=stack_ip) /
         TCP(sport=port, dport=echo_port + 1, flags="S", seq=1000))
    one_shot("syn-to-closed-port", f, "tcp_no_conn",
             reply=lambda p: p[TCP].dport == port and flags_of(p) == "RA" and p[TCP].ack == 1001)

    # --- on a live connection --------------------------------------------------------------
    c = Conn()
    if not c.alive("the handshake"):
        report("live-connection", "the echo service did not answer a hand-made connection")
        return
    report("live-connection", None, " (hand-made handshake, echo works)")

    def on_conn(name, frame, counter, n=1, reply=None, survives=True):
        if reply is not None:
            # A connection answers at most one out-of-window segment without data per
            # 500 ms (tcp_oow_ack_ns, RFC 5961 §7 advice): let the last answer age.
            time.sleep(0.55)
        before = counters()
        m = rx.mark()
        for _ in range(n):
            send(frame)
            time.sleep(0.01)
        time.sleep(0.3)
        after = counters()
        got = rx.since(m, c.mine)
        d = delta(before, after, counter)
        msg = None
        if reply is None and got:
            msg = "unexpected reply: " + got[0].summary()
        elif reply is not None and len([p for p in got if reply(p)]) != n:
            msg = "expected %d matching replies, got %s" % (n, [(flags_of(p), p[TCP].seq, p[TCP].ack) for p in got])
        elif d != n:
            msg = "counter %s grew by %d, expected %d" % (counter, d, n)
        elif delta(before, after, "tcp_resets_rx"):
            msg = "the stack took it as a reset"
        elif survives and not c.alive(name):
            msg = "the connection did not survive"
        report(name, msg, " (%s +%d, connection alive)" % (counter, n) if survives else "")

    # RFC 5961 §3.2: a RST outside the window is dropped silently.
    on_conn("rst-out-of-window", c.frame("R", seq=c.snd_nxt + (1 << 30)), "tcp_rst_out_of_window")
    on_conn("rst-before-window", c.frame("R", seq=c.snd_nxt - 70000), "tcp_rst_out_of_window")
    # RFC 5961 §3.2: in the window but not exactly RCV.NXT: a challenge ACK, no reset.
    on_conn("rst-in-window-not-exact", c.frame("R", seq=c.snd_nxt + 1000), "tcp_challenge_acks",
            reply=lambda p: flags_of(p) == "A" and p[TCP].ack == c.snd_nxt and
            p[TCP].seq == c.rcv_nxt)
    on_conn("rst+ack-in-window-not-exact", c.frame("RA", seq=c.snd_nxt + 1),
            "tcp_challenge_acks",
            reply=lambda p: flags_of(p) == "A" and p[TCP].ack == c.snd_nxt)
    # RFC 5961 §4.2: a SYN on a synchronized connection: challenge ACK, no reset.
    on_conn("syn-on-established", c.frame("S", seq=c.snd_nxt), "tcp_challenge_acks",
            reply=lambda p: flags_of(p) == "A" and p[TCP].ack == c.snd_nxt)
    on_conn("syn-on-established-other-seq", c.frame("S", seq=c.snd_nxt + 5000),
            "tcp_challenge_acks", reply=lambda p: flags_of(p) == "A" and p[TCP].ack == c.snd_nxt)
    # RFC 5961 §5.2: an ACK for data never sent: ACK back, segment dropped.
    on_conn("ack-of-unsent-data", c.frame("A", ack=c.rcv_nxt + 100000), "tcp_bad_ack",
            reply=lambda p: flags_of(p) == "A" and p[TCP].ack == c.snd_nxt)
    # An ACK older than SND.UNA − MAX.SND.WND: challenge ACK.
    on_conn("ack-too-old", c.frame("A", ack=c.rcv_nxt - 200000), "tcp_bad_ack",
            reply=lambda p: flags_of(p) == "A" and p[TCP].ack == c.snd_nxt)
    # Data outside the receive window: ACKed with RCV.NXT, not delivered.
    on_conn("data-out-of-window", c.frame("PA", seq=c.snd_nxt + (1 << 30), data=b"far away\n"),
            "tcp_out_of_window", reply=lambda p: flags_of(p) == "A" and p[TCP].ack == c.snd_nxt)
    # A bad checksum on the connection: dropped, counted, not echoed; the same bytes with a
    # good checksum are then echoed exactly once.
    seg = tcp_bytes_with_csum(c.sport, "PA", data=b"corrupt\n", seq=c.snd_nxt, ack=c.rcv_nxt,
                              csum_ok=False)
    on_conn("bad-checksum-on-connection", raw_tcp(seg), "tcp_bad_csum")
    opts = b"\x08\x0c" + b"\x00" * 10  # timestamps with length 12
    seg = tcp_bytes_with_csum(c.sport, "PA", opts=opts, data=b"bad opts\n", seq=c.snd_nxt,
                              ack=c.rcv_nxt)
    on_conn("bad-options-on-connection", raw_tcp(seg), "tcp_bad_opts")
    on_conn("no-flags-on-connection", c.frame(0, data=b"x"), "tcp_bad_flags")
    on_conn("syn+fin-on-connection", c.frame("SF"), "tcp_bad_flags")

    # An exact RST ends the connection; afterwards its data draws a RST (tcp_no_conn).
    before = counters()
    c.send("R")
    time.sleep(0.2)
    mid = counters()
    m = rx.mark()
    c.send("PA", data=b"after the reset\n")
    r = rx.wait(lambda p: c.mine(p) and "R" in flags_of(p), m, 1)
    after = counters()
    if delta(before, mid, "tcp_resets_rx") != 1:
        report("rst-exact", "tcp_resets_rx grew by %d" % delta(before, mid, "tcp_resets_rx"))
    elif r is None or delta(mid, after, "tcp_no_conn") != 1:
        report("rst-exact", "data after the reset drew no RST / no tcp_no_conn")
    else:
        report("rst-exact", None, " (tcp_resets_rx +1; later data reset, tcp_no_conn +1)")


def group_fastrtx():
    """Drop one segment of the stack's echo on purpose and send three duplicate ACKs: the stack
    must resend it at once (fast retransmit), not after the retransmission timeout. Done for
    an ISN in each half of the sequence space (RFC 6582 §3.2: recover starts at the ISN)."""
    want = {"low": lambda isn: isn < (1 << 31), "high": lambda isn: isn >= (1 << 31)}
    for half, ok_isn in want.items():
        c = None
        for _ in range(40):
            c = Conn(mss=1000)
            if ok_isn(c.irs):
                break
            c.reset()
            c = None
        if c is None:
            report("fast-retransmit (%s ISN)" % half, "no ISN in that half in 40 connections")
            continue
        c.alive("the handshake")  # an RTT sample, and the echo service is there
        data = bytes(random.getrandbits(8) for _ in range(8000))
        before = counters()
        m = rx.mark()
        base = c.rcv_nxt
        for i in range(0, len(data), 1000):
            c.send("PA", data=data[i:i + 1000])
            c.snd_nxt = c.snd_nxt + 1000 & 0xFFFFFFFF
        # Wait for the echo (8 segments of at most 1000 bytes) without acknowledging yet.
        end = time.monotonic() + 0.15
        segs = []
        while time.monotonic() < end:
            segs = [p for p in rx.since(m, c.mine) if len(p[TCP].payload)]
            if sum(len(p[TCP].payload) for p in segs) >= 8000:
                break
            time.sleep(0.005)
        seqs = sorted(set((p[TCP].seq - base) & 0xFFFFFFFF for p in segs))
        if len(seqs) < 5:
            report("fast-retransmit (%s ISN %d)" % (half, c.irs),
                   "echo came back in %d segments, need at least 5" % len(seqs))
            c.reset()
            continue
        first_len = len([p for p in segs if p[TCP].seq == base][0][TCP].payload)
        hole = base + first_len & 0xFFFFFFFF
        # ACK the first segment only, then three duplicate ACKs (same window, no data).
        m2 = rx.mark()
        t0 = time.monotonic()
        for _ in range(4):
            c.send("A", ack=hole)
        rtx = rx.wait(lambda p: c.mine(p) and p[TCP].seq == hole and len(p[TCP].payload), m2, 1.5)
        dt = time.monotonic() - t0
        after = counters()
        fr = delta(before, after, "tcp_fast_retransmits")
        rto = delta(before, after, "tcp_rto_expired")
        name = "fast-retransmit (%s ISN %d)" % (half, c.irs)
        if rtx is None:
            report(name, "the segment at the hole was not resent within 1.5 s")
        elif fr != 1:
            report(name, "resent after %.3f s by %s, not by fast retransmit "
                   "(tcp_fast_retransmits +%d, tcp_rto_expired +%d)" %
                   (dt, "the RTO" if rto else "something", fr, rto))
        else:
            report(name, None, " (resent %.3f s after the third duplicate ACK)" % dt)
        c.rcv_nxt = base
        c.data_from(m, 8000, timeout=0.5)
        c.send("A")
        c.reset()


def flood_frames(src, n, dport):
    ports = random.sample(range(1024, 65536), n)
    tmpl = raw(Ether(src=peer_mac, dst=stack_mac) / IP(src=src, dst=stack_ip) /
               TCP(sport=1, dport=dport, flags="S", seq=0, window=65535))
    frames = []
    pseudo = ip4(src) + ip4(stack_ip) + struct.pack("!BBH", 0, 6, len(tmpl) - 34)
    for p in ports:
        t = bytearray(tmpl[34:])
        struct.pack_into("!H", t, 0, p)
        struct.pack_into("!I", t, 4, random.getrandbits(32))
        struct.pack_into("!H", t, 16, 0)
        struct.pack_into("!H", t, 16, csum16(pseudo + bytes(t)))
        frames.append(tmpl[:34] + bytes(t))
    return frames


def synack_ports(dst, until):
    """Destination ports of the SYN-ACKs the stack sends to dst from now until `until`
    (monotonic), read from a fresh packet socket and parsed by hand: scapy's sniffer is
    still busy with the flood's thousands of answers."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((iface, 0))
    s.settimeout(0.1)
    ports = set()
    want = ip4(stack_ip) + ip4(dst)
    while time.monotonic() < until:
        try:
            b = s.recv(2048)
        except socket.timeout:
            continue
        if len(b) < 54 or b[12:14] != b"\x08\x00" or b[23] != 6 or b[26:34] != want:
            continue
        t = 14 + (b[14] & 15) * 4
        if len(b) >= t + 14 and b[t + 13] & 0x12 == 0x12:
            ports.add(struct.unpack("!H", b[t + 2:t + 4])[0])
    s.close()
    return ports


BACKLOG = 256  # sluice run's SYN backlog per listener (struct sl_stack_config.tcp_backlog)


def group_flood(src, name, n=10000):
    """n SYNs with distinct random source ports, sent back to back from a raw socket. Each
    must be answered (SYN-ACK, or one counted as lost at output), refused and counted
    (tcp_backlog_full, tcp_conn_limit) or dropped and counted by the device (XDP
    statistics): nothing vanishes. From a silent
    source, the half-open connections still alive when the SYN-ACK timer (1 s) fires are
    the ones that retransmit: there must be at most BACKLOG of them."""
    frames = flood_frames(src, n, echo_port)
    before = counters()
    t0 = time.monotonic()
    for f in frames:
        # The sender's own queue can fill (EAGAIN, ENOBUFS): wait a little and resend, a
        # bounded number of times, so every SYN of the flood is actually sent.
        for attempt in range(1000):
            try:
                tx.send(f)
                break
            except (BlockingIOError, OSError) as e:
                if e.errno not in (errno.EAGAIN, errno.ENOBUFS) or attempt == 999:
                    raise
                time.sleep(0.001)
    dt = time.monotonic() - t0
    time.sleep(0.8 if src != peer_ip else 1.5)  # silent: before the first SYN-ACK timeout
    after = counters()
    d = {k: delta(before, after, k) for k in after}
    synacks = d.get("tcp_tx", 0)  # only SYN-ACKs leave during the flood
    refused = d.get("tcp_backlog_full", 0) + d.get("tcp_conn_limit", 0)
    devdrop = d.get("dev_rx_dropped", 0) + d.get("dev_rx_ring_full", 0)
    txdrop = d.get("tx_no_frame", 0) + d.get("tx_ring_full", 0)  # SYN-ACKs lost at output
    detail = ("%d SYNs in %.2f s: %d SYN-ACKs (%d with a SYN cookie), tcp_backlog_full +%d, "
              "tcp_conn_limit +%d, device drops +%d, output drops +%d, tcp_resets_rx +%d" %
              (n, dt, synacks, d.get("tcp_syncookies_sent", 0), d.get("tcp_backlog_full", 0),
               d.get("tcp_conn_limit", 0), devdrop, txdrop, d.get("tcp_resets_rx", 0)))
    msg = None
    if synacks + txdrop + refused + devdrop < n:
        msg = "%d SYNs vanished without a counter" % (n - synacks - txdrop - refused - devdrop)
    elif synacks + txdrop < n - devdrop and refused == 0:
        msg = "SYNs neither answered nor counted as refused"
    if src != peer_ip and not msg:
        # Half-open connections alive at their first SYN-ACK timeout (1 s) resend it.
        alive = len(synack_ports(src, t0 + 2.5))
        detail += ", %d half-open connections resent their SYN-ACK" % alive
        if alive > BACKLOG:
            msg = "%d half-open connections, more than the backlog (%d)" % (alive, BACKLOG)
    report(name, (msg + " (" + detail + ")") if msg else None, " (" + detail + ")")


for g in groups:
    if g == "segments":
        group_segments()
    elif g == "fastrtx":
        group_fastrtx()
    elif g == "flood":
        group_flood(peer_ip, "syn-flood from the peer (kernel resets the SYN-ACKs)")
    elif g == "flood-silent":
        group_flood(SILENT, "syn-flood from a silent address")
    else:
        sys.exit("unknown group " + g)

sniffer.stop()
failed = results.count(False)
print("%d cases, %d failed" % (len(results), failed))
sys.exit(1 if failed or not results else 0)
