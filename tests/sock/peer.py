#!/usr/bin/env python3
"""The kernel peer of the socket-semantics suite (tests/sock/semantics.c). Stdlib only.

Every TCP service listens on the wildcard (IPv4 and IPv6 on one dual-stack socket when the
host has IPv6, else IPv4 only); the UDP echo likewise. Ports, from BASE (default 7000):

  BASE+0  TCP echo: echoes every byte; at the client's FIN it sends FIN back (shutdown SHUT_WR)
  BASE+1  TCP accept and close at once (an orderly FIN, nothing read, nothing sent)
  BASE+2  TCP "send N then FIN": reads one line "N\\n", sends N bytes (byte i is i % 251),
          then shutdown(SHUT_WR), then reads until the client closes ("N MS\\n": waits MS ms
          before sending)
  BASE+3  TCP accept and reset: SO_LINGER {1, 0} then close, so the client gets an RST
  BASE+4  UDP echo: each datagram goes back to its sender, same bytes (0 bytes included)
  BASE+5  nothing (TCP and UDP): connections are refused, datagrams get port unreachable
  BASE+6  TCP connect-back control: reads one line "ADDR PORT\\n", connects to ADDR:PORT
          (IPv4 or IPv6 by the form of ADDR), sends "hello\\n" on that connection, answers
          "ok\\n" (or "err ERRNO\\n") on the control connection, and keeps the connect-back
          connection open until the control connection ends (or 30 s pass). With a third
          field, "ADDR PORT MS\\n", it answers "later\\n" at once and connects MS ms later.
  BASE+7  TCP observer: sends "hi\\n", then reads until end of stream or error, and records
          how the stream ended, by the client's address and port: "eof N CRC" (an orderly
          FIN after N bytes whose zlib.crc32 is CRC) or "reset N CRC" (ECONNRESET)
  BASE+8  TCP observer query: reads "ADDR PORT\\n", answers the observer's record of that
          client ("pending" if the stream has not ended within 5 s)
  BASE+9  TCP black hole: a listener whose accept queue is full (listen(0) and one
          connection from this host it never accepts), so Linux drops every SYN to it: a
          connect there stays in SYN-SENT
  BASE+10 UDP reflector: each datagram is answered twice, first from port BASE+11, then
          from BASE+10 itself (same bytes)
  BASE+12 TCP backlog clients: reads one line "ADDR PORT N\n" (N at most 10), starts N
          connections to ADDR:PORT at once, each from its own thread, answers "started\n",
          and on each connection K (0..N-1): sends at once the 64-byte message backlog_msg(K)
          ("conn K " then letters, then "\n"), reads its echo, checks it, shuts down its
          sending side and reads until the server's FIN. Every connection must be done within
          BACKLOG_LIMIT s of the request. Then one line per connection, "K RESULT\n", then
          "done\n". RESULT is "ok", or what went wrong and at which stage (connect, send,
          echo, eof): "reset-STAGE" (ECONNRESET), "epipe-STAGE" (EPIPE), "refused-STAGE",
          "timeout-STAGE", "eof-STAGE" (the stream ended early), "mismatch" (the echo
          differs), "extra" (bytes after the echo), "error-ERRNO-STAGE", "hung"
  BASE+14 TCP drip: sends "ab", 0.3 s later "cdefg", then reads until the client's FIN
  BASE+13 UDP TTL: answers each datagram with "ttl N tos M", the TTL (IPv4) or hop limit
          (IPv6) and the TOS byte or traffic class it arrived with (IP_RECVTTL,
          IPV6_RECVHOPLIMIT, IP_RECVTOS, IPV6_RECVTCLASS)
  BASE+15 TCP IP-header watch: reads one line "ADDR PORT KIND\n" (KIND "data": a segment
          carrying data; "synack": a SYN-ACK), opens a packet socket, answers "watching\n",
          then waits (at most 5 s) for the first such TCP segment arriving from ADDR:PORT and
          answers "ttl N tos M" (its TTL / hop limit and TOS byte / traffic class) or "none"
  BASE+16 TCP data then reset: sends "data\n", 0.2 s later closes with SO_LINGER {1, 0} (an
          RST behind the data), reading nothing
  BASE+17 TCP half-closed observer: sends "hi\n" and at once shuts down its sending side
          (shutdown SHUT_WR: the client reads the end of the stream), then reads on and
          records how the client's stream ended, as BASE+7 does (BASE+8 answers the record)

Runs for at most --lifetime seconds (default 600), then exits by itself. Prints "ready" on
stdout once every socket is bound and listening.
"""
import argparse
import os
import socket
import struct
import sys
import threading
import time
import zlib

IDLE = 30  # no connection is kept longer than this without traffic


def listener(port, family):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", port))
    else:
        s.bind(("0.0.0.0", port))
    s.listen(64)
    return s


def serve(lsock, handler):
    def loop():
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=guard, args=(handler, c), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def guard(handler, c):
    try:
        c.settimeout(IDLE)
        handler(c)
    except OSError:
        pass
    finally:
        try:
            c.close()
        except OSError:
            pass


def echo(c):
    while True:
        b = c.recv(65536)
        if not b:
            c.shutdown(socket.SHUT_WR)
            return
        c.sendall(b)


def drip(c):
    c.sendall(b"ab")
    time.sleep(0.3)
    c.sendall(b"cdefg")
    while c.recv(65536):
        pass


def close_at_once(c):
    pass  # guard closes it


def readline(c, limit=200):
    buf = b""
    while not buf.endswith(b"\n") and len(buf) < limit:
        b = c.recv(1)
        if not b:
            break
        buf += b
    return buf.decode(errors="replace").strip()


def send_n(c):
    parts = (readline(c) or "0").split()
    n = int(parts[0])
    if len(parts) > 1:
        time.sleep(int(parts[1]) / 1000.0)
    data = bytes(i % 251 for i in range(n))
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536):
        pass


def reset(c):
    # struct linger {int l_onoff; int l_linger;} = {1, 0}: close sends an RST (socket(7)).
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def data_reset(c):
    c.sendall(b"data\n")
    time.sleep(0.2)
    reset(c)  # guard closes it: the RST


def connect_back(c):
    line = readline(c)
    try:
        parts = line.split()
        addr, port = parts[0], int(parts[1])
        delay = int(parts[2]) / 1000.0 if len(parts) > 2 else None
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        b = socket.socket(fam, socket.SOCK_STREAM)
        b.settimeout(10)
        if delay is not None:
            # Answer first, connect later: the client is blocked (accept, epoll_wait...)
            # when the connection arrives.
            c.sendall(b"later\n")
            time.sleep(delay)
        b.connect((addr, port))
    except (OSError, ValueError, IndexError) as e:
        if delay is None:
            c.sendall(("err %s\n" % getattr(e, "errno", e)).encode())
        return
    try:
        b.sendall(b"hello\n")
        if delay is None:
            c.sendall(b"ok\n")
        # Hold the connection until the control connection ends.
        try:
            while c.recv(100):
                pass
        except OSError:
            pass
    finally:
        b.close()


BACKLOG_LIMIT = 13  # s: tests/sock/semantics.c's tcp_backlog_overflow waits 14 s at most
BACKLOG_MSG = 64


def backlog_msg(k):
    head = b"conn %d " % k
    body = bytes(ord("a") + (i + 7 * k) % 26 for i in range(len(head), BACKLOG_MSG - 1))
    return head + body + b"\n"


def backlog_client(addr, port, k, deadline, results):
    stage = "connect"
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)

    def left():
        t = deadline - time.monotonic()
        if t <= 0:
            raise socket.timeout()
        s.settimeout(t)

    try:
        left()
        s.connect((addr, port))
        stage = "send"
        msg = backlog_msg(k)
        s.sendall(msg)
        stage = "echo"
        got = b""
        while len(got) < len(msg):
            left()
            b = s.recv(len(msg) - len(got))
            if not b:
                raise EOFError
            got += b
        if got != msg:
            results[k] = "mismatch"
            return
        stage = "eof"
        s.shutdown(socket.SHUT_WR)
        left()
        if s.recv(100):
            results[k] = "extra"
            return
        results[k] = "ok"
    except ConnectionResetError:
        results[k] = "reset-" + stage
    except BrokenPipeError:
        results[k] = "epipe-" + stage
    except ConnectionRefusedError:
        results[k] = "refused-" + stage
    except socket.timeout:
        results[k] = "timeout-" + stage
    except EOFError:
        results[k] = "eof-" + stage
    except OSError as e:
        results[k] = "error-%s-%s" % (e.errno, stage)
    finally:
        s.close()


def backlog_clients(c):
    try:
        parts = readline(c).split()
        addr, port, n = parts[0], int(parts[1]), min(int(parts[2]), 10)
    except (ValueError, IndexError):
        return
    deadline = time.monotonic() + BACKLOG_LIMIT
    results = [None] * n
    threads = [threading.Thread(target=backlog_client, args=(addr, port, k, deadline, results),
                                daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    c.sendall(b"started\n")
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 1)
    rep = "".join("%d %s\n" % (k, r or "hung") for k, r in enumerate(results))
    c.sendall((rep + "done\n").encode())


OBS = {}
OBS_LOCK = threading.Lock()


def client_key(addr, port):
    if addr.startswith("::ffff:"):
        addr = addr[7:]
    return "%s %d" % (addr, port)


def observe(c, half_close=False):
    key = client_key(*c.getpeername()[:2])
    n, crc, how = 0, 0, "eof"
    try:
        c.sendall(b"hi\n")
        if half_close:
            c.shutdown(socket.SHUT_WR)
        while True:
            b = c.recv(65536)
            if not b:
                break
            n += len(b)
            crc = zlib.crc32(b, crc)
    except ConnectionResetError:
        how = "reset"
    except OSError as e:
        how = "error-%s" % e.errno
    with OBS_LOCK:
        OBS[key] = "%s %d %d" % (how, n, crc)


def observe_half_closed(c):
    observe(c, half_close=True)


def query(c):
    parts = readline(c).split()
    key = client_key(parts[0], int(parts[1])) if len(parts) == 2 else "?"
    for _ in range(250):
        with OBS_LOCK:
            r = OBS.pop(key, None)  # answered once: a later connection may reuse the port
        if r:
            break
        time.sleep(0.02)
    c.sendall(((r or "pending") + "\n").encode())


def black_hole(port, fam):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", port))
    else:
        s.bind(("0.0.0.0", port))
    s.listen(0)
    fill = socket.create_connection(("127.0.0.1", port), timeout=5)
    # The queue is full now: a further SYN is dropped. Check it, once.
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setblocking(False)
    probe.connect_ex(("127.0.0.1", port))
    time.sleep(0.3)
    err = probe.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    try:
        probe.getpeername()
        sys.exit("peer.py: the black hole on port %d accepted a connection" % port)
    except OSError:
        pass
    if err:
        sys.exit("peer.py: the black hole on port %d answered a SYN (errno %d)" % (port, err))
    probe.close()
    return s, fill


def udp_reflector(u, other):
    while True:
        try:
            data, addr = u.recvfrom(65536)
            other.sendto(data, addr)
            u.sendto(data, addr)
        except OSError:
            pass


def udp_socket(fam, port):
    u = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        u.bind(("::", port))
    else:
        u.bind(("0.0.0.0", port))
    return u


def udp_echo(u):
    while True:
        try:
            data, addr = u.recvfrom(65536)
            u.sendto(data, addr)
        except OSError:
            pass


def udp_ttl(u):
    """Answers each datagram with "ttl N tos M": the TTL (IPv4, v4-mapped on this dual-stack
    socket) or hop limit (IPv6), and the TOS byte or traffic class, it arrived with."""
    ip_recvttl = getattr(socket, "IP_RECVTTL", 12)
    ip_ttl = getattr(socket, "IP_TTL", 2)
    ip_recvtos = getattr(socket, "IP_RECVTOS", 13)
    ip_tos = getattr(socket, "IP_TOS", 1)
    v6_recvhops = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
    v6_hops = getattr(socket, "IPV6_HOPLIMIT", 52)
    v6_recvtclass = getattr(socket, "IPV6_RECVTCLASS", 66)
    v6_tclass = getattr(socket, "IPV6_TCLASS", 67)
    u.setsockopt(socket.IPPROTO_IP, ip_recvttl, 1)
    u.setsockopt(socket.IPPROTO_IP, ip_recvtos, 1)
    if u.family == socket.AF_INET6:
        u.setsockopt(socket.IPPROTO_IPV6, v6_recvhops, 1)
        u.setsockopt(socket.IPPROTO_IPV6, v6_recvtclass, 1)
    while True:
        try:
            _, anc, _, addr = u.recvmsg(2048, socket.CMSG_SPACE(4) * 4)
            ttl = tos = -1
            for level, typ, data in anc:
                # IP_TOS comes as one byte, the others as an int.
                v = data[0] if len(data) == 1 else int.from_bytes(data[:4], sys.byteorder)
                if (level, typ) in ((socket.IPPROTO_IP, ip_ttl),
                                    (socket.IPPROTO_IPV6, v6_hops)):
                    ttl = v
                elif (level, typ) in ((socket.IPPROTO_IP, ip_tos),
                                      (socket.IPPROTO_IPV6, v6_tclass)):
                    tos = v
            u.sendto(b"ttl %d tos %d" % (ttl, tos), addr)
        except OSError:
            pass


def iphdr_watch(c):
    """BASE+15: the TTL and TOS of the first TCP segment of a kind from ADDR:PORT, read off
    the wire with a packet socket (TCP gives a receiver no ancillary data for them)."""
    parts = readline(c).split()
    try:
        addr, port, kind = parts[0], int(parts[1]), parts[2]
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        want = socket.inet_pton(fam, addr)
        ps = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    except (OSError, ValueError, IndexError) as e:
        c.sendall(("err %s\n" % e).encode())
        return
    answer = "none"
    try:
        c.sendall(b"watching\n")
        deadline = time.time() + 5
        while time.time() < deadline:
            ps.settimeout(max(0.01, deadline - time.time()))
            try:
                f, meta = ps.recvfrom(65536)
            except socket.timeout:
                break
            if meta[2] == socket.PACKET_OUTGOING or len(f) < 14:
                continue
            etype, ip = struct.unpack("!H", f[12:14])[0], f[14:]
            if etype == 0x0800 and fam == socket.AF_INET and len(ip) >= 20:
                ihl = (ip[0] & 15) * 4
                if ip[9] != 6 or ip[12:16] != want:
                    continue
                ttl, tos, l4, l4len = ip[8], ip[1], ip[ihl:], struct.unpack("!H", ip[2:4])[0] - ihl
            elif etype == 0x86DD and fam == socket.AF_INET6 and len(ip) >= 40:
                if ip[6] != 6 or ip[8:24] != want:  # no extension headers from our stacks
                    continue
                ttl, tos = ip[7], (ip[0] & 15) << 4 | ip[1] >> 4
                l4, l4len = ip[40:], struct.unpack("!H", ip[4:6])[0]
            else:
                continue
            if len(l4) < 20 or struct.unpack("!H", l4[0:2])[0] != port:
                continue
            flags, doff = l4[13], (l4[12] >> 4) * 4
            synack = flags & 0x12 == 0x12
            if (kind == "synack" and synack) or (kind == "data" and l4len > doff and not synack):
                answer = "ttl %d tos %d" % (ttl, tos)
                break
    except OSError as e:
        answer = "err %s" % e
    finally:
        ps.close()
    try:
        c.sendall((answer + "\n").encode())
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=int, default=7000)
    ap.add_argument("--lifetime", type=float, default=600)
    a = ap.parse_args()
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
        fam = socket.AF_INET6
    except OSError:
        fam = socket.AF_INET
    for off, h in ((0, echo), (1, close_at_once), (2, send_n), (3, reset), (6, connect_back),
                   (7, observe), (8, query), (12, backlog_clients), (14, drip),
                   (15, iphdr_watch), (16, data_reset), (17, observe_half_closed)):
        serve(listener(a.base + off, fam), h)
    hole = black_hole(a.base + 9, fam)  # noqa: F841 (kept open for the lifetime)
    u = udp_socket(fam, a.base + 4)
    threading.Thread(target=udp_echo, args=(u,), daemon=True).start()
    t = udp_socket(fam, a.base + 13)
    threading.Thread(target=udp_ttl, args=(t,), daemon=True).start()
    r, r2 = udp_socket(fam, a.base + 10), udp_socket(fam, a.base + 11)
    threading.Thread(target=udp_reflector, args=(r, r2), daemon=True).start()
    print("ready", flush=True)
    time.sleep(a.lifetime)
    os._exit(0)


if __name__ == "__main__":
    main()
