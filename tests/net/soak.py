#!/usr/bin/env python3
"""Load and soak client for the TCP echo service (tests/net/test_soak.sh).

    soak.py HOST PORT CONNS SECONDS SEED [STATUS_FILE [HTTP_PORT HTTP_FRACTION]]

Opens CONNS concurrent connections (at most WINDOW connects in flight), then holds them for
SECONDS in rounds of about one second. Every round each open connection sends a few bytes
(its id, the round, a random tail) and every byte echoed is compared with what was sent. In
each round about 1 % of the connections are ended in one of four ways and replaced by a
fresh connection, so the count stays at CONNS (none in the first 1.5 s, so that a sampler
sees all CONNS at once):
  reset      idle connection closed with SO_LINGER 0 (RST)
  abort      bytes sent, then at once SO_LINGER 0 (RST with data in flight both ways)
  halfclose  bytes sent, shutdown(SHUT_WR), read to EOF: every byte back, then EOF
  close      idle connection closed normally (FIN)
With HTTP_PORT, HTTP_FRACTION of the connections go to the HTTP service instead: each round a
keep-alive GET /bytes/N (N random below 2000) whose whole response (status line, fields,
body: byte i = i mod 251) is compared byte for byte; their "close" asks "Connection: close"
and reads the response to the stack's FIN (the stack closes first: its TIME-WAIT), their
half-close sends the request with the FIN. At the end every connection half-closes. Prints one JSON summary on stdout;
exits 1 on any error (wrong byte, unexpected EOF or reset, a connect that fails or takes
longer than 15 s, an echo that takes longer than 20 s). Writes "holding" (once all CONNS are
open) and "closing" lines to STATUS_FILE. Bounded in time: gives up after SECONDS + 120 s.
"""
import errno
import json
import os
import random
import resource
import select
import socket
import struct
import sys
import time

WINDOW = 512  # connects in flight / connections waiting for their echo, at most
CHURN = 0.01  # fraction of the open connections ended (and replaced) per round
CONNECT_TIMEOUT = 15.0
ECHO_TIMEOUT = 20.0

host, port, nconns, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
rng = random.Random(int(sys.argv[5]))
status_path = sys.argv[6] if len(sys.argv) > 6 else None
http_port = int(sys.argv[7]) if len(sys.argv) > 7 else 0
http_frac = float(sys.argv[8]) if len(sys.argv) > 8 else 0.0
PATTERN = bytes(i % 251 for i in range(2048))
t_start = time.monotonic()
deadline_all = t_start + hold + 120

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < nconns + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * nconns + 1024), hard))

ep = select.epoll()
conns = {}  # fd -> Conn
errors = []
st = dict(connects=0, established=0, peak_open=0, reset=0, abort=0, halfclose=0, close=0,
          final_halfclose=0, http_conns=0, http_requests=0, bytes_sent=0, bytes_checked=0, bytes_unchecked=0, rounds=0, max_connect_s=0.0,
          max_echo_s=0.0)


def status(line):
    if status_path:
        with open(status_path, "a") as f:
            f.write(line + "\n")


def err(msg):
    if len(errors) < 20:
        errors.append(msg)


count = {"connecting": 0, "idle": 0, "waiting": 0, "halfclosed": 0}


def set_state(c, new):
    count[c.state] -= 1
    count[new] += 1
    c.state = new


class Conn:
    __slots__ = ("s", "fd", "cid", "state", "pending", "t", "after", "http")

    def __init__(self, cid):
        self.cid = cid
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.setblocking(False)
        self.fd = self.s.fileno()
        self.state = "connecting"
        count["connecting"] += 1
        self.pending = bytearray()  # sent, not yet echoed
        self.t = time.monotonic()
        self.after = None  # what to do once the echo is complete: "close", "halfclose"
        self.http = http_port and rng.random() < http_frac
        st["http_conns"] += bool(self.http)
        try:
            self.s.connect((host, http_port if self.http else port))
        except BlockingIOError:
            pass
        ep.register(self.fd, select.EPOLLOUT | select.EPOLLIN)
        conns[self.fd] = self
        st["connects"] += 1


last_scan = 0.0
next_cid = 0
to_connect = nconns


def n_open():
    return len(conns) - count["connecting"]


def drop(c):
    count[c.state] -= 1
    c.state = "gone"
    st["bytes_unchecked"] += len(c.pending)
    try:
        ep.unregister(c.fd)
    except (OSError, ValueError):
        pass
    conns.pop(c.fd, None)
    c.s.close()


def rst(c):
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    drop(c)


def send_msg(c, rnd, close=False):
    if c.http:
        n = rng.randrange(0, 2000)
        msg = ("GET /bytes/%d HTTP/1.1\r\nHost: soak\r\n%s\r\n" %
               (n, "Connection: close\r\n" if close else "")).encode()
        want = ("HTTP/1.1 200 OK\r\nServer: sluice\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: %d\r\n%s\r\n" % (n, "Connection: close\r\n" if close else "")
                ).encode() + PATTERN[:n]
        st["http_requests"] += 1
    else:
        msg = ("%d:%d:%s\n" % (c.cid, rnd, "x" * rng.randrange(1, 24))).encode()
    try:
        n = c.s.send(msg)
    except OSError as e:
        err("conn %d: send: %s" % (c.cid, e))
        drop(c)
        return False
    if n != len(msg):  # a few bytes always fit in an empty send buffer
        err("conn %d: short send %d of %d" % (c.cid, n, len(msg)))
        drop(c)
        return False
    c.pending += want if c.http else msg[:n]
    c.t = time.monotonic()
    set_state(c, "waiting")
    st["bytes_sent"] += len(want) if c.http else n
    return True


def echo_done(c):
    now = time.monotonic()
    st["max_echo_s"] = max(st["max_echo_s"], now - c.t)
    if c.after == "close":
        st["close"] += 1
        drop(c)
    elif c.after is None:
        set_state(c, "idle")


def on_event(fd, ev):
    c = conns.get(fd)
    if c is None:
        return
    if c.state == "connecting":
        if not ev & (select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP):
            return
        e = c.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if e:
            err("conn %d: connect: %s" % (c.cid, os.strerror(e)))
            drop(c)
            return
        if not ev & select.EPOLLOUT:
            return
        ep.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)
        set_state(c, "idle")
        st["established"] += 1
        st["max_connect_s"] = max(st["max_connect_s"], time.monotonic() - c.t)
        return
    try:
        data = c.s.recv(65536)
    except BlockingIOError:
        return
    except OSError as e:
        err("conn %d (%s): recv: %s" % (c.cid, c.state, e))
        drop(c)
        return
    if not data:
        if c.state == "halfclosed" and not c.pending:
            st[{"final": "final_halfclose", "close": "close"}.get(c.after, "halfclose")] += 1
            drop(c)
        else:
            err("conn %d (%s): EOF with %d bytes not echoed" % (c.cid, c.state, len(c.pending)))
            drop(c)
        return
    if c.pending[: len(data)] != data:
        err("conn %d: echoed %r, expected %r" % (c.cid, bytes(data[:40]), bytes(c.pending[:40])))
        drop(c)
        return
    del c.pending[: len(data)]
    st["bytes_checked"] += len(data)
    if not c.pending and c.state == "waiting":
        echo_done(c)


def pump(timeout):
    global next_cid, to_connect
    while to_connect > 0 and count["connecting"] < WINDOW:
        Conn(next_cid)
        next_cid += 1
        to_connect -= 1
    for fd, ev in ep.poll(timeout, 1024):
        on_event(fd, ev)
    now = time.monotonic()
    global last_scan
    if now - last_scan < 0.5:
        return
    last_scan = now
    for c in list(conns.values()):
        if c.state == "connecting" and now - c.t > CONNECT_TIMEOUT:
            err("conn %d: connect took over %.0f s" % (c.cid, CONNECT_TIMEOUT))
            drop(c)
        elif c.state in ("waiting", "halfclosed") and now - c.t > ECHO_TIMEOUT:
            err("conn %d (%s): %d bytes not echoed after %.0f s" %
                (c.cid, c.state, len(c.pending), ECHO_TIMEOUT))
            drop(c)
    if time.monotonic() > deadline_all:
        err("out of time")


def busy():
    return count["waiting"] + count["halfclosed"]


def half_close(c, rnd, after):
    if send_msg(c, rnd):
        c.s.shutdown(socket.SHUT_WR)
        set_state(c, "halfclosed")
        c.after = after


# --- open ----------------------------------------------------------------------------------
while (to_connect > 0 or count["connecting"]) and not errors:
    pump(0.05)
t_open = time.monotonic() - t_start
st["peak_open"] = n_open()
status("holding %d" % n_open())

# --- hold ----------------------------------------------------------------------------------
t_hold = time.monotonic()
# The first 1.5 s with no churn: a sampler polling once a second sees all CONNS at the stack.
while time.monotonic() - t_hold < 1.5 and not errors:
    pump(0.05)
rnd = 0
while time.monotonic() - t_hold < hold and not errors:
    rnd += 1
    t_round = time.monotonic()
    idle = [c for c in conns.values() if c.state == "idle"]
    rng.shuffle(idle)
    k = int(len(idle) * CHURN)
    churn, normal = idle[:k], idle[k:]
    for i, c in enumerate(churn):
        what = ("reset", "abort", "halfclose", "close")[i % 4]
        if what == "reset":
            rst(c)
            st["reset"] += 1
        elif what == "abort":
            if send_msg(c, rnd):
                rst(c)
                st["abort"] += 1
        elif what == "halfclose":
            half_close(c, rnd, "halfclose")
        elif c.http:  # the stack closes first, after its response
            if send_msg(c, rnd, close=True):
                set_state(c, "halfclosed")
                c.after = "close"
        else:
            c.after = "close"
            send_msg(c, rnd)
        to_connect += 1  # a replacement keeps the count at CONNS
    for c in normal:
        while busy() >= WINDOW and not errors:
            pump(0.01)
        if c.fd in conns and c.state == "idle":
            send_msg(c, rnd)
    while busy() and not errors:
        pump(0.01)
    # Wait out the rest of the round, still opening the replacements.
    while time.monotonic() - t_round < 1.0 and not errors:
        pump(0.01)
    st["peak_open"] = max(st["peak_open"], n_open())
st["rounds"] = rnd
t_held = time.monotonic() - t_hold
status("closing %d" % n_open())

# --- close ---------------------------------------------------------------------------------
while (to_connect > 0 or count["connecting"]) and not errors:
    pump(0.05)
for c in list(conns.values()):
    while busy() >= WINDOW and not errors:
        pump(0.01)
    if c.fd in conns and c.state == "idle":
        half_close(c, rnd + 1, "final")
while conns and not errors:
    pump(0.01)
for c in list(conns.values()):
    drop(c)

st.update(open_s=round(t_open, 2), held_s=round(t_held, 2),
          total_s=round(time.monotonic() - t_start, 2),
          max_connect_s=round(st["max_connect_s"], 3), max_echo_s=round(st["max_echo_s"], 3),
          errors=errors)
print(json.dumps(st))
if not errors and st["bytes_checked"] + st["bytes_unchecked"] != st["bytes_sent"]:
    errors.append("bytes: %d sent, %d checked + %d aborted" %
                  (st["bytes_sent"], st["bytes_checked"], st["bytes_unchecked"]))
sys.exit(1 if errors else 0)
