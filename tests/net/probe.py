"""UDP echo prober for tests/net/test_livelock.sh.

    probe.py IP PORT COUNT INTERVAL_S [WAIT_S]

Sends COUNT probes, one every INTERVAL_S seconds, each a datagram carrying its own number
and a random nonce, to IP:PORT from one socket, and counts the echoes that come back intact
(an echo counts once, however late within the run and WAIT_S seconds after the last
probe). Prints "sent N answered M". Bounded: COUNT * INTERVAL_S + WAIT_S seconds.
"""
import os
import select
import socket
import sys
import time

ip, port, count, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
wait = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((ip, port))
s.setblocking(False)
nonce = os.urandom(8)
answered = set()
sent = 0


def drain(until):
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return
        while True:
            try:
                d = s.recv(2048)
            except (BlockingIOError, ConnectionRefusedError):
                break
            if len(d) == 12 and d[4:] == nonce:
                answered.add(int.from_bytes(d[:4], "big"))


t0 = time.monotonic()
for i in range(count):
    due = t0 + i * interval
    drain(due)
    try:
        s.send(i.to_bytes(4, "big") + nonce)
        sent += 1
    except OSError:
        pass
drain(time.monotonic() + wait)
print("sent %d answered %d" % (sent, len(answered)))
