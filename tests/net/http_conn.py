#!/usr/bin/python3
"""Persistent connections of the --http service, judged with raw sockets (RFC 9112 §9.3).

    http_conn.py HOST PORT

Then the request line and the status line (STATUS_CASES): each request's status code, the
Server, Content-Type and Content-Length fields, and the body.

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


def status_case(host, port, request, want_code, want_body):
    """The status line, the fields every response carries and the body of one request."""
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    try:
        s.sendall(request)
        status, fields, body, _ = read_response(s)
        parts = status.split(" ", 2)
        if len(parts) != 3 or parts[0] != "HTTP/1.1" or parts[1] != str(want_code) or \
                not parts[2]:
            return "status line %r, wants HTTP/1.1 %d and a reason" % (status, want_code)
        if fields.get("server") != ["sluice"]:
            return "Server field %r" % fields.get("server")
        if len(fields.get("content-type", [])) != 1 or len(fields.get("content-length", [])) != 1:
            return "Content-Type %r, Content-Length %r: one of each wanted" % (
                fields.get("content-type"), fields.get("content-length"))
        if want_body is not None and body != want_body:
            return "body %r, wants %r" % (body[:40], want_body[:40])
        return None
    except (OSError, ValueError) as e:
        return "%s: %s" % (type(e).__name__, e)
    finally:
        s.close()


PAT = bytes(i % 251 for i in range(300))
# The request line (RFC 9112 §3): method SP request-target SP HTTP-version, where a recipient
# may split on runs of whitespace; HTTP-version is case-sensitive "HTTP/" DIGIT "." DIGIT
# (§2.3); an invalid line is answered 400 (§3). Only GET is served (405 otherwise).
STATUS_CASES = [
    ("runs of spaces between the words", b"GET  /bytes/5   HTTP/1.1\r\nHost: t\r\n\r\n", 200, PAT[:5]),
    ("tabs between the words", b"GET\t/bytes/7\tHTTP/1.1\r\nHost: t\r\n\r\n", 200, PAT[:7]),
    ("a long body length", b"GET /bytes/300 HTTP/1.1\r\nHost: t\r\n\r\n", 200, PAT),
    ("an empty body", b"GET /bytes/0 HTTP/1.1\r\nHost: t\r\n\r\n", 200, b""),
    ("version HTTP/1.10", b"GET /bytes/5 HTTP/1.10\r\nHost: t\r\n\r\n", 400, None),
    ("version in lower case", b"GET /bytes/5 http/1.1\r\nHost: t\r\n\r\n", 400, None),
    ("no version", b"GET /bytes/5\r\nHost: t\r\n\r\n", 400, None),
    ("a NUL inside the target", b"GET /\x00bytes/5 HTTP/1.1\r\nHost: t\r\n\r\n", 400, None),
    ("a method longer than any known", b"G" * 40 + b" / HTTP/1.1\r\nHost: t\r\n\r\n", 400, None),
    ("a target of 300 bytes", b"GET /" + b"a" * 300 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 400, None),
    ("POST", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405, None),
    ("an unknown target", b"GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n", 404, None),
    ("a bad length", b"GET /bytes/5x HTTP/1.1\r\nHost: t\r\n\r\n", 400, None),
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
    for name, req, code, body in STATUS_CASES:
        err = status_case(host, port, req, code, body)
        if err:
            failed += 1
            print("FAIL  %s: %s" % (name, err))
        else:
            print("ok    %s" % name)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
