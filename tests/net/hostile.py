"""Hostile frames from the kernel peer, each checked against the counter that must
count it and against what (if anything) may come back. Run inside the peer namespace:

    hostile.py IFACE STACK_IP STACK_MAC PEER_IP STATS_CMD...

STATS_CMD prints `sluice stats DEV --json` for the stack's interface.
Exits non-zero on the first case that is not counted or is answered wrongly.
"""
import json
import subprocess
import sys
import time

from scapy.all import (ARP, ICMP, IP, UDP, AsyncSniffer, Ether, Raw, conf, get_if_hwaddr,
                       raw, sendp)

conf.verb = 0
iface, stack_ip, stack_mac, peer_ip = sys.argv[1:5]
stats_cmd = sys.argv[5:]
peer_mac = get_if_hwaddr(iface)
eth = Ether(src=peer_mac, dst=stack_mac)
bcast = Ether(src=peer_mac, dst="ff:ff:ff:ff:ff:ff")


def counters():
    d = json.loads(subprocess.check_output(stats_cmd))
    c = dict(d["stacks"][0]["counters"]) if d["stacks"] else {}
    for k, v in d["gate"].items():
        c["gate." + k] = v
    return c


def with_len(pkt, total_len):
    b = bytearray(raw(pkt))
    b[14 + 2:14 + 4] = total_len.to_bytes(2, "big")
    return Ether(bytes(b))


def bad_ip_csum(pkt):
    b = bytearray(raw(pkt))
    b[14 + 10] ^= 0xFF
    return Ether(bytes(b))


def ihl(pkt, n):
    b = bytearray(raw(pkt))
    b[14] = 0x40 | n
    return Ether(bytes(b))


def ip4(a):
    return bytes(map(int, a.split(".")))


def ip_in_subnet(host):
    return ".".join(peer_ip.split(".")[:3] + [str(host)])


def arp_hlen8():
    # htype 1, ptype IPv4, hlen 8, plen 4: the gate finds the TPA by the length fields.
    body = (b"\x00\x01\x08\x00\x08\x04\x00\x01" + b"\x02" * 8 + ip4(peer_ip) + b"\x00" * 8
            + ip4(stack_ip))
    return Ether(raw(Ether(src=peer_mac, dst="ff:ff:ff:ff:ff:ff", type=0x0806)) + body)


def echo(**kw):
    return eth / IP(src=peer_ip, dst=stack_ip, **kw) / ICMP(id=77, seq=1) / b"hostile!"


net = ".".join(stack_ip.split(".")[:3])
cases = [
    # name, frame(s), counter that must grow, replies allowed (predicate on a sniffed frame)
    ("ihl-below-5", ihl(echo(), 4), "ipv4_bad_ihl", None),
    ("ihl-beyond-packet", ihl(echo(), 15), "ipv4_bad_ihl", None),
    ("total-length-beyond-frame", with_len(echo(), 1400), "ipv4_bad_len", None),
    ("total-length-below-header", with_len(echo(), 12), "ipv4_bad_len", None),
    ("bad-ip-checksum", bad_ip_csum(echo()), "ipv4_bad_csum", None),
    ("bad-icmp-checksum", eth / IP(src=peer_ip, dst=stack_ip) / ICMP(chksum=0x1234) / b"x",
     "icmp_bad_csum", None),
    ("truncated-icmp", eth / IP(src=peer_ip, dst=stack_ip, proto=1) / b"\x08\x00\xf7",
     "icmp_short", None),
    ("broadcast-source", eth / IP(src="255.255.255.255", dst=stack_ip) / ICMP() / b"x",
     "ipv4_bad_src", None),
    ("subnet-broadcast-source", eth / IP(src=net + ".255", dst=stack_ip) / ICMP() / b"x",
     "ipv4_bad_src", None),
    ("multicast-source", eth / IP(src="224.0.0.9", dst=stack_ip) / ICMP() / b"x",
     "ipv4_bad_src", None),
    ("own-address-source", eth / IP(src=stack_ip, dst=stack_ip) / ICMP() / b"x",
     "ipv4_bad_src", None),
    ("echo-to-broadcast-mac", bcast / IP(src=peer_ip, dst=stack_ip) / ICMP() / b"x",
     "icmp_bcast_request", None),
    ("icmp-error-in", eth / IP(src=peer_ip, dst=stack_ip) / ICMP(type=3, code=1)
     / IP(src=stack_ip, dst=peer_ip) / ICMP(), "icmp_errors_rx", None),
    ("icmp-error-about-icmp-error", eth / IP(src=peer_ip, dst=stack_ip, proto=253) / b"z",
     "ipv4_unknown_proto",
     lambda p: ICMP in p and p[ICMP].type == 3 and p[ICMP].code == 2),
    ("arp-hlen-8", arp_hlen8(), "arp_unsupported", None),
    ("arp-truncated", Ether(raw(Ether(src=peer_mac, dst="ff:ff:ff:ff:ff:ff", type=0x0806))
                            + raw(ARP(op=1, hwsrc=peer_mac, psrc=peer_ip, pdst=stack_ip))[:27]),
     "gate.parse_error", None),  # the TPA is cut off: the gate cannot tell, the kernel decides
    ("arp-opcode-9", bcast / ARP(op=9, hwsrc=peer_mac, psrc=peer_ip, pdst=stack_ip),
     "arp_bad_op", None),
    ("arp-broadcast-sender-mac", bcast / ARP(op=1, hwsrc="ff:ff:ff:ff:ff:ff", psrc=peer_ip,
                                             pdst=stack_ip), "arp_bad_sender", None),
    # RFC 826 merge rules: a reply nobody asked for makes no entry; a request from a sender off
    # the stack's prefixes is answered and its sender not learned.
    ("arp-unsolicited-reply", eth / ARP(op=2, hwsrc=peer_mac, psrc=ip_in_subnet(77),
                                        hwdst=stack_mac, pdst=stack_ip),
     "arp_unsolicited", None),
    ("arp-off-link-sender", bcast / ARP(op=1, hwsrc=peer_mac, psrc="192.0.2.77", pdst=stack_ip),
     "arp_off_link", lambda p: ARP in p and p[ARP].op == 2 and p[ARP].pdst == "192.0.2.77"),
    ("ip-fragment", eth / IP(src=peer_ip, dst=stack_ip, flags="MF", id=9) / ICMP() / (b"f" * 32),
     "ipv4_frags_rx", None),
]

failed = 0
for name, frame, counter, reply_ok in cases:
    before = counters()
    # The kernel shares the MAC, so only frames from the stack's address count as replies.
    sniff = AsyncSniffer(iface=iface, lfilter=lambda p: p[Ether].src == stack_mac and (
        (IP in p and p[IP].src == stack_ip) or (ARP in p and p[ARP].psrc == stack_ip)))
    sniff.start()
    time.sleep(0.1)
    sendp(frame, iface=iface, count=3, inter=0.01)
    time.sleep(0.4)
    got = sniff.stop() or []
    after = counters()
    delta = after.get(counter, 0) - before.get(counter, 0)
    bad = [p for p in got if not (reply_ok and reply_ok(p))]
    if reply_ok and len(got) == len(bad):
        msg = "expected reply missing"
    elif bad:
        msg = "unexpected reply: " + bad[0].summary()
    elif delta != 3:
        msg = "counter %s grew by %d, expected 3" % (counter, delta)
    else:
        msg = None
    print(("FAIL " if msg else "ok   ") + name + (": " + msg if msg else " (%s +3)" % counter))
    failed += bool(msg)

sys.exit(1 if failed else 0)
