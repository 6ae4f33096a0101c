#!/usr/bin/python3
"""IPv6 seeds for the fuzz corpus (tests/fuzz/corpus/ingress/ipv6_*): raw Ethernet frames, as
fuzz_ingress.c takes them, addressed to its stack (fd01::2 on 02:00:5e:10:00:0b; the peer is
fd01::1 on 02:00:5e:10:00:0a). Built with scapy 2.5: run with /usr/bin/python3 from the
repository root."""
import os

from scapy.all import (Ether, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrRouting, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS,
                       ICMPv6ND_RA, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr,
                       ICMPv6PacketTooBig, HBHOptUnknown, PadN, TCP, UDP, fragment6, raw)

ST_MAC, PEER_MAC = '02:00:5e:10:00:0b', '02:00:5e:10:00:0a'
ST, PEER = 'fd01::2', 'fd01::1'
SN = 'ff02::1:ff00:2'
E = Ether(dst=ST_MAC, src=PEER_MAC)

seeds = {
    'ipv6_ns': Ether(dst='33:33:ff:00:00:02', src=PEER_MAC) / IPv6(src=PEER, dst=SN, hlim=255) /
    ICMPv6ND_NS(tgt=ST) / ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC),
    'ipv6_ns_dad': Ether(dst='33:33:ff:00:00:02', src=PEER_MAC) / IPv6(src='::', dst=SN, hlim=255) /
    ICMPv6ND_NS(tgt=ST),
    'ipv6_na': Ether(dst='33:33:00:00:00:01', src=PEER_MAC) /
    IPv6(src=PEER, dst='ff02::1', hlim=255) / ICMPv6ND_NA(tgt=PEER, R=0, S=0, O=1) /
    ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC),
    'ipv6_ra': Ether(dst='33:33:00:00:00:01', src=PEER_MAC) /
    IPv6(src='fe80::1', dst='ff02::1', hlim=255) / ICMPv6ND_RA(),
    'ipv6_echo': E / IPv6(src=PEER, dst=ST) / ICMPv6EchoRequest(id=1, seq=1, data=b'a' * 32),
    'ipv6_echo_mcast': Ether(dst='33:33:00:00:00:01', src=PEER_MAC) /
    IPv6(src=PEER, dst='ff02::1') / ICMPv6EchoRequest(id=2, seq=2, data=b'b' * 16),
    'ipv6_hbh_echo': E / IPv6(src=PEER, dst=ST) /
    IPv6ExtHdrHopByHop(options=[PadN(optdata=b'\0\0\0\0')]) / ICMPv6EchoRequest(seq=3),
    'ipv6_dstopt_unknown': E / IPv6(src=PEER, dst=ST) /
    IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x9e, optdata=b'\0\0\0\0')]) /
    ICMPv6EchoRequest(seq=4),
    'ipv6_rh0': E / IPv6(src=PEER, dst=ST) / IPv6ExtHdrRouting(type=0, segleft=1,
                                                               addresses=['fd01::9']) /
    ICMPv6EchoRequest(seq=5),
    'ipv6_unknown_nh': E / IPv6(src=PEER, dst=ST, nh=253) / (b'\0' * 16),
    'ipv6_tcp_syn': E / IPv6(src=PEER, dst=ST) /
    TCP(sport=40000, dport=80, seq=1, flags='S', options=[('MSS', 1440), ('SAckOK', b''),
                                                          ('WScale', 7)]),
    'ipv6_udp_echo': E / IPv6(src=PEER, dst=ST) / UDP(sport=40000, dport=7) / (b'u' * 40),
    'ipv6_udp_closed': E / IPv6(src=PEER, dst=ST) / UDP(sport=40000, dport=9) / b'closed',
    'ipv6_ptb': E / IPv6(src=PEER, dst=ST) / ICMPv6PacketTooBig(mtu=1280) /
    IPv6(src=ST, dst=PEER) / UDP(sport=7, dport=40000) / (b'x' * 64),
    'ipv6_frag_atomic': E / IPv6(src=PEER, dst=ST) / IPv6ExtHdrFragment(id=5, offset=0, m=0) /
    ICMPv6EchoRequest(seq=6),
}
# An echo request of 1400 bytes of data in fragments of 512: the first, a middle, the last.
big = IPv6(src=PEER, dst=ST) / IPv6ExtHdrFragment(id=0x1234) / ICMPv6EchoRequest(seq=7,
                                                                                 data=b'f' * 1400)
for i, f in enumerate(fragment6(big, 560)):
    seeds['ipv6_frag%d' % (i + 1)] = E / f

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'ingress')
for name, pkt in seeds.items():
    with open(os.path.join(out, name), 'wb') as fh:
        fh.write(raw(pkt))
    print('%-22s %4d bytes  %s' % (name, len(raw(pkt)), pkt.summary()))
