#!/usr/bin/env python3
"""Seeds for the wire-parser harnesses (tests/fuzz/fuzz_<parser>.c), cut out of the ingress
corpus (tests/fuzz/corpus/ingress/, frames captured or built with scapy) so that every seed is
a real header: corpus/eth gets the frames, corpus/arp the ARP packets, corpus/ipv4 and
corpus/ipv6 the IP packets, corpus/icmp the ICMPv4 messages, corpus/tcpopts the TCP segments
and their option bytes, corpus/csum the IP packets behind a control byte. Run with any
python3; rerun after adding ingress seeds."""
import hashlib
import os

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, 'corpus', 'ingress')
out = {}


def put(h, b):
    out.setdefault(h, {})[hashlib.sha1(b).hexdigest()] = b


for name in sorted(os.listdir(src)):
    f = open(os.path.join(src, name), 'rb').read()
    if len(f) < 14:
        continue
    put('eth', f)
    et, ip = int.from_bytes(f[12:14], 'big'), f[14:]
    if et == 0x0806:
        put('arp', ip)
    elif et == 0x0800 and len(ip) >= 20:
        put('ipv4', ip)
        put("csum", b"\x00" + ip)
        hl, proto = (ip[0] & 15) * 4, ip[9]
        l4 = ip[hl:int.from_bytes(ip[2:4], 'big')]
        if proto == 1 and len(l4) >= 8:
            put('icmp', l4)
        if proto == 6 and len(l4) >= 20:
            put('tcpopts', l4)
            off = (l4[12] >> 4) * 4
            if off > 20:
                put('tcpopts', l4[20:off])
    elif et == 0x86dd and len(ip) >= 40:
        put('ipv6', ip)
        put('csum', b'\x01' + ip)
        if ip[6] == 6 and len(ip) >= 60:
            put('tcpopts', ip[40:])

for h, seeds in out.items():
    d = os.path.join(here, 'corpus', h)
    os.makedirs(d, exist_ok=True)
    for k, b in seeds.items():
        open(os.path.join(d, k), 'wb').write(b)
    print(h, len(seeds))
