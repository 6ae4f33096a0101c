"""IPv6 helpers for the root veth tests (run with /usr/bin/python3 inside a namespace, via
`ip netns exec` or `nsenter --net`). Every mode is bounded in time, says what went wrong on
stderr and exits non-zero; checks that pass print "ok: ...".

    v6_util.py sink PORT DELAY            accept one TCP connection on [::]:PORT, read nothing
                                          for DELAY s, then read to EOF; print "BYTES SHA256"
    v6_util.py udp-echo ADDR PORT N...    one connected UDP socket: datagrams of N bytes each
                                          (random), every echo byte-exact
    v6_util.py udp-refused ADDR PORT      a connected UDP socket to a closed port gets
                                          ECONNREFUSED (the ICMPv6 port unreachable)
    v6_util.py tcp-hello ADDR PORT TEXT   connect (ADDR may carry %scope), send TEXT, half-close,
                                          print what comes back
    v6_util.py dad-watch IFACE TARGET ACTION [PEER6]
                                          wait (15 s at most) for the DAD Neighbor Solicitation
                                          for TARGET (RFC 4862 §5.4.2) and check its form; then
                                          ACTION: 'probe' sends an address-resolution NS for
                                          the still tentative TARGET, which must go unanswered
                                          (§5.4.3; sent from PEER6); 'collide' sends a DAD NS of our own for
                                          TARGET, as another node doing DAD at the same time
    v6_util.py pcap-check PCAP STACK6 STACK_MAC KERNEL_LL PEER6
                                          what test_ipv6.sh's capture (ip6 and not tcp, on the
                                          peer's veth) must show about the stack's frames
"""
import hashlib
import ipaddress
import os
import socket
import sys
import time


def die(msg):
    sys.stderr.write("v6_util: " + msg + "\n")
    sys.exit(1)


def solicited(addr):
    a = ipaddress.IPv6Address(addr).packed
    return str(ipaddress.IPv6Address(bytes.fromhex("ff0200000000000000000001ff") + a[13:]))


def solicited_mac(addr):
    a = ipaddress.IPv6Address(addr).packed
    return "33:33:ff:%02x:%02x:%02x" % (a[13], a[14], a[15])


def sink(port, delay, limit=60):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::", port))
    ls.listen(1)
    ls.settimeout(limit)
    try:
        c, peer = ls.accept()
    except socket.timeout:
        die("sink: nobody connected to [::]:%d within %d s" % (port, limit))
    sys.stderr.write("v6_util: sink: connection from [%s]:%d\n" % peer[:2])
    time.sleep(delay)
    c.settimeout(limit)
    h = hashlib.sha256()
    n = 0
    try:
        while True:
            b = c.recv(1 << 16)
            if not b:
                break
            h.update(b)
            n += len(b)
    except socket.timeout:
        die("sink: stalled after %d bytes" % n)
    c.close()
    print(n, h.hexdigest(), flush=True)


def udp_echo(addr, port, sizes):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect(socket.getaddrinfo(addr, port, socket.AF_INET6, socket.SOCK_DGRAM)[0][4])
    for n in sizes:
        data = os.urandom(n)
        s.send(data)
        try:
            got = s.recv(65536)
        except socket.timeout:
            die("udp-echo: no echo within 3 s for a %d-byte datagram" % n)
        except ConnectionRefusedError:
            die("udp-echo: ECONNREFUSED for a %d-byte datagram to the echo port" % n)
        if got != data:
            die("udp-echo: %d bytes sent, %d came back%s" %
                (n, len(got), " (different bytes)" if len(got) == n else ""))
    print("ok: UDP over IPv6: datagrams of %s bytes echoed byte for byte" %
          ", ".join(map(str, sizes)), flush=True)


def udp_refused(addr, port):
    c = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    c.settimeout(3)
    c.connect((addr, port))
    c.send(b"anyone there?")
    try:
        c.recv(100)
        die("udp-refused: closed port %d answered" % port)
    except ConnectionRefusedError:
        pass
    except socket.timeout:
        die("udp-refused: no ECONNREFUSED within 3 s from closed port %d (no ICMPv6 port "
            "unreachable, RFC 4443 §3.1 code 4?)" % port)
    print("ok: connected UDP socket to closed port [%s]:%d: ECONNREFUSED" % (addr, port),
          flush=True)


def tcp_hello(addr, port, text):
    ai = socket.getaddrinfo(addr, port, socket.AF_INET6, socket.SOCK_STREAM)[0]
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(ai[4])
        s.sendall(text.encode())
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except OSError as e:
        die("tcp-hello [%s]:%d: %s" % (addr, port, e))
    sys.stdout.write(got.decode(errors="replace"))


def dad_watch(iface, target, action):
    from scapy.all import (ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6, AsyncSniffer,
                           Ether, conf, get_if_hwaddr, sendp)
    conf.verb = 0
    mymac = get_if_hwaddr(iface)
    sn = solicited(target)

    def is_dad(p):
        return (IPv6 in p and ICMPv6ND_NS in p and p[IPv6].src == "::"
                and p[ICMPv6ND_NS].tgt == target)

    sniff = AsyncSniffer(iface=iface, lfilter=is_dad, count=1, timeout=15)
    sniff.start()
    time.sleep(0.5)
    print("ready", flush=True)
    sniff.join()
    got = sniff.results or []
    if not got:
        die("dad-watch: no DAD Neighbor Solicitation (source ::) for %s within 15 s "
            "(RFC 4862 §5.4.2)" % target)
    ns = got[0]
    t_dad = time.monotonic()
    errs = []
    if ns[IPv6].dst != sn:
        errs.append("sent to %s, not the solicited-node address %s" % (ns[IPv6].dst, sn))
    if ns[Ether].dst != solicited_mac(target):
        errs.append("Ethernet destination %s, not %s (RFC 2464 §7)" %
                    (ns[Ether].dst, solicited_mac(target)))
    if ns[IPv6].hlim != 255:
        errs.append("hop limit %d, not 255 (RFC 4861 §7.1.1)" % ns[IPv6].hlim)
    if ICMPv6NDOptSrcLLAddr in ns:
        errs.append("carries a source link-layer address option, forbidden with source :: "
                    "(RFC 4861 §4.3, §7.2.2)")
    if errs:
        die("dad-watch: the DAD NS for %s is malformed: %s" % (target, "; ".join(errs)))
    print("ok: DAD NS for %s: from ::, to %s, hop limit 255, no link-layer option" %
          (target, sn), flush=True)
    if action == "probe":
        # RFC 4862 §5.4.3: an NS from a unicast source for a tentative address is address
        # resolution by someone else; it must be silently ignored (no NA while tentative).
        # DAD lasts RetransTimer (1 s, RFC 4861 §10) after the NS: answer within 0.3 s = bug.
        na = AsyncSniffer(iface=iface, lfilter=lambda p: ICMPv6ND_NA in p and
                          p[ICMPv6ND_NA].tgt == target, timeout=0.3)
        na.start()
        time.sleep(0.02)
        peer6 = sys.argv[5]
        sendp(Ether(src=mymac, dst=solicited_mac(target)) / IPv6(src=peer6, dst=sn, hlim=255)
              / ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=mymac), iface=iface)
        na.join()
        dt = time.monotonic() - t_dad
        if na.results:
            die("dad-watch: %s answered an NS (as NA) %.2f s after its DAD NS, while still "
                "tentative (RFC 4862 §5.4.3: ignore it)" % (target, dt))
        print("ok: NS for the tentative %s ignored (no NA within 0.3 s of the DAD NS)" % target,
              flush=True)
    elif action == "collide":
        # RFC 4862 §5.4.3: a DAD NS from another node for our tentative address means the
        # address is duplicate: it must not be assigned.
        sendp(Ether(src=mymac, dst=solicited_mac(target)) / IPv6(src="::", dst=sn, hlim=255)
              / ICMPv6ND_NS(tgt=target), iface=iface)
        print("ok: sent a DAD NS of our own for %s" % target, flush=True)
    else:
        die("dad-watch: unknown action " + action)


def pcap_check(path, stack6, stack_mac, kernel_ll, peer6):
    from scapy.all import (ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6ND_NA, ICMPv6ND_NS,
                           ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6, IPv6ExtHdrFragment,
                           UDPerror, Ether, rdpcap)
    pkts = rdpcap(path)
    bad = []

    def check(cond, okmsg, failmsg):
        if cond:
            print("ok: capture: " + okmsg, flush=True)
        else:
            bad.append(failmsg)
            sys.stderr.write("FAIL: capture: %s\n" % failmsg)

    v6 = [p for p in pkts if IPv6 in p]
    mine = [p for p in v6 if p[Ether].src == stack_mac]
    from_stack = [p for p in mine if p[IPv6].src == stack6]
    dad = [p for p in v6 if ICMPv6ND_NS in p and p[IPv6].src == "::" and
           p[ICMPv6ND_NS].tgt == stack6]
    check(dad, "%d DAD NS for %s (from ::) before the stack used it" % (len(dad), stack6),
          "no DAD Neighbor Solicitation for %s (RFC 4862 §5.4: DAD before an address is used)"
          % stack6)
    if dad and from_stack:
        gap = float(from_stack[0].time - dad[0].time)
        check(gap >= 0.9, "first frame from %s %.2f s after its DAD NS (RetransTimer 1 s)" %
              (stack6, gap), "first frame from %s only %.2f s after its DAD NS: the address "
              "was used while tentative (RFC 4862 §5.4, RetransTimer 1 s)" % (stack6, gap))
    # Frames from the shared MAC with a link-local source are the kernel's: sluice has no
    # link-local of its own unless configured, and must not use the kernel's.
    ll = sorted({p[IPv6].src for p in mine if p[IPv6].src.startswith("fe80:")} - {kernel_ll})
    check(not ll, "no link-local source from %s but the kernel's %s" % (stack_mac, kernel_ll),
          "frames from %s with link-local sources %s, which the kernel does not hold (sluice "
          "takes no link-local address unless configured)" % (stack_mac, ", ".join(ll)))
    nas = [p for p in from_stack if ICMPv6ND_NA in p and p[ICMPv6ND_NA].tgt == stack6]
    good = [p for p in nas if p[IPv6].hlim == 255 and p[ICMPv6ND_NA].S == 1 and
            p[ICMPv6ND_NA].R == 0 and ICMPv6NDOptDstLLAddr in p and
            p[ICMPv6NDOptDstLLAddr].lladdr == stack_mac]
    check(good, "%d solicited NA for %s from %s: hop limit 255, S=1, R=0, target link-layer "
          "address %s" % (len(good), stack6, stack6, stack_mac),
          "no well-formed solicited NA for %s from %s (hop limit 255, S=1, R=0, TLLA %s; "
          "RFC 4861 §7.2.4); NAs seen: %s" % (stack6, stack6, stack_mac,
                                              [p.summary() for p in nas[:3]] or "none"))
    # RFC 4861 §7.2.2: hop limit 255; the source link-layer option MUST be in multicast NS
    # (unicast NUD probes SHOULD carry it: not checked).
    ns_out = [p for p in from_stack if ICMPv6ND_NS in p]
    bad_ns = [p for p in ns_out if p[IPv6].hlim != 255 or (
        p[IPv6].dst.startswith("ff") and ICMPv6NDOptSrcLLAddr not in p)]
    check(not bad_ns, "%d NS sent by the stack, all with hop limit 255, the multicast ones "
          "with a source link-layer option" % len(ns_out),
          "NS from the stack without hop limit 255, or multicast without a source link-layer "
          "option (RFC 4861 §7.2.2): %s" % (bad_ns[0].summary() if bad_ns else ""))
    # Fragments from the stack: group by Identification; offset-0 fragment tells the protocol.
    groups = {}
    for p in from_stack:
        if IPv6ExtHdrFragment in p:
            f = p[IPv6ExtHdrFragment]
            groups.setdefault(f.id, []).append(p)
    kinds = {"echo": 0, "udp": 0}
    frag_errs = []
    for ident, fs in groups.items():
        first = [p for p in fs if p[IPv6ExtHdrFragment].offset == 0]
        if not first or len(fs) < 2:
            continue
        for p in fs:
            f = p[IPv6ExtHdrFragment]
            size = 40 + p[IPv6].plen
            if size > 1500:
                frag_errs.append("fragment of %d bytes > MTU 1500" % size)
            if f.m == 1 and (p[IPv6].plen - 8) % 8:
                frag_errs.append("non-final fragment with %d bytes of data (not a multiple "
                                 "of 8)" % (p[IPv6].plen - 8))
        if first[0][IPv6ExtHdrFragment].nh == 58 and ICMPv6EchoReply in first[0]:
            kinds["echo"] += 1
        elif first[0][IPv6ExtHdrFragment].nh == 17:
            kinds["udp"] += 1
    check(kinds["echo"] >= 3, "%d echo replies left the stack in fragments (ping -s 4000)" %
          kinds["echo"], "only %d fragmented echo replies from %s, expected 3 (ping -6 -s 4000"
          " gets its reply in fragments)" % (kinds["echo"], stack6))
    check(kinds["udp"] >= 2, "%d UDP echoes left the stack in fragments (3000 and 8000 "
          "bytes)" % kinds["udp"], "only %d fragmented UDP datagrams from %s, expected 2 "
          "(the 3000- and 8000-byte echoes)" % (kinds["udp"], stack6))
    check(not frag_errs, "every fragment from the stack fits the MTU, data in 8-byte units",
          "bad fragments from the stack: %s" % "; ".join(sorted(set(frag_errs))))
    unr = [p for p in from_stack if ICMPv6DestUnreach in p and p[ICMPv6DestUnreach].code == 4
           and p[IPv6].dst == peer6 and UDPerror in p and p[UDPerror].dport == 9]
    check(unr, "ICMPv6 port unreachable (type 1 code 4) from %s quoting the datagram to port 9"
          % stack6, "no ICMPv6 destination unreachable code 4 from %s quoting the UDP datagram "
          "to port 9 (RFC 4443 §3.1)" % stack6)
    if bad:
        sys.exit(1)


def main():
    if len(sys.argv) < 2:
        die(__doc__)
    m = sys.argv[1]
    if m == "sink":
        sink(int(sys.argv[2]), float(sys.argv[3]))
    elif m == "udp-echo":
        udp_echo(sys.argv[2], int(sys.argv[3]), [int(x) for x in sys.argv[4:]])
    elif m == "udp-refused":
        udp_refused(sys.argv[2], int(sys.argv[3]))
    elif m == "tcp-hello":
        tcp_hello(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif m == "dad-watch":
        dad_watch(sys.argv[2], sys.argv[3], sys.argv[4])
    elif m == "pcap-check":
        pcap_check(*sys.argv[2:7])
    else:
        die("unknown mode " + m)


if __name__ == "__main__":
    main()
