"""Hostile IPv6 from the kernel peer against a running sluice stack, each case judged by what
comes back (or must not) and by the stack counter that must count it. Run inside the peer
namespace:

    hostile6.py IFACE TARGET6 TARGET_MAC PEER6 PEER_LL KERNEL6 KERNEL_LL STATS_CMD...

TARGET6 is the stack's address, TARGET_MAC its interface's MAC; STATS_CMD prints
`sluice stats DEV --json`. With STATS_CMD `none` no counter is read: that runs the cases
against any IPv6 host (the Linux kernel, say: TARGET6 = KERNEL6) to see how a reference
implementation answers; the cases that state a counter are then judged by replies only.

The frames are built byte by byte (ext headers, fragments, checksums) so that every field is
exactly as the case says; scapy only sends them and parses what comes back. One sniffer runs
for the whole suite; a case looks at the frames in its own time window. Only frames from
TARGET_MAC with IPv6 source TARGET6 count as the stack's answers (the kernel shares the
MAC), except where a case says otherwise; the stack's own address resolution (NS for the
peer) is background, never an answer. Cases that require an ICMPv6 error wait 1 s first, so a
rate limit (RFC 4443 §2.4 f) refills (their names end in -pp). Exits non-zero listing the cases that failed.
"""
import ipaddress
import json
import struct
import subprocess
import sys
import time

from scapy.all import (ICMPv6TimeExceeded, ICMPv6EchoReply, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ParamProblem, IPv6,
                       IPv6ExtHdrFragment, AsyncSniffer, Ether, Raw, conf, get_if_hwaddr, raw,
                       sendp, TCP)

# --- the counter names this suite expects (being defined with the IPv6 code; align here) ---
# key (used by the cases below) -> counter name in `sluice stats --json` (gate.* = the gate's)
EXPECTED = {
    "short": "gate.parse_error",  # IPv6 header cut off: the gate cannot read the address
    "gate_passed": "gate.passed",  # not steered: left to the kernel
    "bad_version": "ipv6_bad_version",  # version field not 6 in an IPv6 frame
    "bad_len": "ipv6_bad_len",  # payload length beyond the frame
    "bad_src": "ipv6_bad_src",  # multicast or loopback source (RFC 4291 §2.5.3, §2.7)
    "unknown_nh": "ipv6_unknown_proto",  # unrecognised Next Header (RFC 8200 §4)
    "bad_hdr": "ipv6_bad_hdr",  # extension header or option running past its end
    "hdr_limit": "ipv6_chain_too_long",  # a header chain longer than the stack accepts
    "unknown_opt": "ipv6_unknown_opt",  # unrecognised option, action 01/10/11 (§4.2)
    "hbh_not_first": "ipv6_hbh_not_first",  # Hop-by-Hop not right after the IPv6 header
    "rh0": "ipv6_rh0",  # routing header type 0 with segments left (RFC 5095)
    "rh_unknown": "ipv6_routing",  # unknown routing type with segments left (§4.4)
    "frag_bad_len": "ipv6_reasm_bad_frag",  # M=1 fragment not a multiple of 8 (§4.5)
    "frag_too_big": "ipv6_reasm_too_big",  # fragment past 65535 (§4.5)
    "overlap": "ipv6_reasm_overlap",  # overlapping fragments (RFC 5722)
    "tiny_first": "ipv6_frag_no_upper",  # first fragment without the L4 header (RFC 7112)
    "icmp6_bad_csum": "icmp6_bad_csum",
    "udp_zero_csum": "udp_bad_csum",  # UDP checksum 0 over IPv6 (RFC 8200 §8.1)
    "nd_hlim": "nd_bad",  # ND message with hop limit != 255 (RFC 4861 §6.1, §7.1)
    "nd_opt": "nd_bad",  # ND option with length 0
    "nd_bad": "nd_bad",  # other ND validation failures (code, target, source)
    "nd_not_mine": "nd_not_for_us",  # NS for an address the stack does not own
    "redirect": "nd_redirect_ignored",  # redirect not from the first-hop router (§8.1)
    "ptb_small": "icmp6_ptb_ignored",  # Packet Too Big with MTU < 1280 (RFC 8201 §4)
    "errors_rx": "icmp6_errors_rx",  # ICMPv6 errors received
    "unhandled": "icmp6_unhandled_type",  # informational type the stack does not know
}
FAMILY = ("ipv6_", "icmp6_", "nd_", "ndp_", "udp", "gate.")

conf.verb = 0
iface, target, target_mac, peer6, peer_ll, kernel6, kernel_ll = sys.argv[1:8]
stats_cmd = sys.argv[8:]
REFERENCE = stats_cmd == ["none"]
peer_mac = get_if_hwaddr(iface)
PFX = ipaddress.IPv6Network(target + "/64", strict=False)
NOBODY = str(PFX[0x77])  # on the prefix, held by no one
BOGUS_MAC = "02:00:5e:00:53:99"
A = lambda s: ipaddress.IPv6Address(s).packed  # noqa: E731


def solicited(addr):
    return str(ipaddress.IPv6Address(bytes.fromhex("ff0200000000000000000001ff") + A(addr)[13:]))


def mcast_mac(addr):
    b = A(addr)
    return "33:33:%02x:%02x:%02x:%02x" % tuple(b[12:16])


# --- bytes ------------------------------------------------------------------------------------
def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def l4(nh, body, off, src, dst, zero_ok=False):
    """body with its checksum (at offset off) over the IPv6 pseudo-header (RFC 8200 §8.1)."""
    b = bytearray(body)
    b[off:off + 2] = b"\0\0"
    ph = A(src) + A(dst) + struct.pack("!I", len(b)) + b"\0\0\0" + bytes([nh])
    c = csum(ph + bytes(b))
    if c == 0 and not zero_ok:
        c = 0xFFFF
    b[off:off + 2] = struct.pack("!H", c)
    return bytes(b)


def echo(ident, size=32, src=None, dst=None, seq=1):
    data = bytes((ident + i) & 0xFF for i in range(size))
    return l4(58, struct.pack("!BBHHH", 128, 0, 0, ident, seq) + data, 2, src or peer6,
              dst or target)


def udp(dport, payload, src=None, dst=None, sport=40000, zero=False):
    b = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return b if zero else l4(17, b, 6, src or peer6, dst or target)


def tcp_syn(dport, sport, src=None, dst=None):
    b = raw(TCP(sport=sport, dport=dport, flags="S", seq=0x5eed, window=8192, options=[]))
    return l4(6, b, 16, src or peer6, dst or target)


def opt(t, data=b""):
    return bytes([t, len(data)]) + data


def padn(n):  # PadN option of n bytes in all (n >= 2)
    return opt(1, b"\0" * (n - 2))


def optshdr(nh, opts):
    """Hop-by-Hop or Destination Options header with opts, padded to 8 bytes with PadN."""
    body = bytes([nh, 0]) + opts
    pad = -len(body) % 8
    if pad == 1:
        body += b"\0"  # Pad1
    elif pad:
        body += padn(pad)
    return bytes([nh, len(body) // 8 - 1]) + body[2:]


def rthdr(nh, rtype, segleft, addrs):
    return bytes([nh, 2 * len(addrs), rtype, segleft]) + b"\0" * 4 + b"".join(A(a) for a in addrs)


def fraghdr(nh, off8, m, ident):
    return struct.pack("!BBHI", nh, 0, (off8 << 3) | m, ident)


def frame(nh, chain, src=None, dst=None, hlim=64, edst=None, plen=None, first=None):
    """Ethernet + IPv6 header (first byte `first` for a bad version) + chain."""
    src, dst = src or peer6, dst or target
    if edst is None:
        edst = mcast_mac(dst) if dst.startswith("ff") else target_mac
    h = struct.pack("!IHBB", ((first or 0x60) << 24), len(chain) if plen is None else plen,
                    nh, hlim) + A(src) + A(dst)
    return Ether(src=peer_mac, dst=edst, type=0x86DD) / Raw(h + chain)


# --- ND messages (scapy computes their checksums; the raw ones are built here) ----------------
def nd_raw(icmp_type, code, body, src, dst, hlim=255):
    return frame(58, l4(58, struct.pack("!BBH", icmp_type, code, 0) + body, 2, src, dst),
                 src=src, dst=dst, hlim=hlim)


def ns(tgt, src=None, dst=None, hlim=255, code=0, slla=True, optlen0=False):
    src = src or peer6
    dst = dst or solicited(tgt)
    body = b"\0" * 4 + A(tgt)
    if optlen0:
        body += bytes([1, 0]) + b"\0" * 6
    elif slla:
        body += bytes([1, 1]) + bytes.fromhex(peer_mac.replace(":", ""))
    return nd_raw(135, code, body, src, dst, hlim)


def na(tgt, lladdr, hlim=255, flags=0x20, optlen0=False, dst=None):
    body = bytes([flags, 0, 0, 0]) + A(tgt)
    body += bytes([2, 0]) + b"\0" * 6 if optlen0 else bytes([2, 1]) + bytes.fromhex(
        lladdr.replace(":", ""))
    return nd_raw(136, 0, body, peer6, dst or target, hlim)


def ra(src, hlim=255, optlen0=False):
    # cur hop limit 64, flags 0, router lifetime 1800 s, reachable 0, retrans 0
    body = struct.pack("!BBHII", 64, 0, 1800, 0, 0)
    body += bytes([1, 0]) + b"\0" * 6 if optlen0 else bytes([1, 1]) + bytes.fromhex(
        peer_mac.replace(":", ""))
    return nd_raw(134, 0, body, src, target, hlim)


def redirect(hlim=255, optlen0=False):
    # "use fe80::99 (BOGUS_MAC) as first hop for PEER6": never valid for an on-link peer
    body = b"\0" * 4 + A("fe80::99") + A(peer6)
    body += bytes([2, 0]) + b"\0" * 6 if optlen0 else bytes([2, 1]) + bytes.fromhex(
        BOGUS_MAC.replace(":", ""))
    return nd_raw(137, 0, body, peer_ll, target, hlim)


def ptb(mtu):
    """Packet Too Big quoting an echo reply the stack could have sent to the peer (1232 bytes:
    as much as fits in 1280, RFC 4443 §3.2)."""
    inner = struct.pack("!IHBB", 0x60 << 24, 1400, 58, 64) + A(target) + A(peer6)
    inner += struct.pack("!BBHHH", 129, 0, 0, 0x7777, 1) + b"\x55" * (1232 - 48)
    return frame(58, l4(58, struct.pack("!BBHI", 2, 0, 0, mtu) + inner, 2, peer6, target))


# --- reply predicates ---------------------------------------------------------------------------
def describe(p):
    if ICMPv6ParamProblem in p:
        q = p[ICMPv6ParamProblem]
        return "Parameter Problem code %d pointer %d" % (q.code, q.ptr)
    if ICMPv6EchoReply in p:
        return "echo reply id %#x" % p[ICMPv6EchoReply].id
    if ICMPv6ND_NA in p:
        return "NA for %s to %s" % (p[ICMPv6ND_NA].tgt, p[IPv6].dst)
    return p.summary()


def is_echo(ident):
    return lambda p: ICMPv6EchoReply in p and p[ICMPv6EchoReply].id == ident


def is_pp(code=None, ptr=None):
    return lambda p: (ICMPv6ParamProblem in p and (code is None or p[ICMPv6ParamProblem].code
                      == code) and (ptr is None or p[ICMPv6ParamProblem].ptr == ptr))


def is_na(tgt):
    return lambda p: ICMPv6ND_NA in p and p[ICMPv6ND_NA].tgt == tgt


# --- the run --------------------------------------------------------------------------------------
def counters():
    if REFERENCE:
        return {}
    d = json.loads(subprocess.check_output(stats_cmd))
    c = dict(d["stacks"][0]["counters"]) if d["stacks"] else {}
    for k, v in d["gate"].items():
        c["gate." + k] = v
    return c


def background(p):
    """The stack's own address resolution and NUD: never an answer to a case."""
    return ICMPv6ND_NS in p and p[ICMPv6ND_NS].tgt in (peer6, peer_ll)


captured = []
sniffer = AsyncSniffer(iface=iface, store=False, prn=captured.append,
                       lfilter=lambda p: Ether in p and p[Ether].src == target_mac and IPv6 in p)
sniffer.start()
time.sleep(1.0)

failed = []
seq = [0]


def new_id():
    seq[0] += 1
    return 0x6000 + seq[0]


def window(t0, t1, everyone=False):
    out = [p for p in captured if t0 <= float(p.time) <= t1]
    if not everyone:
        out = [p for p in out if p[IPv6].src == target and not background(p)]
    return out


def case(name, frames, counter=None, delta="n", need=None, allow=None, post=None, reps=3,
         wait=0.3, gap=None, everyone=False):
    """frames(i) -> the frames of repetition i. counter: an EXPECTED key that must grow by
    reps ("n"), or at least 1 ("+"). need: a predicate at least one answer must match; allow:
    what else may come back (default: only what `need` matches). post(answers, delta) -> an
    error string or None, for what the predicates cannot say."""
    if gap is None:
        gap = name.endswith("-pp")  # a required ICMPv6 error: let a rate limit refill
    if gap:
        # Linux (the reference) refills one error a second with a burst of 6; sluice's
        # default bucket (100 a second, burst 50) is refilled by the previous case's own
        # wait, so a short pause is enough there.
        time.sleep(1.0 if REFERENCE else 0.2)
    before = counters()
    t0 = time.time()
    for i in range(reps):
        for f in frames(i):
            sendp(f, iface=iface)
        time.sleep(0.01)
    msg = None
    cname = EXPECTED[counter] if counter else None
    # With a counter to wait for, its growth says the stack has handled every frame (and sent
    # what it answers in the same poll); the settle below then catches the answers. Without
    # one (or against Linux) `wait` is the whole window for answers.
    time.sleep(min(wait, 0.05) if cname and not REFERENCE and wait <= 0.3 else wait)
    d = None
    if cname and not REFERENCE:
        want = reps if delta == "n" else 1
        deadline = time.time() + 1.0
        while True:
            after = counters()
            d = after.get(cname, 0) - before.get(cname, 0)
            if d >= want or time.time() > deadline:
                break
            time.sleep(0.05)
        time.sleep(0.1)
        after = counters()
        d = after.get(cname, 0) - before.get(cname, 0)
        if cname not in after:
            msg = ("no counter %s in sluice stats --json (present: %s)" %
                   (cname, " ".join(sorted(k for k in after if k.startswith(FAMILY))) or
                    "none of the IPv6 family"))
        elif (delta == "n" and d != reps) or (delta == "+" and d < 1):
            msg = "counter %s grew by %d, expected %s" % (cname, d, reps if delta == "n" else
                                                         "at least 1")
    # A reassembly timeout (time exceeded, code 1) is owed for an earlier case's incomplete
    # fragments (RFC 8200 §4.5) and lands in whichever case runs 30 s later: not this one's.
    got = [p for p in window(t0, time.time(), everyone)
           if not (ICMPv6TimeExceeded in p and p[ICMPv6TimeExceeded].code == 1)]
    ok_pred = allow or need or (lambda p: False)
    bad = [p for p in got if not ok_pred(p)]
    if not msg:
        if need is not None and not any(need(p) for p in got):
            msg = "expected answer missing" + (
                " (got: %s)" % "; ".join(describe(p) for p in got[:3]) if got else "")
        elif bad:
            msg = "unexpected answer: " + describe(bad[0])
        elif post:
            msg = post(got, d)
    if msg:
        failed.append(name)
    print(("FAIL " if msg else "ok   ") + name + (": " + msg if msg else
                                                  (" (%s +%d)" % (cname, d) if d is not None
                                                   else "")), flush=True)


def ident_frames(build):
    """frames(i) for cases whose frames need a fresh echo identifier each time; the last id
    is kept in last_id (for predicates)."""
    def f(i):
        last_id[0] = new_id()
        return build(last_id[0])
    return f


last_id = [0]

# Identifiers are fresh per repetition; a reply is matched by type, not by identifier,
# except where a case sends two datagrams and only one may be answered.
any_echo = lambda p: ICMPv6EchoReply in p  # noqa: E731

# --- baselines: without these, the negative cases say nothing ----------------------------------
case("baseline-echo", ident_frames(lambda i: [frame(58, echo(i))]), need=any_echo)
case("baseline-destopt-padn", ident_frames(lambda i: [frame(60, optshdr(58, padn(6)) + echo(i))]),
     need=any_echo)
case("baseline-destopt-pad1", ident_frames(lambda i: [frame(60, optshdr(58, b"\0" * 6) + echo(i))]),
     need=any_echo)
case("baseline-hbh-padn", ident_frames(lambda i: [frame(0, optshdr(58, padn(6)) + echo(i))]),
     need=any_echo)
case("baseline-ns", lambda i: [ns(target)], need=is_na(target),
     post=lambda got, d: None if all(p[ICMPv6ND_NA].S == 1 and p[IPv6].hlim == 255 for p in got)
     else "NA without S=1 or hop limit 255")

# --- the IPv6 header ------------------------------------------------------------------------------
case("header-cut-off", lambda i: [Ether(src=peer_mac, dst=target_mac, type=0x86DD) /
                                  Raw(raw(frame(58, echo(1)))[14:34])], counter="short")
case("version-4-in-ipv6-frame", ident_frames(lambda i: [frame(58, echo(i), first=0x40)]),
     counter="bad_version")
case("payload-length-beyond-frame", ident_frames(lambda i: [frame(58, echo(i), plen=1000)]),
     counter="bad_len")
case("multicast-source", ident_frames(lambda i: [frame(58, echo(i, src="ff02::1"), src="ff02::1")]),
     counter="bad_src")
case("loopback-source", ident_frames(lambda i: [frame(58, echo(i, src="::1"), src="::1")]),
     counter="bad_src")
case("unknown-next-header-pp", lambda i: [frame(200, b"x" * 16)], counter="unknown_nh",
     need=is_pp(1, 6))
case("unknown-next-header-after-destopt-pp", lambda i: [frame(60, optshdr(200, padn(6)) + b"x" * 16)],
     counter="unknown_nh", need=is_pp(1, 40))

# --- extension headers ------------------------------------------------------------------------------
# RFC 8200 §4.1: any number of extension headers, in any order, must be accepted.
case("destopt-chain-8", ident_frames(lambda i: [frame(60, b"".join(optshdr(60, padn(6))
                                                                 for _ in range(7))
                                                        + optshdr(58, padn(6)) + echo(i))]),
     need=any_echo)


def long_chain_post(got, d):
    # 150 headers (1200 bytes): answered, or refused by a limit that is counted (RFC 8504 §5.3)
    if any(any_echo(p) for p in got):
        return None
    if REFERENCE:
        return None
    c = counters()
    name = EXPECTED["hdr_limit"]
    if name not in c:
        return ("neither answered nor counted: no counter %s (present: %s)" %
                (name, " ".join(sorted(k for k in c if k.startswith(FAMILY)))))
    return None if c[name] >= 3 else "neither answered nor counted in %s" % name


case("destopt-chain-150", ident_frames(lambda i: [frame(60, b"".join(optshdr(60, padn(6))
                                                                   for _ in range(149))
                                                          + optshdr(58, padn(6)) + echo(i))]),
     allow=any_echo, post=long_chain_post)
# Header length says 168 bytes; 8 are there.
case("destopt-length-past-packet",
     ident_frames(lambda i: [frame(60, bytes([58, 20]) + padn(6)[:6])]),
     counter="bad_hdr", allow=is_pp(0))
# An option whose length runs past the end of its header.
case("option-length-past-header",
     ident_frames(lambda i: [frame(60, bytes([58, 0, 1, 10]) + b"\0" * 4 + echo(i))]),
     counter="bad_hdr", allow=is_pp(0))

# RFC 8200 §4.2: the two high bits of an unrecognised option type say what to do. Types from
# the RFC 4727 experimental range, which nothing implements: 0x1E, 0x5E, 0x9E, 0xDE. The option
# is the first in its header: pointer = 40 (IPv6) + 2 (next header, length) = 42.
UNK = {0: 0x1E, 1: 0x5E, 2: 0x9E, 3: 0xDE}


def unk_opt(nh_hdr, action, dst=None, before=b""):
    return ident_frames(lambda i: [frame(nh_hdr, optshdr(58, before + opt(UNK[action], b"\0" * 4))
                                         + echo(i, dst=dst), dst=dst)])


case("option-00-skip", unk_opt(60, 0), need=any_echo)
case("option-01-discard", unk_opt(60, 1), counter="unknown_opt")
case("option-10-pp", unk_opt(60, 2), counter="unknown_opt", need=is_pp(2, 42))
case("option-11-pp", unk_opt(60, 3), counter="unknown_opt", need=is_pp(2, 42))
# To the solicited-node group of the stack's address: the gate steers only Neighbor
# Solicitations and Advertisements there (docs/gate.md; the group may be shared with the
# kernel's own addresses), so these never reach the stack: passed to the kernel, which is not
# in the group and drops them. (The multicast rules of §4.2 are unit-tested in
# tests/unit/test_ipv6.c.)
SN = solicited(target)
case("option-10-multicast-pp", unk_opt(60, 2, dst=SN), counter="gate_passed")
case("option-11-multicast-silent", unk_opt(60, 3, dst=SN), counter="gate_passed")
# Behind a 4-byte PadN the pointer is 46.
case("option-10-after-padn-pp", unk_opt(60, 2, before=padn(4)), counter="unknown_opt",
     need=is_pp(2, 46))
case("hbh-option-00-skip", unk_opt(0, 0), need=any_echo)
case("hbh-option-01-discard", unk_opt(0, 1), counter="unknown_opt")
case("hbh-option-10-pp", unk_opt(0, 2), counter="unknown_opt", need=is_pp(2, 42))

# RFC 5095 §3: RH0 is handled as an unrecognised routing type (RFC 8200 §4.4): segments left
# 0 -> ignore the header and go on; segments left > 0 -> discard, Parameter Problem code 0
# pointing at the Routing Type field (40 + 2). Never forward.
case("rh0-segments-left-0", ident_frames(lambda i: [frame(43, rthdr(58, 0, 0, [peer6]) + echo(i))]),
     need=any_echo)
case("rh0-segments-left-1-pp", ident_frames(lambda i: [frame(43, rthdr(58, 0, 1, [peer6]) + echo(i))]),
     counter="rh0", need=is_pp(0, 42))
case("rh-type-253-segments-left-0", ident_frames(lambda i: [frame(43, rthdr(58, 253, 0, [peer6])
                                                                 + echo(i))]), need=any_echo)
case("rh-type-253-segments-left-1-pp", ident_frames(lambda i: [frame(43, rthdr(58, 253, 1, [peer6])
                                                                    + echo(i))]),
     counter="rh_unknown", need=is_pp(0, 42))
# Hop-by-Hop after a Destination Options header: Next Header 0 there is unrecognised (RFC
# 8200 §4.1, §4): Parameter Problem code 1 pointing at that Next Header field (offset 40).
case("hbh-not-first-pp", ident_frames(lambda i: [frame(60, optshdr(0, padn(6)) + optshdr(58, padn(6))
                                                       + echo(i))]),
     counter="hbh_not_first", need=is_pp(1, 40))

# --- fragments ----------------------------------------------------------------------------------
# RFC 6946 §4: offset 0 and M=0 is a whole datagram, processed in isolation.
case("atomic-fragment", ident_frames(lambda i: [frame(44, fraghdr(58, 0, 0, 0x1000 + i) + echo(i))]),
     need=any_echo)


wholes = set()


def atomic_beside_pending(i):
    pending, whole = new_id(), new_id()
    wholes.add(whole)
    fid = 0x2000 + i
    big = echo(pending, 96)
    return [frame(44, fraghdr(58, 0, 1, fid) + big[:48]),  # waits for the rest
            frame(44, fraghdr(58, 0, 0, fid) + echo(whole))]  # same id, whole on its own


# Only the atomic fragments are answered: mixing them with the pending datagram would answer
# (or corrupt) the other identifier.
case("atomic-fragment-beside-pending-datagram", atomic_beside_pending,
     need=lambda p: ICMPv6EchoReply in p and p[ICMPv6EchoReply].id in wholes)


def overlap(i):
    fid = 0x3000 + i
    body = echo(new_id(), 1200)  # 1208 bytes
    return [frame(44, fraghdr(58, 0, 1, fid) + body[:800]),
            frame(44, fraghdr(58, 99, 0, fid) + body[792:]),  # starts 8 bytes inside the first
            frame(44, fraghdr(58, 100, 0, fid) + body[800:])]  # the right one, too late


# RFC 5722: the whole datagram is discarded silently, fragments still to come included.
case("overlapping-fragments", overlap, counter="overlap", delta="+", wait=1.0)


def tiny_udp(i):
    fid = 0x4000 + i
    part = optshdr(17, padn(6)) + udp(7, b"tiny first fragment %d" % i)
    return [frame(44, fraghdr(60, 0, 1, fid) + part[:8]),  # only the Destination Options
            frame(44, fraghdr(60, 1, 0, fid) + part[8:])]


def tiny_tcp(i):
    fid = 0x4100 + i
    seg = tcp_syn(7, 41000 + i)
    return [frame(44, fraghdr(6, 0, 1, fid) + seg[:8]),  # ports and sequence number only
            frame(44, fraghdr(6, 1, 0, fid) + seg[8:])]


# RFC 7112 §5: a first fragment without the whole header chain is dropped; a Parameter
# Problem code 3 (pointer 0) may be sent.
case("tiny-first-fragment-udp", tiny_udp, counter="tiny_first", delta="+", allow=is_pp(3, 0),
     wait=1.0)
case("tiny-first-fragment-tcp", tiny_tcp, counter="tiny_first", delta="+", allow=is_pp(3, 0),
     wait=1.0)
# RFC 8200 §4.5: M=1 with a length not a multiple of 8 -> discard, Parameter Problem code 0
# should point at the Payload Length (4); past 65535 -> at the Fragment Offset (42).
case("fragment-length-not-multiple-of-8",
     ident_frames(lambda i: [frame(44, fraghdr(58, 0, 1, 0x5000 + i) + echo(i, 5))]),
     counter="frag_bad_len", allow=is_pp(0, 4))
case("fragment-past-65535",
     ident_frames(lambda i: [frame(44, fraghdr(58, 8191, 0, 0x5100 + i) + b"\0" * 16)]),
     counter="frag_too_big", allow=is_pp(0, 42))

# --- checksums ------------------------------------------------------------------------------------
def bad_csum_echo(i):
    b = bytearray(echo(i))
    b[2] ^= 0xFF
    return [frame(58, bytes(b))]


case("icmp6-bad-checksum", ident_frames(bad_csum_echo), counter="icmp6_bad_csum")
case("udp-checksum-zero", lambda i: [frame(17, udp(7, b"zero checksum", zero=True))],
     counter="udp_zero_csum")

# --- ICMPv6 errors and types (RFC 4443 §2.4) -----------------------------------------------------
# (e.1) no error about an error; (b) unknown informational types are silently discarded;
# (e.3) no error about a packet to a multicast address (but for PTB and option action 10).
case("icmp6-error-in", lambda i: [frame(58, l4(58, struct.pack("!BBHI", 1, 4, 0, 0)
                                                + raw(frame(17, udp(9, b"x", src=target,
                                                                    dst=peer6),
                                                            src=target, dst=peer6))[14:],
                                                2, peer6, target))],
     counter="errors_rx")
case("icmp6-unknown-informational", lambda i: [frame(58, l4(58, struct.pack("!BBHI", 200, 0, 0, 0),
                                                             2, peer6, target))],
     counter="unhandled")
case("udp-closed-port-multicast-silent", lambda i: [frame(17, udp(9, b"to a group", dst=SN), dst=SN)])
case("unknown-next-header-multicast-silent", lambda i: [frame(200, b"x" * 16, dst=SN)])

# --- Neighbor Discovery -------------------------------------------------------------------------
# RFC 4861 §7.1.1: NS with hop limit != 255, code != 0, a multicast target, an option of
# length 0, or source :: with a link-layer option: silently discarded.
case("ns-hop-limit-64", lambda i: [ns(target, hlim=64)], counter="nd_hlim")
case("ns-unicast-hop-limit-64", lambda i: [ns(target, dst=target, hlim=64)], counter="nd_hlim")
case("ns-option-length-0", lambda i: [ns(target, optlen0=True)], counter="nd_opt")
case("ns-code-1", lambda i: [ns(target, code=1)], counter="nd_bad")
# A multicast target is not an owned address: the gate leaves it to the kernel (which drops
# it, RFC 4861 §7.1.1); the stack's own check is unit-tested (tests/unit/test_nd.c).
case("ns-target-multicast", lambda i: [ns("ff02::1", dst=SN)], counter="gate_passed")
case("ns-unspecified-source-with-lladdr", lambda i: [ns(target, src="::")], counter="nd_bad")
case("ns-unspecified-source-unicast", lambda i: [ns(target, src="::", dst=target, slla=False)],
     counter="nd_bad")
# A DAD probe for the stack's address: defended by an NA to all-nodes with S=0 (§7.2.4).
case("ns-dad-defended", lambda i: [ns(target, src="::", slla=False)],
     need=lambda p: is_na(target)(p) and p[IPv6].dst == "ff02::1" and p[ICMPv6ND_NA].S == 0)
# Not the stack's address (§7.2.3): no answer from the stack.
case("ns-for-unowned-address-to-stack", lambda i: [ns(NOBODY, dst=target)], counter="nd_not_mine")
if target != kernel6:  # (a reference run against the kernel: that is its own address)
    case("ns-for-kernel-address-to-stack", lambda i: [ns(kernel6, dst=target)],
         counter="nd_not_mine")
case("ns-for-unowned-address-multicast", lambda i: [ns(NOBODY)], everyone=True,
     allow=lambda p: not is_na(NOBODY)(p) and not ICMPv6EchoReply in p)


def exactly_one_na(tgt):
    return lambda got, d: (None if sum(1 for p in got if is_na(tgt)(p)) == 3 else
                           "%d NAs for %s for 3 NS: someone besides the kernel answers" %
                           (sum(1 for p in got if is_na(tgt)(p)), tgt))


# The kernel's own addresses: exactly its NA, one per NS (sluice must not answer too).
case("ns-for-kernel-address", lambda i: [ns(kernel6)], everyone=True, allow=lambda p: True,
     post=exactly_one_na(kernel6))
case("ns-for-kernel-link-local", lambda i: [ns(kernel_ll, src=peer_ll)], everyone=True,
     allow=lambda p: True, post=exactly_one_na(kernel_ll))


def still_ours(got, d):
    """After a cache-poisoning attempt: the stack's echo reply goes to the peer's MAC."""
    ident = new_id()
    t0 = time.time()
    sendp(frame(58, echo(ident)), iface=iface)
    time.sleep(0.5)
    rep = [p for p in window(t0, time.time()) if is_echo(ident)(p)]
    if not rep:
        return "no echo reply afterwards (did the stack take %s for the peer?)" % BOGUS_MAC
    if rep[0][Ether].dst != peer_mac:
        return "the stack now sends the peer's traffic to %s" % rep[0][Ether].dst
    return None


# An NA or redirect that would move the peer to BOGUS_MAC, each invalid: ignored.
case("na-hop-limit-64", lambda i: [na(peer6, BOGUS_MAC, hlim=64)], counter="nd_hlim",
     post=still_ours)
case("na-option-length-0", lambda i: [na(peer6, BOGUS_MAC, optlen0=True)], counter="nd_opt",
     post=still_ours)
case("ra-hop-limit-64", lambda i: [ra(peer_ll, hlim=64)], counter="nd_hlim", post=still_ours)
case("ra-from-global-source", lambda i: [ra(peer6)], counter="nd_bad", post=still_ours)
case("ra-option-length-0", lambda i: [ra(peer_ll, optlen0=True)], counter="nd_opt",
     post=still_ours)
case("redirect-hop-limit-64", lambda i: [redirect(hlim=64)], counter="nd_hlim", post=still_ours)
case("redirect-option-length-0", lambda i: [redirect(optlen0=True)], counter="nd_opt",
     post=still_ours)
case("redirect-not-from-first-hop-router", lambda i: [redirect()], counter="redirect",
     post=still_ours)

# --- multicast echo: answering is allowed (RFC 4443 §4.1), from a unicast source ----------------
case("echo-to-all-nodes", ident_frames(lambda i: [frame(58, echo(i, dst="ff02::1"), dst="ff02::1")]),
     allow=any_echo)
case("echo-to-solicited-node", ident_frames(lambda i: [frame(58, echo(i, dst=SN), dst=SN)]),
     allow=any_echo)


# --- Packet Too Big (last: a valid one lowers the path MTU to the peer for minutes) ------------
def big_reply_sizes(t0):
    """Send an echo request of 1448 bytes (unfragmented on the 1500-byte link); return the
    IPv6 sizes of what comes back (fragments or one packet), and whether it was fragmented."""
    ident = new_id()
    sendp(frame(58, echo(ident, 1400)), iface=iface)
    time.sleep(0.5)
    got = [p for p in window(t0, time.time()) if p[IPv6].dst == peer6 and
           (is_echo(ident)(p) or IPv6ExtHdrFragment in p)]
    return [(40 + p[IPv6].plen, IPv6ExtHdrFragment in p and p[IPv6ExtHdrFragment].m == 1)
            for p in got]


def ptb_small_post(got, d):
    # RFC 8201 §4: an MTU below 1280 is discarded; never cut packets below 1280.
    sizes = big_reply_sizes(time.time())
    if not sizes:
        return "no answer to a 1448-byte echo request afterwards"
    small = [s for s, more in sizes if more and s < 1280]
    return None if not small else ("after a Packet Too Big of 600, the stack fragments to %s "
                                   "bytes (RFC 8201 §4: ignore an MTU below 1280)" % small)


def ptb_1280_post(got, d):
    # RFC 8201 §4: reduce to 1280 (or, without PMTUD, never exceed 1280 anyway).
    sizes = big_reply_sizes(time.time())
    if not sizes:
        return "no answer to a 1448-byte echo request afterwards"
    big = [s for s, _ in sizes if s > 1280]
    return None if not big else ("after a Packet Too Big of 1280, the stack still sends %s "
                                 "bytes to the peer" % big)


case("packet-too-big-600", lambda i: [ptb(600)], counter="ptb_small", post=ptb_small_post)
case("packet-too-big-1280", lambda i: [ptb(1280)], counter="errors_rx", delta="+",
     post=ptb_1280_post)

sniffer.stop()
if failed:
    print("FAIL: %d IPv6 hostile cases: %s" % (len(failed), " ".join(failed)))
sys.exit(1 if failed else 0)
