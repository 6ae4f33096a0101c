#!/usr/bin/python3
"""Persistent connections of the --http service, judged with raw sockets (RFC 9112 §9.3).

    http_conn.py HOST PORT

Each case sends one request on a fresh connection, reads the response (status line, headers,
then exactly Content-Length body bytes), and checks the response's Connection header and
what the server does next: closes (recv returns b'' within 3 s) or keeps the connection
(a second request on it is answered). Every wait is bounded. Prints one line per case and
exits 1 if any failed.

The rules (RFC 9112 §9.3, RFC 9110 §7.6.1, §5.1):
  - "close" among the Connection options: the last response, says "Connection: close";
  - otherwise HTTP/1.1: persistent;
  - otherwise HTTP/1.0 with "keep-alive" among the options: persistent, and the response
    says "Connection: keep-alive" (a 1.0 client waits for the close otherwise);
  - otherwise (HTTP/1.0): closed after the response;
  - field names and option tokens are case-insensitive, the value is a comma-separated
    list with optional whitespace, and only the Connection field counts.
"""
import socket
import sys
import time

TIMEOUT = 3.0


def read_response(s, buf=b""):
    """(status line, {lowercase name: [values]}, body, leftover) or raise."""
    deadline = time.monotonic() + TIMEOUT
    while b"\r\n\r\n" not in buf:
        if time.monotonic() > deadline:
            raise TimeoutError("no complete response head")
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed before the response head: %r" % buf[:200])
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    n = int(fields.get("content-length", ["0"])[0])
    while len(rest) < n:
        if time.monotonic() > deadline:
            raise TimeoutError("body incomplete: %d of %d bytes" % (len(rest), n))
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed inside the body")
        rest += d
    return lines[0], fields, rest[:n], rest[n:]


def closed_by_server(s):
    """True when the server closes within TIMEOUT, False when it stays silent and open."""
    s.settimeout(TIMEOUT)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def options(fields):
    out = []
    for v in fields.get("connection", []):
        out += [t.strip().lower() for t in v.split(",") if t.strip()]
    return out


def case(host, port, name, request, want_open, want_option):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    try:
        s.sendall(request.encode())
        status, fields, body, left = read_response(s)
        if not status.startswith("HTTP/1.1 200"):
            return "unexpected status %r" % status
        opts = options(fields)
        if want_option and want_option not in opts:
            return "response has Connection %r, wants %r" % (fields.get("connection"), want_option)
        if want_open and "close" in opts:
            return "response says Connection: close on a connection that should persist"
        if want_open:
            # Still open: a second request on it is answered, and the server does not close
            # of its own accord in between.
            if closed_by_server(s):
                return "the server closed a connection that should persist"
            s.sendall(b"GET /bytes/10 HTTP/1.1\r\nHost: t\r\n\r\n")
            status2, _, body2, _ = read_response(s, left)
            if not status2.startswith("HTTP/1.1 200") or len(body2) != 10:
                return "second request on the connection: %r, %d bytes" % (status2, len(body2))
        else:
            if not closed_by_server(s):
                return "the server kept open a connection it should close (no close in %.0f s)" % TIMEOUT
        return None
    except (OSError, ValueError) as e:
        return "%s: %s" % (type(e).__name__, e)
    finally:
        s.close()


CASES = [
    # name, request, connection stays open, option the response must carry
    ("1.0 without keep-alive: closed after the response",
     "GET / HTTP/1.0\r\nHost: t\r\n\r\n", False, None),
    ("1.0 with Connection: keep-alive: says keep-alive, stays open",
     "GET / HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\n", True, "keep-alive"),
    ("1.0 with CONNECTION: Keep-Alive (case): says keep-alive, stays open",
     "GET /bytes/100 HTTP/1.0\r\nCONNECTION: Keep-Alive\r\n\r\n", True, "keep-alive"),
    ("1.0 with connection:keep-alive (no space): stays open",
     "GET / HTTP/1.0\r\nconnection:keep-alive\r\n\r\n", True, "keep-alive"),
    ("1.0 with keep-alive and close: closed",
     "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", False, "close"),
    ("1.0 with X-Connection: keep-alive (another field): closed",
     "GET / HTTP/1.0\r\nX-Connection: keep-alive\r\n\r\n", False, None),
    ("1.1 default: stays open",
     "GET / HTTP/1.1\r\nHost: t\r\n\r\n", True, None),
    ("1.1 with Connection: close: says close, closed",
     "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", False, "close"),
    ("1.1 with connection:CLOSE (no space, case): says close, closed",
     "GET / HTTP/1.1\r\nHost: t\r\nconnection:CLOSE\r\n\r\n", False, "close"),
    ("1.1 with Connection: keep-alive, close (a list): says close, closed",
     "GET / HTTP/1.1\r\nHost: t\r\nConnection: keep-alive,  Close\r\n\r\n", False, "close"),
    ("1.1 with Connection: te and a second Connection: close field: closed",
     "GET / HTTP/1.1\r\nHost: t\r\nConnection: te\r\nTE: trailers\r\nConnection: close\r\n\r\n",
     False, "close"),
    ("1.1 with X-Connection: close (another field): stays open",
     "GET / HTTP/1.1\r\nHost: t\r\nX-Connection: close\r\n\r\n", True, None),
    ("1.1 with 'connection: close' inside another field's value: stays open",
     "GET / HTTP/1.1\r\nHost: t\r\nReferer: http://t/?connection: close\r\n\r\n", True, None),
]


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    failed = 0
    for name, req, want_open, want_opt in CASES:
        err = case(host, port, name, req, want_open, want_opt)
        if err:
            failed += 1
            print("FAIL  %s: %s" % (name, err))
        else:
            print("ok    %s" % name)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
