#!/usr/bin/python3
"""The gate's IPv6 policy (docs/gate.md), frame by frame, for tests/net/test_gate6.sh.

Builds frames with scapy, feeds them with the rules to tests/net/gate_run.c (which installs
the rules through the library and runs each frame through the attached program with
BPF_PROG_TEST_RUN), and checks for every frame which rule matched (the per-rule packet
counters) and which verdict the gate counted. With no socket in the XSKMAP a match counts
no_socket and passes, so "matched rule R, no_socket" is the steered outcome here.

    gate6.py 'nsenter --net=/run/netns/NS /path/gate_run DEV' NET
"""
import json
import shlex
import subprocess
import sys

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Ether, ICMPv6EchoRequest, ICMPv6MLQuery,
                       ICMPv6MLReport2, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RA,
                       ICMPv6NDOptSrcLLAddr, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, PadN, Raw, RouterAlert,
                       conf)
from scapy.layers.ipsec import AH

conf.verb = 0
RUN = shlex.split(sys.argv[1])
NET = int(sys.argv[2])

MAC_PEER, MAC_SL = "02:00:00:00:00:01", "02:00:00:00:00:02"
PEER6, KERN6, ICMP6_ADDR, OWN6, OTHER6 = "fd00:6::1", "fd00:6::2", "fd00:6::3", "fd00:6::9", "fd00:6::77"
KERN_LL = "fe80::2"
PEER4, KERN4, OWN4 = f"10.{NET}.0.1", f"10.{NET}.0.2", f"10.{NET}.0.3"
SNODE_OWN = "ff02::1:ff00:9"  # solicited-node group of fd00:6::9 (RFC 4291 §2.7.1)
SNODE_KERN = "ff02::1:ff00:2"


def eth6(dst=MAC_SL):
    return Ether(src=MAC_PEER, dst=dst, type=0x86DD)


def eth4():
    return Ether(src=MAC_PEER, dst=MAC_SL, type=0x0800)


def mcast_mac(group):
    """33:33 + the group's low 32 bits (RFC 2464 §7)."""
    import ipaddress
    b = ipaddress.IPv6Address(group).packed
    return "33:33:" + ":".join(f"{x:02x}" for x in b[12:])


def v6(dst, src=PEER6, **kw):
    return eth6() / IPv6(src=src, dst=dst, **kw)


def ns(target, dst, src=PEER6):
    p = eth6(mcast_mac(dst) if dst.startswith("ff") else MAC_SL) / IPv6(src=src, dst=dst, hlim=255)
    p = p / ICMPv6ND_NS(tgt=target)
    if src != "::":  # RFC 4861 §4.3: no source link-layer option from the unspecified address
        p = p / ICMPv6NDOptSrcLLAddr(lladdr=MAC_PEER)
    return p


def na(target, dst="ff02::1"):
    return (eth6(mcast_mac(dst)) / IPv6(src=PEER6, dst=dst, hlim=255) /
            ICMPv6ND_NA(tgt=target, R=0, S=0, O=1))


def dstopts(n, inner):
    p = inner
    for _ in range(n):
        p = IPv6ExtHdrDestOpt() / p
    return p


# Rules (installed through the library): name -> command; None as expected = refused.
RULES = [
    ("own6", f"owned own6 {OWN6}", True),
    ("own4", f"owned own4 {OWN4}", True),
    ("tcp443", f"port tcp443 6 443 {KERN6}", True),
    ("udp5353", "port udp5353 17 5353 any", True),
    ("icmp6addr", f"port icmp6addr 58 0 {ICMP6_ADDR}", True),
    ("tcp80v4", f"port tcp80v4 6 80 {KERN4}", True),
    ("tuple6", f"tuple tuple6 6 {KERN6} 8080 {PEER6} 40000", True),
    ("tuple4", f"tuple tuple4 17 {KERN4} 9000 {PEER4} 9001", True),
    ("tuple6icmp", f"tuple tuple6icmp 58 {KERN6} 0 {PEER6} 0", True),
    # The library refuses rules the gate could never match.
    ("icmp_v6addr", f"port icmp_v6addr 1 0 {KERN6}", False),
    ("icmp6_v4addr", f"port icmp6_v4addr 58 0 {KERN4}", False),
    ("tuple_mixed", f"tuple tuple_mixed 6 {KERN6} 80 {PEER4} 1000", False),
    ("icmp6_port", f"port icmp6_port 58 7 {KERN6}", False),
]

# Frames: (name, frame, matched rule or None, verdict counter, extra counters expected).
S, P, E = "no_socket", "passed", "parse_error"
FRAMES = [
    # Port rules with an address, and with any address (both families).
    ("tcp6_port", v6(KERN6) / TCP(sport=1234, dport=443), "tcp443", S, {}),
    ("tcp6_other_port", v6(KERN6) / TCP(sport=1234, dport=444), None, P, {}),
    ("tcp6_other_addr", v6(OTHER6) / TCP(sport=1234, dport=443), None, P, {}),
    ("tcp6_v4_rule_port", v6(KERN6) / TCP(sport=1234, dport=80), None, P, {}),
    ("udp6_any", v6(OTHER6) / UDP(sport=1, dport=5353), "udp5353", S, {}),
    ("udp6_any_mcast", v6("ff02::fb") / UDP(sport=5353, dport=5353), "udp5353", S, {}),
    ("udp4_any", eth4() / IP(src=PEER4, dst=KERN4) / UDP(sport=1, dport=5353), "udp5353", S, {}),
    ("icmp6_port_rule", v6(ICMP6_ADDR) / ICMPv6EchoRequest(), "icmp6addr", S, {}),
    # Extension headers before the transport header.
    ("tcp6_hbh_dst_rt", v6(KERN6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
     IPv6ExtHdrRouting() / IPv6ExtHdrDestOpt() / TCP(dport=443), "tcp443", S, {}),
    ("tcp6_ah", v6(KERN6) / AH(nh=6, payloadlen=4, spi=1, seq=1, icv=b"\0" * 12) /
     TCP(dport=443), "tcp443", S, {}),
    ("tcp6_long_opts", v6(KERN6) / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 28)]) /
     TCP(dport=443), "tcp443", S, {}),
    ("chain_at_bound", v6(KERN6) / dstopts(6, TCP(dport=443)), "tcp443", S, {}),
    ("chain_too_long", v6(KERN6) / dstopts(7, TCP(dport=443)), None, P, {"ext_chain_too_long": 1}),
    ("chain_too_long_owned", v6(OWN6) / dstopts(7, TCP(dport=443)), "own6", S, {}),
    ("ext_truncated", (v6(KERN6, nh=0) / Raw(b"\x06\x00\x00\x00")), None, E, {}),
    ("ext_len_past_end", v6(KERN6) / IPv6ExtHdrDestOpt(len=10, autopad=0) / TCP(dport=443),
     None, E, {}),
    # Fragments: the first matches by its ports, the others carry none.
    ("frag6_first", v6(OTHER6) / IPv6ExtHdrFragment(offset=0, m=1, id=7, nh=17) /
     Raw(bytes(UDP(sport=1, dport=5353, len=1008, chksum=0x1234)) + b"x" * 32),
     "udp5353", S, {"fragment": 1}),
    ("frag6_nonfirst", v6(OTHER6) / IPv6ExtHdrFragment(offset=125, m=0, id=7, nh=17) /
     Raw(b"\x00\x01\x14\xe9" + b"x" * 28), None, P, {"fragment": 1}),
    ("frag6_nonfirst_owned", v6(OWN6) / IPv6ExtHdrFragment(offset=125, m=1, id=7, nh=17) /
     Raw(b"x" * 32), "own6", S, {"fragment": 1}),
    ("frag6_first_after_hbh", v6(KERN6) / IPv6ExtHdrHopByHop() /
     IPv6ExtHdrFragment(offset=0, m=1, id=8, nh=6) / TCP(dport=443), "tcp443", S,
     {"fragment": 1}),
    ("frag6_atomic", v6(KERN6) / IPv6ExtHdrFragment(offset=0, m=0, id=9, nh=6) /
     TCP(dport=443), "tcp443", S, {"fragment": 1}),
    # Tuple rules.
    ("tuple6", v6(KERN6) / TCP(sport=40000, dport=8080), "tuple6", S, {}),
    ("tuple6_other_sport", v6(KERN6) / TCP(sport=40001, dport=8080), None, P, {}),
    ("tuple6_other_src", v6(KERN6, src=OTHER6) / TCP(sport=40000, dport=8080), None, P, {}),
    ("tuple6_icmp", v6(KERN6) / ICMPv6EchoRequest(), "tuple6icmp", S, {}),
    # Neighbour discovery for the owned address, whatever the destination.
    ("ns_snode_owned", ns(OWN6, SNODE_OWN), "own6", S, {}),
    ("ns_dad_owned", ns(OWN6, SNODE_OWN, src="::"), "own6", S, {}),
    ("ns_unicast_owned", ns(OWN6, OWN6), "own6", S, {}),
    ("ns_snode_other", ns(KERN6, SNODE_KERN), None, P, {}),
    ("ns_dad_other", ns(KERN6, SNODE_KERN, src="::"), None, P, {}),
    ("ns_hbh_owned", eth6(mcast_mac(SNODE_OWN)) / IPv6(src=PEER6, dst=SNODE_OWN, hlim=255) /
     IPv6ExtHdrHopByHop() / ICMPv6ND_NS(tgt=OWN6), "own6", S, {}),
    ("na_owned", na(OWN6), "own6", S, {}),
    ("na_owned_unicast", na(OWN6, dst=KERN6), "own6", S, {}),
    ("na_other", na(KERN6), None, P, {}),
    ("ns_truncated", eth6(mcast_mac(SNODE_OWN)) / IPv6(src=PEER6, dst=SNODE_OWN, hlim=255, nh=58) /
     Raw(b"\x87\x00\x00\x00\x00\x00\x00\x00\xfd\x00"), None, E, {}),
    # What the kernel keeps.
    ("ra", eth6(mcast_mac("ff02::1")) / IPv6(src="fe80::1", dst="ff02::1", hlim=255) /
     ICMPv6ND_RA(), None, P, {}),
    ("mld_report", eth6(mcast_mac("ff02::16")) / IPv6(src="fe80::1", dst="ff02::16", hlim=1) /
     IPv6ExtHdrHopByHop(options=[RouterAlert()]) / ICMPv6MLReport2(), None, P, {}),
    ("mld_query", eth6(mcast_mac("ff02::1")) / IPv6(src="fe80::1", dst="ff02::1", hlim=1) /
     IPv6ExtHdrHopByHop(options=[RouterAlert()]) / ICMPv6MLQuery(), None, P, {}),
    ("kernel_tcp22", v6(KERN6) / TCP(sport=5000, dport=22), None, P, {}),
    ("kernel_echo", v6(KERN6, src=OTHER6) / ICMPv6EchoRequest(), None, P, {}),
    ("kernel_linklocal", v6(KERN_LL, src="fe80::1") / ICMPv6EchoRequest(), None, P, {}),
    ("owned6_tcp", v6(OWN6) / TCP(sport=5000, dport=22), "own6", S, {}),
    ("v4mapped_dst", v6(f"::ffff:{OWN4}") / TCP(dport=22), None, P, {}),
    ("v4mapped_ns_target", ns(f"::ffff:{OWN4}", SNODE_OWN), None, P, {}),
    ("ipv6_bad_version", Ether(src=MAC_PEER, dst=MAC_SL, type=0x86DD) /
     Raw(b"\x40" + b"\0" * 39), None, E, {}),
    # IPv4, unchanged.
    ("tcp4_port", eth4() / IP(src=PEER4, dst=KERN4) / TCP(dport=80), "tcp80v4", S, {}),
    ("tcp4_other", eth4() / IP(src=PEER4, dst=KERN4) / TCP(dport=443), None, P, {}),
    ("tcp4_owned", eth4() / IP(src=PEER4, dst=OWN4) / TCP(dport=22), "own4", S, {}),
    ("arp_owned", Ether(src=MAC_PEER, dst="ff:ff:ff:ff:ff:ff") /
     ARP(op=1, hwsrc=MAC_PEER, psrc=PEER4, pdst=OWN4), "own4", S, {}),
    ("arp_kernel", Ether(src=MAC_PEER, dst="ff:ff:ff:ff:ff:ff") /
     ARP(op=1, hwsrc=MAC_PEER, psrc=PEER4, pdst=KERN4), None, P, {}),
    ("udp4_tuple", eth4() / IP(src=PEER4, dst=KERN4) / UDP(sport=9001, dport=9000), "tuple4", S, {}),
    ("udp4_frag_first", eth4() / IP(src=PEER4, dst=KERN4, flags="MF", frag=0, proto=17) /
     Raw(bytes(UDP(sport=1, dport=5353, len=1008)) + b"x" * 32), "udp5353", S, {"fragment": 1}),
    ("udp4_frag_nonfirst", eth4() / IP(src=PEER4, dst=KERN4, frag=100, proto=17) /
     Raw(b"\x00\x01\x14\xe9" + b"x" * 28), None, P, {"fragment": 1}),
    ("icmp4_kernel", eth4() / IP(src=PEER4, dst=KERN4) / ICMP(), None, P, {}),
    ("non_ip", Ether(src=MAC_PEER, dst=MAC_SL, type=0x88B5) / Raw(b"\0" * 46), None, "non_ip", {}),
]

VERDICTS = ("redirected", "passed", "no_socket", "redirect_failed", "parse_error", "non_ip")


def main():
    lines, expect = [], {}
    for name, cmd, ok in RULES:
        lines.append(cmd)
    for name, frame, rule, verdict, extra in FRAMES:
        lines.append(f"frame {name} {bytes(frame).hex()}")
        expect[name] = (rule, verdict, extra)
    ra = next(f for n, f, *_ in FRAMES if n == "ra")
    ns_own = next(f for n, f, *_ in FRAMES if n == "ns_snode_owned")
    # An ICMPv6 rule on any address takes every ICMPv6 packet, neighbour discovery included
    # (but an owned target still comes first); deleting it gives them back to the kernel.
    lines += [
        "port icmp6any 58 0 any",
        f"frame ra_icmp6any {bytes(ra).hex()}",
        f"frame ns_owned_with_icmp6any {bytes(ns_own).hex()}",
        "del icmp6any",
        f"frame ra_after_del {bytes(ra).hex()}",
    ]
    expect["ra_icmp6any"] = ("icmp6any", S, {})
    expect["ns_owned_with_icmp6any"] = ("own6", S, {})  # the owned target comes first
    expect["ra_after_del"] = (None, P, {})

    out = subprocess.run(RUN, input="\n".join(lines) + "\n", capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        sys.exit(f"FAIL: gate_run exited {out.returncode}: {out.stderr}")
    res = [json.loads(x) for x in out.stdout.splitlines()]
    bad = []
    rules = {r["rule"]: r for r in res if "rule" in r}
    for name, cmd, ok in RULES:
        r = rules.get(name)
        if r is None or ("id" in r) != ok:
            bad.append(f"rule {name} ({cmd}): {r}, want {'accepted' if ok else 'refused'}")
    if not any(r.get("del") == "icmp6any" and r.get("result") == 0 for r in res):
        bad.append("del icmp6any failed")
    frames = {r["frame"]: r for r in res if "frame" in r}
    for name, (rule, verdict, extra) in expect.items():
        r = frames.get(name)
        if r is None or "error" in r:
            bad.append(f"frame {name}: {r}")
            continue
        c = r["counters"]
        want_c = {"rx": 1, verdict: 1, **extra}
        want_m = [rule] if rule else []
        if c != want_c or r["matched"] != want_m or r["ret"] != "XDP_PASS":
            bad.append(f"frame {name}: counters {c} matched {r['matched']} {r['ret']}; "
                       f"want counters {want_c} matched {want_m} XDP_PASS")
        elif sum(c.get(v, 0) for v in VERDICTS) != 1:
            bad.append(f"frame {name}: not exactly one verdict: {c}")
    for b in bad:
        print("FAIL:", b)
    print(f"{len(expect) - sum(b.startswith('frame') for b in bad)}/{len(expect)} frames, "
          f"{len(RULES)} rules checked")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
