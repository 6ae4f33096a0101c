"""Kernel-side helpers for the shared-address tests (test_shared*.sh), run with
/usr/bin/python3 inside a namespace. Every mode is bounded in time, says what went wrong on
stderr and exits non-zero. Addresses may be IPv4 or IPv6 (a link-local one as fe80::x%IF).

    shared_util.py echo-server PORT SECS      kernel TCP echo server on [::]:PORT (dual
                                              stack), any number of clients; prints
                                              "listening"; ends after SECS
    shared_util.py keeper IP PORT SECS        one connection to an echo server: a numbered
                                              line every 0.2 s, each echo checked; prints
                                              "connected", then "alive N" after each echo;
                                              "dead: ..." and exit 1 on any fault; ends
                                              cleanly ("done") on SIGTERM or after SECS
    shared_util.py bind PORT FAMILY [udp]     try a kernel bind of a TCP (or UDP) socket to
                                              0.0.0.0:PORT (4) or [::]:PORT V6ONLY (6),
                                              no SO_REUSEADDR; prints "free" or "inuse",
                                              anything else is an error (exit 1)
    shared_util.py hold PORT SECS [6]         listen on 0.0.0.0:PORT and [::]:PORT (a kernel
                                              program holding the port; with 6, on [::]
                                              V6ONLY only); prints "holding"
    shared_util.py sink PORT SECS [GOFILE]    accept one connection (dual stack), print
                                              "from ADDR PORT"; if GOFILE, wait (bounded)
                                              until it exists before reading; count the
                                              bytes to EOF and print "received N"
    shared_util.py reset-after PORT SECS GOFILE
                                              accept one connection, print "from ADDR PORT",
                                              once GOFILE exists write to it and expect a
                                              RST within 5 s: prints "reset"
    shared_util.py refused IP PORT            connect with a 5 s timeout: exit 0 on
                                              ConnectionRefusedError, else say what
                                              happened and exit 1
    shared_util.py kconnect IP PORT           one kernel connect() (5 s timeout) with the
                                              kernel's choice of local port: prints
                                              "connected LPORT", or "addrnotavail" when no
                                              local port was free (EADDRNOTAVAIL)
    shared_util.py udp-echo IP PORT N         N datagrams to a UDP echo service, each
                                              checked; "ok N"
    shared_util.py clients IP PORT N          N sequential kernel connections to an echo
                                              server, each one line checked; "ok N"
    shared_util.py arp-count IF IP N          N ARP requests for IP from IF (scapy), count
                                              the replies for each (1 s window each):
                                              prints "replies R1 R2 ..."
    shared_util.py ns-count IF IP N           the same for IPv6 neighbor solicitations
                                              (to IP's solicited-node group): counts NAs
    shared_util.py icmp-err IF SRC DST SPORT KIND [WAIT]
                                              sniff one TCP data segment DST:SPORT -> SRC
                                              on IF (SPORT to:N: one DST -> SRC:N;
                                              WAIT s at most, default 5; "sniffing" once
                                              it starts), then send DST an ICMP error
                                              quoting it from SRC: KIND frag (IPv4 type 3
                                              code 4, next-hop MTU 1280) or ptb (ICMPv6
                                              type 2, MTU 1280); prints "sent SEQ quoting
                                              ..." (the segment's ports, flags, length)
"""
import errno
import ipaddress
import os
import select
import signal
import socket
import sys
import threading
import time


def die(msg):
    sys.stderr.write("shared_util: " + msg + "\n")
    sys.exit(1)


def family_of(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def sockaddr(ip, port):
    """getaddrinfo resolves a scoped link-local (fe80::1%eth0) into a 4-tuple."""
    fam = family_of(ip)
    return fam, socket.getaddrinfo(ip, port, fam, socket.SOCK_STREAM)[0][4]


def echo_server(port, secs):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::", port))
    ls.listen(64)
    print("listening", flush=True)

    def serve(c):
        c.settimeout(secs)
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)
        except OSError:
            pass
        c.close()

    t_end = time.monotonic() + secs
    while time.monotonic() < t_end:
        r, _, _ = select.select([ls], [], [], 0.5)
        if r:
            c, _ = ls.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()


def keeper(ip, port, secs):
    fam, sa = sockaddr(ip, port)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(sa)
    except OSError as e:
        die("keeper: connect to %s port %d: %s" % (ip, port, e))
    print("connected", flush=True)
    state = {"n": 0, "stop": False}
    signal.signal(signal.SIGTERM, lambda *_: state.__setitem__("stop", True))
    t_end = time.monotonic() + secs
    while not state["stop"] and time.monotonic() < t_end:
        n = state["n"] + 1
        line = b"line %d\n" % n
        try:
            s.sendall(line)
            got = b""
            while not got.endswith(b"\n"):
                b = s.recv(100)
                if not b:
                    raise OSError("the server closed the connection")
                got += b
        except (OSError, InterruptedError) as e:
            if state["stop"]:
                break
            print("dead: after %d lines: %s" % (state["n"], e), flush=True)
            sys.exit(1)
        if got != line:
            print("dead: line %d came back as %r" % (n, got), flush=True)
            sys.exit(1)
        state["n"] = n
        print("alive %d" % n, flush=True)
        time.sleep(0.2)
    s.close()
    print("alive %d" % state["n"], flush=True)
    print("done", flush=True)


def try_bind(port, fam, proto="tcp"):
    st = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    if fam == "4":
        s = socket.socket(socket.AF_INET, st)
        addr = ("0.0.0.0", port)
    else:
        s = socket.socket(socket.AF_INET6, st)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        addr = ("::", port)
    try:
        s.bind(addr)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            print("inuse")
            return
        die("bind %s: %s" % (addr, e))
    s.close()
    print("free")


def hold(port, secs, only6=False):
    socks = []
    fams = ((socket.AF_INET, ("0.0.0.0", port)), (socket.AF_INET6, ("::", port)))
    for fam, addr in fams[1:] if only6 else fams:
        s = socket.socket(fam, socket.SOCK_STREAM)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(addr)
        s.listen(1)
        socks.append(s)
    print("holding", flush=True)
    time.sleep(secs)


def sink(port, secs, gofile=None):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    ls.bind(("::", port))
    ls.listen(1)
    print("listening", flush=True)
    ls.settimeout(secs)
    try:
        c, peer = ls.accept()
    except socket.timeout:
        die("sink: no connection within %d s" % secs)
    host = peer[0]
    if host.startswith("::ffff:"):
        host = host[7:]
    print("from %s %d" % (host, peer[1]), flush=True)
    if gofile:
        t_end = time.monotonic() + 10
        while not os.path.exists(gofile):
            if time.monotonic() > t_end:
                die("sink: %s did not appear within 10 s" % gofile)
            time.sleep(0.05)
    c.settimeout(secs)
    n = 0
    try:
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            n += len(b)
    except socket.timeout:
        die("sink: stalled after %d bytes" % n)
    c.close()
    print("received %d" % n, flush=True)


def reset_after(port, secs, gofile):
    """Accept one connection (dual stack), print "from ADDR PORT", wait (bounded) for GOFILE,
    then write to the connection: the other end is gone, so a RST must come back."""
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    ls.bind(("::", port))
    ls.listen(1)
    print("listening", flush=True)
    ls.settimeout(secs)
    try:
        c, peer = ls.accept()
    except socket.timeout:
        die("reset-after: no connection within %d s" % secs)
    host = peer[0][7:] if peer[0].startswith("::ffff:") else peer[0]
    print("from %s %d" % (host, peer[1]), flush=True)
    t_end = time.monotonic() + secs
    while not os.path.exists(gofile):
        if time.monotonic() > t_end:
            die("reset-after: %s did not appear within %d s" % (gofile, secs))
        time.sleep(0.05)
    c.settimeout(0.5)
    t_end = time.monotonic() + 5
    while time.monotonic() < t_end:
        try:
            c.send(b"are you there?\n")
            while True:  # drain what the sender had queued before it vanished
                if not c.recv(1 << 20):
                    die("reset-after: an orderly close (FIN), not a reset")
        except ConnectionResetError:
            print("reset", flush=True)
            return
        except (socket.timeout, BlockingIOError):
            continue
        except OSError as e:
            die("reset-after: %s, not a reset" % e)
    die("reset-after: no reset within 5 s of writing to the dead sender (black-holed?)")


def refused(ip, port):
    fam, sa = sockaddr(ip, port)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5)
    t0 = time.monotonic()
    try:
        s.connect(sa)
    except ConnectionRefusedError:
        print("refused after %.2f s" % (time.monotonic() - t0))
        return
    except socket.timeout:
        die("connect to %s port %d: no answer in 5 s (black-holed, no RST)" % (ip, port))
    except OSError as e:
        die("connect to %s port %d: %s (not a refusal)" % (ip, port, e))
    die("connect to %s port %d succeeded, expected a refusal" % (ip, port))


def kconnect(ip, port):
    fam, sa = sockaddr(ip, port)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(sa)
    except OSError as e:
        if e.errno == errno.EADDRNOTAVAIL:
            print("addrnotavail")
            return
        die("connect to %s port %d: %s" % (ip, port, e))
    print("connected %d" % s.getsockname()[1])
    s.close()


def udp_echo(ip, port, n):
    fam = family_of(ip)
    sa = socket.getaddrinfo(ip, port, fam, socket.SOCK_DGRAM)[0][4]
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2)
    for i in range(n):
        d = b"datagram %d " % i + os.urandom(100)
        s.sendto(d, sa)
        try:
            got, frm = s.recvfrom(2048)
        except socket.timeout:
            die("udp-echo: no answer to datagram %d of %d from %s port %d in 2 s" % (i + 1, n, ip, port))
        if got != d:
            die("udp-echo: datagram %d came back as %d other bytes" % (i + 1, len(got)))
    print("ok %d" % n, flush=True)


def clients(ip, port, n):
    for i in range(n):
        fam, sa = sockaddr(ip, port)
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(sa)
            line = b"kernel client %d\n" % i
            s.sendall(line)
            got = b""
            while not got.endswith(b"\n"):
                b = s.recv(100)
                if not b:
                    raise OSError("closed early")
                got += b
            if got != line:
                raise OSError("echo %r" % got)
            s.close()
        except OSError as e:
            die("kernel client %d of %d to %s port %d: %s" % (i + 1, n, ip, port, e))
        time.sleep(0.05)
    print("ok %d" % n, flush=True)


def scapy():
    try:
        import scapy.all as sc
    except ImportError:
        die("python3-scapy missing (make deps installs it)")
    sc.conf.verb = 0
    return sc


def arp_count(iface, ip, n):
    sc = scapy()
    mac = sc.get_if_hwaddr(iface)
    src = [a for a in os.popen("ip -4 -o addr show dev %s" % iface).read().split() if "/" in a][0]
    src = src.split("/")[0]
    counts = []
    for i in range(n):
        sn = sc.AsyncSniffer(iface=iface, filter="arp", store=True)
        sn.start()
        time.sleep(0.2)
        sc.sendp(sc.Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") /
                 sc.ARP(op=1, hwsrc=mac, psrc=src, pdst=ip), iface=iface)
        time.sleep(1.0)
        pkts = sn.stop() or []
        counts.append(sum(1 for p in pkts if sc.ARP in p and p[sc.ARP].op == 2 and
                          p[sc.ARP].psrc == ip and p[sc.ARP].pdst == src))
    print("replies " + " ".join(map(str, counts)), flush=True)


def ns_count(iface, ip, n):
    sc = scapy()
    from scapy.layers import inet6 as i6
    mac = sc.get_if_hwaddr(iface)
    tgt = ipaddress.IPv6Address(ip)
    sol = ipaddress.IPv6Address(bytes.fromhex("ff0200000000000000000001ff") + tgt.packed[13:])
    gmac = "33:33:" + ":".join("%02x" % b for b in sol.packed[12:])
    src = None
    for line in os.popen("ip -6 -o addr show dev %s scope global" % iface).read().splitlines():
        src = line.split()[3].split("/")[0]
        break
    if not src:
        die("ns-count: no global IPv6 address on %s" % iface)
    counts = []
    for i in range(n):
        sn = sc.AsyncSniffer(iface=iface, filter="icmp6", store=True)
        sn.start()
        time.sleep(0.2)
        sc.sendp(sc.Ether(src=mac, dst=gmac) / sc.IPv6(src=src, dst=str(sol), hlim=255) /
                 i6.ICMPv6ND_NS(tgt=str(tgt)) / i6.ICMPv6NDOptSrcLLAddr(lladdr=mac), iface=iface)
        time.sleep(1.0)
        pkts = sn.stop() or []
        counts.append(sum(1 for p in pkts if i6.ICMPv6ND_NA in p and
                          ipaddress.IPv6Address(p[i6.ICMPv6ND_NA].tgt) == tgt and
                          p[sc.IPv6].dst == src))
    print("replies " + " ".join(map(str, counts)), flush=True)


def icmp_err(iface, src, dst, sport, kind, wait=5):
    sc = scapy()
    v6 = kind == "ptb"
    L3 = sc.IPv6 if v6 else sc.IP

    # SPORT N: a data segment from DST port N; to:N a data segment from DST to SRC port N.
    # Data only: a SYN-ACK, pure ACK or RST may belong to no connection the sender still has
    # (a reset for a stale segment), and the error would then concern nothing.
    to = sport.startswith("to:")
    port = int(sport[3:] if to else sport)

    def paylen_of(p):
        # From the IP lengths: a short frame's Ethernet padding is no payload.
        t = p[sc.TCP]
        ip = p[L3]
        l3 = ip.plen if v6 else ip.len - ip.ihl * 4
        return l3 - t.dataofs * 4

    def match(p):
        if not (L3 in p and sc.TCP in p and p[L3].src == dst and p[L3].dst == src):
            return False
        if paylen_of(p) <= 0:
            return False
        return p[sc.TCP].dport == port if to else p[sc.TCP].sport == port

    print("sniffing", flush=True)
    pkts = sc.sniff(iface=iface, filter="tcp", lfilter=match, count=1, timeout=wait)
    if not pkts:
        die("icmp-err: no TCP segment %s %s port %d within %d s" %
            ("to" if to else "from", src if to else dst, port, wait))
    p = pkts[0]
    seg = p[L3]
    tcp = seg[sc.TCP]
    paylen = paylen_of(p)
    # Quote the segment's IP header and TCP header with the sequence number of the byte
    # after it (the sender's snd_nxt or below: inside the window RFC 5927 section 4.1 has a
    # receiver check), no payload.
    q = seg.copy()
    q[sc.TCP].seq = (tcp.seq + paylen) & 0xFFFFFFFF
    q[sc.TCP].remove_payload()
    raw = bytes(q)
    if v6:
        quoted = raw[:40 + 8 + 12]  # the IPv6 header and the TCP header's first 20 bytes
        err = (sc.IPv6(src=src, dst=dst) / sc.ICMPv6PacketTooBig(mtu=1280) / sc.Raw(quoted))
    else:
        ihl = raw[0] & 0xF
        quoted = raw[:ihl * 4 + 8]  # RFC 792: the IP header and 64 bits of the datagram
        err = sc.IP(src=src, dst=dst) / sc.ICMP(type=3, code=4, nexthopmtu=1280) / sc.Raw(quoted)
    eth = sc.Ether(src=p[sc.Ether].dst, dst=p[sc.Ether].src)
    sc.sendp(eth / err, iface=iface)
    print("sent %d quoting %s port %d -> %s port %d flags %s len %d" %
          (q[sc.TCP].seq, dst, tcp.sport, src, tcp.dport, tcp.flags, paylen), flush=True)


def main():
    a = sys.argv[1:]
    if not a:
        die("usage: see the docstring")
    cmd = a[0]
    if cmd == "echo-server":
        echo_server(int(a[1]), int(a[2]))
    elif cmd == "keeper":
        keeper(a[1], int(a[2]), int(a[3]))
    elif cmd == "bind":
        try_bind(int(a[1]), a[2], a[3] if len(a) > 3 else "tcp")
    elif cmd == "hold":
        hold(int(a[1]), int(a[2]), len(a) > 3 and a[3] == "6")
    elif cmd == "sink":
        sink(int(a[1]), int(a[2]), a[3] if len(a) > 3 else None)
    elif cmd == "reset-after":
        reset_after(int(a[1]), int(a[2]), a[3])
    elif cmd == "refused":
        refused(a[1], int(a[2]))
    elif cmd == "kconnect":
        kconnect(a[1], int(a[2]))
    elif cmd == "udp-echo":
        udp_echo(a[1], int(a[2]), int(a[3]))
    elif cmd == "clients":
        clients(a[1], int(a[2]), int(a[3]))
    elif cmd == "arp-count":
        arp_count(a[1], a[2], int(a[3]))
    elif cmd == "ns-count":
        ns_count(a[1], a[2], int(a[3]))
    elif cmd == "icmp-err":
        icmp_err(a[1], a[2], a[3], a[4], a[5], int(a[6]) if len(a) > 6 else 5)
    else:
        die("unknown mode %s" % cmd)


if __name__ == "__main__":
    main()
