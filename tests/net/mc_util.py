#!/usr/bin/python3
"""A memcached text-protocol client for tests/net/test_exec_memcached.sh (kernel sockets).

    mc_util.py wait HOST SECS               connect (retrying while refused), then "version"
    mc_util.py setget HOST KEY VALUE SECS   set KEY, get it back
    mc_util.py big HOST FILE OUT SECS       set "big" to FILE's bytes, get it, write it to OUT
    mc_util.py incr HOST SECS               set ctr 10, incr 5 -> 15, decr 3 -> 12, get -> 12
    mc_util.py load HOST ID PAIRS START SECS
        PAIRS set/get pairs on keys c<ID>:<i>, every reply checked; connects first, starts at
        the wall-clock time START (so that several clients begin together) and gives up SECS
        after START
    mc_util.py stats HOST HOLD SECS          opens HOLD more connections (each answered a
        "version", so the server has accepted it), then prints "stats" as NAME=VALUE lines
    mc_util.py udp HOST PORT SECS            set and get over memcached's UDP protocol

Every wait is bounded by SECS (a deadline for the whole command). On success the last line of
stdout is "replies N" (load) or "ok ..."; exit 0. On a wrong reply: exit 1; on the deadline:
exit 2; on a closed or refused connection: exit 3. The message, on stdout, always ends with
"replies N of M" for load, so the caller can add up what the server did answer.
"""
import socket
import struct
import sys
import time

PORT = 11211


class Timeout(Exception):
    pass


class Conn:
    def __init__(self, host, deadline, port=PORT):
        self.deadline = deadline
        self.buf = b""
        try:
            self.s = socket.create_connection((host, port), timeout=self.left())
        except socket.timeout:
            raise Timeout()
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def left(self):
        t = self.deadline - time.monotonic()
        if t <= 0:
            raise Timeout()
        return t

    def send(self, data):
        self.s.settimeout(self.left())
        try:
            self.s.sendall(data)
        except socket.timeout:
            raise Timeout()

    def fill(self):
        self.s.settimeout(self.left())
        try:
            d = self.s.recv(1 << 20)
        except socket.timeout:
            raise Timeout()
        if not d:
            raise ConnectionError("server closed the connection (had %r)" % self.buf[:100])
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def expect(self, what, want):
        got = self.line()
        if got != want:
            raise ValueError("%s: got %r, want %r" % (what, got[:200], want))

    def set(self, key, value):
        self.send(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value))
        self.expect(b"set " + key, b"STORED")

    def get(self, key):
        """The value, or None for a miss."""
        self.send(b"get %s\r\n" % key)
        l = self.line()
        if l == b"END":
            return None
        p = l.split()
        if len(p) != 4 or p[0] != b"VALUE" or p[1] != key:
            raise ValueError("get %s: got %r, want 'VALUE %s 0 <len>'" % (key.decode(), l[:200], key.decode()))
        v = self.exact(int(p[3]))
        if self.exact(2) != b"\r\n":
            raise ValueError("get %s: value not followed by CRLF" % key.decode())
        self.expect(b"get " + key, b"END")
        return v

    def version(self):
        self.send(b"version\r\n")
        l = self.line()
        if not l.startswith(b"VERSION "):
            raise ValueError("version: got %r" % l[:200])
        return l.decode()

    def stats(self):
        self.send(b"stats\r\n")
        d = {}
        while True:
            l = self.line()
            if l == b"END":
                return d
            p = l.decode().split(" ", 2)
            if p[0] != "STAT" or len(p) != 3:
                raise ValueError("stats: got %r" % l[:200])
            d[p[1]] = p[2]


def cmd_wait(host, secs):
    t0 = time.monotonic()
    deadline = t0 + float(secs)
    last = None
    while True:
        try:
            c = Conn(host, deadline)
            break
        except Timeout:
            print("no connection within %s s (last: %s)" % (secs, last))
            sys.exit(2)
        except OSError as e:
            last = e
            if time.monotonic() + 0.1 >= deadline:
                print("no connection within %s s (last: %s)" % (secs, e))
                sys.exit(2)
            time.sleep(0.1)
    tc = time.monotonic() - t0
    try:
        v = c.version()
    except Timeout:
        print("connected after %.1f s, but no reply to 'version' within %s s" % (tc, secs))
        sys.exit(2)
    print("ok %s (connected after %.1f s, answered after %.1f s)" % (v, tc, time.monotonic() - t0))


def cmd_setget(host, key, value, secs):
    c = Conn(host, time.monotonic() + float(secs))
    key, value = key.encode(), value.encode()
    c.set(key, value)
    got = c.get(key)
    if got != value:
        raise ValueError("get %s: got %r, want %r" % (key.decode(), got, value))
    print("ok set/get %s" % key.decode())


def cmd_big(host, path, out, secs):
    data = open(path, "rb").read()
    c = Conn(host, time.monotonic() + float(secs))
    c.set(b"big", data)
    got = c.get(b"big")
    if got is None:
        raise ValueError("get big: a miss after STORED")
    with open(out, "wb") as f:
        f.write(got)
    print("ok big: %d bytes stored, %d read back" % (len(data), len(got)))


def cmd_incr(host, secs):
    c = Conn(host, time.monotonic() + float(secs))
    c.set(b"ctr", b"10")
    c.send(b"incr ctr 5\r\n")
    c.expect(b"incr ctr 5", b"15")
    c.send(b"decr ctr 3\r\n")
    c.expect(b"decr ctr 3", b"12")
    got = c.get(b"ctr")
    if got != b"12":
        raise ValueError("get ctr: got %r, want b'12'" % got)
    print("ok incr/decr: 10 +5 -> 15 -3 -> 12")


def value_of(cid, i):
    v = b"v%d-%d-" % (cid, i)
    return v + b"x" * (i % 97)


def cmd_load(host, cid, pairs, start, secs):
    cid, pairs, start, secs = int(cid), int(pairs), float(start), float(secs)
    want = 2 * pairs
    replies = 0
    # The deadline counts from START (wall clock), converted to the monotonic clock.
    deadline = time.monotonic() + (start - time.time()) + secs
    try:
        c = Conn(host, deadline)
        c.version()
        d = start - time.time()
        if d > 0:
            time.sleep(d)
        for i in range(pairs):
            k = b"c%d:%d" % (cid, i)
            v = value_of(cid, i)
            c.set(k, v)
            replies += 1
            got = c.get(k)
            if got != v:
                raise ValueError("get %s: got %r, want %r" % (k.decode(), None if got is None else got[:100], v[:100]))
            replies += 1
    except Timeout:
        print("client %d: timed out after %g s, replies %d of %d" % (cid, secs, replies, want))
        sys.exit(2)
    except (ConnectionError, OSError) as e:
        print("client %d: %s, replies %d of %d" % (cid, e, replies, want))
        sys.exit(3)
    except ValueError as e:
        print("client %d: wrong reply: %s, replies %d of %d" % (cid, e, replies, want))
        sys.exit(1)
    print("replies %d" % replies)


def cmd_stats(host, hold, secs):
    deadline = time.monotonic() + float(secs)
    held = []
    for _ in range(int(hold)):
        h = Conn(host, deadline)
        h.version()
        held.append(h)
    c = Conn(host, deadline)
    for k, v in sorted(c.stats().items()):
        print("%s=%s" % (k, v))


def cmd_udp(host, port, secs):
    port = int(port)
    deadline = time.monotonic() + float(secs)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))

    def ask(rid, req):
        # The UDP frame header: request id, sequence 0, 1 datagram, reserved.
        s.send(struct.pack("!HHHH", rid, 0, 1, 0) + req)
        while True:
            t = deadline - time.monotonic()
            if t <= 0:
                raise Timeout()
            s.settimeout(t)
            try:
                d = s.recv(65536)
            except socket.timeout:
                raise Timeout()
            r, seq, total, _ = struct.unpack("!HHHH", d[:8])
            if r == rid:
                if (seq, total) != (0, 1):
                    raise ValueError("reply to %r in %d datagrams" % (req, total))
                return d[8:]

    got = ask(1, b"set udpkey 0 0 9\r\nover-udp!\r\n")
    if got != b"STORED\r\n":
        raise ValueError("UDP set: got %r, want b'STORED\\r\\n'" % got)
    got = ask(2, b"get udpkey\r\n")
    want = b"VALUE udpkey 0 9\r\nover-udp!\r\nEND\r\n"
    if got != want:
        raise ValueError("UDP get: got %r, want %r" % (got, want))
    print("ok UDP set/get")


def main():
    cmds = {"wait": cmd_wait, "setget": cmd_setget, "big": cmd_big, "incr": cmd_incr,
            "load": cmd_load, "stats": cmd_stats, "udp": cmd_udp}
    f = cmds[sys.argv[1]]
    try:
        f(*sys.argv[2:])
    except Timeout:
        print("%s: no complete reply within %s s" % (sys.argv[1], sys.argv[-1]))
        sys.exit(2)
    except ValueError as e:
        print("%s: wrong reply: %s" % (sys.argv[1], e))
        sys.exit(1)
    except (ConnectionError, OSError) as e:
        print("%s: %s" % (sys.argv[1], e))
        sys.exit(3)


if __name__ == "__main__":
    main()
