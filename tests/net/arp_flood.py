"""Spoofed ARP requests for the stack's address, from the peer namespace (RFC 826 merge rules
under attack, tests/net/test_arp_flood.sh):

    arp_flood.py flood IFACE STACK_IP PREFIX16 COUNT SECONDS
        COUNT requests, each from its own random on-link sender (PREFIX16.X.Y, X in 1..254)
        with a random unicast MAC (Ethernet source and ARP sender alike), broadcast, paced
        over about SECONDS and never longer than 2 * SECONDS + 5; prints "sent N in T s".
    arp_flood.py echo IP PORT SECONDS PERIOD
        UDP echo and TCP echo to IP:PORT every PERIOD seconds for SECONDS: one UDP datagram
        (3 tries of 0.5 s), one exchange on a TCP connection held open throughout, and one
        on a fresh connection. Prints "udp A/B tcp C/D fresh E/F" and exits non-zero when any
        exchange failed.
"""
import os
import random
import socket
import sys
import time


def flood(iface, stack_ip, prefix16, count, seconds):
    from scapy.all import ARP, Ether, conf, raw
    conf.verb = 0
    rnd = random.Random(os.getpid())
    frames = []
    seen = set()
    while len(frames) < count:
        ip = "%s.%d.%d" % (prefix16, rnd.randint(1, 254), rnd.randint(1, 254))
        if ip in seen:
            continue
        seen.add(ip)
        mac = "%02x:%02x:%02x:%02x:%02x:%02x" % (
            (rnd.randint(0, 255) & 0xfc) | 0x02, *(rnd.randint(0, 255) for _ in range(5)))
        frames.append(raw(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") /
                          ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00",
                              pdst=stack_ip)))
    s = conf.L2socket(iface=iface)
    t0 = time.monotonic()
    deadline = t0 + 2 * seconds + 5
    sent = 0
    chunk = max(1, count // max(1, int(seconds * 100)))  # about 100 bursts a second
    while sent < count and time.monotonic() < deadline:
        for f in frames[sent:sent + chunk]:
            s.send(f)
        sent = min(count, sent + chunk)
        due = t0 + seconds * sent / count
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    s.close()
    print("sent %d in %.1f s" % (sent, time.monotonic() - t0))
    return 0 if sent == count else 1


def udp_once(ip, port, payload):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        for _ in range(3):
            s.sendto(payload, (ip, port))
            try:
                while True:
                    got, _ = s.recvfrom(2048)
                    if got == payload:
                        return True
            except socket.timeout:
                continue
        return False
    finally:
        s.close()


def tcp_exchange(c, payload):
    c.sendall(payload)
    got = b""
    while len(got) < len(payload):
        b = c.recv(len(payload) - len(got))
        if not b:
            return False
        got += b
    return got == payload


def echo(ip, port, seconds, period):
    port = int(port)
    end = time.monotonic() + seconds
    held = socket.create_connection((ip, port), timeout=5)
    held.settimeout(3)
    n = [0, 0, 0]
    ok = [0, 0, 0]
    errs = []
    i = 0
    while time.monotonic() < end:
        i += 1
        data = b"probe %d " % i + os.urandom(32)
        n[0] += 1
        if udp_once(ip, port, data):
            ok[0] += 1
        else:
            errs.append("udp %d" % i)
        n[1] += 1
        try:
            if tcp_exchange(held, data):
                ok[1] += 1
            else:
                errs.append("held tcp %d: wrong echo" % i)
        except OSError as e:
            errs.append("held tcp %d: %s" % (i, e))
        n[2] += 1
        try:
            with socket.create_connection((ip, port), timeout=3) as c:
                c.settimeout(3)
                if tcp_exchange(c, data):
                    ok[2] += 1
                else:
                    errs.append("fresh tcp %d: wrong echo" % i)
        except OSError as e:
            errs.append("fresh tcp %d: %s" % (i, e))
        time.sleep(period)
    held.close()
    print("udp %d/%d tcp %d/%d fresh %d/%d" % (ok[0], n[0], ok[1], n[1], ok[2], n[2]))
    if errs:
        print("failures: " + "; ".join(errs[:10]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "flood":
        sys.exit(flood(args[0], args[1], args[2], int(args[3]), float(args[4])))
    if mode == "echo":
        sys.exit(echo(args[0], args[1], float(args[2]), float(args[3])))
    sys.exit("unknown mode " + mode)
