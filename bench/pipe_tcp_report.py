"""The TCP pipe-device count of `make bench` (bench/pipe_tcp.c, run by bench/run.sh's tcp_pipe):
imported by bench/report.py; standard library only.

Reads build/bench/pipe-tcp-{NAME}-n{1,2}.{json,annotate.txt,callers.txt} (NAME: bulk-rcv,
bulk-snd, rr-c{C}-srv, rr-c{C}-cli) and pipe-tcp-native-*.json. Each pair is one callgrind
measurement of one stack's poll wrapper at two sizes; the figure is
(Ir(n2) - Ir(n1)) / (units(n2) - units(n1)). The application's own work inside the callbacks
(functions named app_* in pipe_tcp.c) is left out of every figure, and so is nothing else.
"""
import json
import os
import re

# The budget for TCP: instructions per full-size segment received, without the payload
# copy (the memcpy family).
TCP_BUDGET = 500

# Functions of pipe_tcp.c's application (checking and making up bytes) and what they call; left
# out of the lists of hottest functions (their cost is already taken out of the figures).
APP_RE = re.compile(r"^(app_|pat_|msg_|mix$|mono_ns$|get32$|clock_gettime|__clock_gettime|"
                    r"__vdso_clock_gettime)")
# The poll wrappers and everything above them: inclusive counts equal to the total.
ABOVE_RE = re.compile(r"^(poll_(sender|receiver|client|server)|sl_stack_poll|main|\(below main\)|"
                      r"__libc_start_main.*|__libc_start_call_main|0x[0-9a-f]+)$")
MEMCPY_RE = re.compile(r"^_*(memcpy|memmove|mempcpy)")


def _load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _fn(name):
    return name.rsplit(":", 1)[-1]


def annotate_inclusive(path):
    """callgrind_annotate --inclusive=yes: (total, {function: inclusive Ir})."""
    funcs, total = {}, None
    for line in _read(path).splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.*?)(?:\s+\[.*\])?$", line)
        if not m:
            continue
        n = int(m.group(1).replace(",", ""))
        if m.group(2) == "PROGRAM TOTALS":
            total = n
            continue
        fn = _fn(m.group(2))
        funcs[fn] = max(funcs.get(fn, 0), n)
    return total, funcs


def annotate_tree(path):
    """callgrind_annotate --tree=caller: ({function: self Ir}, {function: {caller: Ir of the
    calls from it}}). A block is the callers ("<" lines) and then the function ("*")."""
    selfs, callers, pending = {}, {}, []
    for line in _read(path).splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([\s\d.]+%\)\s+([<*>])\s+(.*?)(?:\s+\([\d,]+x\))?"
                     r"(?:\s+\[.*\])?$", line)
        if not m:
            if not line.strip():
                pending = []
            continue
        n, kind, fn = int(m.group(1).replace(",", "")), m.group(2), _fn(m.group(3))
        if kind == "<":
            pending.append((fn, n))
        elif kind == "*":
            selfs[fn] = selfs.get(fn, 0) + n
            c = callers.setdefault(fn, {})
            for cf, cn in pending:
                c[cf] = c.get(cf, 0) + cn
            pending = []
    return selfs, callers


class Pair:
    """One measurement at two sizes: per-unit differences of anything callgrind counted."""

    def __init__(self, out, name, unit):
        p = lambda n, ext: os.path.join(out, f"pipe-tcp-{name}-n{n}.{ext}")
        self.j1, self.j2 = _load_json(p(1, "json")), _load_json(p(2, "json"))
        self.t1, self.f1 = annotate_inclusive(p(1, "annotate.txt"))
        self.t2, self.f2 = annotate_inclusive(p(2, "annotate.txt"))
        self.s1, self.c1 = annotate_tree(p(1, "callers.txt"))
        self.s2, self.c2 = annotate_tree(p(2, "callers.txt"))
        self.ok = bool(self.j1 and self.j2 and self.t1 is not None and self.t2 is not None)
        if self.ok:
            self.units = [self.j1[unit], self.j2[unit]]
            self.dn = self.units[1] - self.units[0]
            self.ok = self.dn > 0

    def incl(self, fn):
        return (self.f2.get(fn, 0) - self.f1.get(fn, 0)) / self.dn

    def self_(self, fn):
        return (self.s2.get(fn, 0) - self.s1.get(fn, 0)) / self.dn

    def total(self):
        return (self.t2 - self.t1) / self.dn

    def app(self):
        """The application's work inside the poll (app_* do not nest in each other)."""
        return sum(self.incl(fn) for fn in set(self.f1) | set(self.f2) if fn.startswith("app_"))

    def copy_by_caller(self):
        """The memcpy family's Ir per unit, by caller."""
        by = {}
        for fn in set(self.s1) | set(self.s2):
            if not MEMCPY_RE.match(fn):
                continue
            c1, c2 = self.c1.get(fn, {}), self.c2.get(fn, {})
            for caller in set(c1) | set(c2):
                by[caller] = by.get(caller, 0) + (c2.get(caller, 0) - c1.get(caller, 0)) / self.dn
        return {k: v for k, v in sorted(by.items(), key=lambda kv: -kv[1]) if v >= 0.5}

    def copy(self):
        # The memcpy family's functions call nothing: inclusive is self.
        return sum(self.self_(fn) for fn in set(self.s1) | set(self.s2) if MEMCPY_RE.match(fn))

    def top_self(self, n=15):
        fns = [fn for fn in set(self.s2) if not APP_RE.match(fn)]
        rows = sorted(((fn, self.self_(fn)) for fn in fns), key=lambda x: (-x[1], x[0]))
        return {fn: v for fn, v in rows[:n] if v >= 1}

    def top_inclusive(self, n=25):
        fns = [fn for fn in set(self.f2) if not APP_RE.match(fn) and not ABOVE_RE.match(fn)]
        rows = sorted(((fn, self.incl(fn)) for fn in fns), key=lambda x: (-x[1], x[0]))
        return {fn: v for fn, v in rows[:n] if v >= 1}

    def summary(self, callback, app_fn, what):
        """The figure, its parts (which do not nest in each other and add up to the stack's
        total) and the functions of interest (which do nest in the parts)."""
        total, app = self.total(), self.app()
        stack = total - app
        copy = self.copy()
        has = lambda fn: fn in self.f2  # a function inlined away leaves its part to the rest
        cb = self.incl(callback) if callback and has(callback) else 0.0
        parts = {}
        if has("pipe_rx"):
            parts["device rx (pipe_rx: copy of the frame in from the link)"] = self.incl("pipe_rx")
        if has("sl_ipv4_input"):
            parts["IPv4 + TCP input: checks, checksum, lookup, ACK processing, receive ring "
                  "(excl. the callback)"] = self.incl("sl_ipv4_input") - cb
        if cb:
            parts[f"the callback's calls into the stack: {what} (the application's own work "
                  "left out)"] = cb - self.incl(app_fn)
        if has("sl_tcp_flush"):
            parts["TCP output (sl_tcp_flush: segments and ACKs built, checksummed, routed)"] = \
                self.incl("sl_tcp_flush")
        if has("pipe_flush"):
            parts["device flush (pipe_flush: copy out to the link)"] = self.incl("pipe_flush")
        parts["rest of the poll (Ethernet dispatch, release, timers, counters)"] = \
            stack - sum(parts.values())
        inner = {}
        for fn, desc in (("sl_tcp_check_ps", "TCP checksum of a received segment"),
                         ("sl_tcp_lookup", "connection lookup (SipHash included)"),
                         ("sl_siphash", "SipHash, all callers"),
                         ("process_ack", "ACK processing"),
                         ("sl_tcp_rcv_data", "receive ring: in-order insert and its copy"),
                         ("sl_tcp_set_csum_ps", "TCP checksum of a sent segment"),
                         ("sl_ip_output", "IP output: route, neighbour, header"),
                         ("sl_timers_run", "timers run")):
            v = self.incl(fn)
            if v >= 0.5:
                inner[f"{desc} (`{fn}`)"] = v
        return {
            "units": self.units,
            "instructions": [self.t1, self.t2],
            "instructions_per_unit_with_app": total,
            "app_per_unit": app,
            "instructions_per_unit": stack,
            "memcpy_per_unit": copy,
            "memcpy_by_caller": self.copy_by_caller(),
            "instructions_per_unit_excl_memcpy": stack - copy,
            "parts_per_unit": parts,
            "inside_parts_per_unit": inner,
            "top_self_per_unit": self.top_self(),
            "top_inclusive_per_unit": self.top_inclusive(),
            "top_inclusive_note": "inclusive counts of the callback and of the input functions "
                                  "above it contain the application's work (app_per_unit)",
            "verified": bool(self.j1.get("verified") and self.j2.get("verified")),
        }


def results(out):
    """The TCP pipe summary, or None when tcp_pipe never ran (results from before it)."""
    res = {"method": "valgrind --tool=callgrind --toggle-collect=<one stack's poll wrapper>; "
                     "(Ir(n2) - Ir(n1)) / (units(n2) - units(n1)), the app_* functions' "
                     "inclusive Ir left out"}
    rcv = Pair(out, "bulk-rcv", "rcv_segments")
    if rcv.ok:
        b = rcv.summary("rcv_readable", "app_bulk_check", "sl_tcp_peek / sl_tcp_consume")
        j1, j2 = rcv.j1, rcv.j2
        b["bytes_per_segment"] = (j2["received"] - j1["received"]) / rcv.dn
        b["segments_per_poll"] = rcv.dn / max(1, j2["rounds"] - j1["rounds"])
        b["segments_per_ack"] = rcv.dn / max(1, j2["rcv_tcp_tx"] - j1["rcv_tcp_tx"])
        b["mss"], b["timestamps"] = j2.get("mss"), j2.get("timestamps")
        b["bytes"] = [j1["bytes"], j2["bytes"]]
        b["retransmits"] = j2.get("snd_retransmits", 0)
        res["bulk_receiver"] = b
    snd = Pair(out, "bulk-snd", "snd_tcp_tx")
    if snd.ok:
        s = snd.summary(None, None, None)
        res["bulk_sender"] = {k: s[k] for k in (
            "units", "instructions", "instructions_per_unit", "memcpy_per_unit",
            "memcpy_by_caller", "instructions_per_unit_excl_memcpy", "top_self_per_unit",
            "verified")}
    conns = _read(os.path.join(out, "pipe-tcp-conns.txt")).split()
    rr = {}
    for c in conns:
        e = {}
        for side, cb, app, what in (("srv", "srv_readable", "app_rr_serve",
                                     "sl_tcp_read / sl_tcp_write_nodelay"),
                                    ("cli", "cli_readable", "app_rr_client",
                                     "sl_tcp_read / sl_tcp_write_nodelay")):
            p = Pair(out, f"rr-c{c}-{side}", "transactions")
            if p.ok:
                e["server" if side == "srv" else "client"] = p.summary(cb, app, what)
                e["size"] = p.j2.get("size")
        nat = _load_json(os.path.join(out, f"pipe-tcp-native-rr-c{c}.json"))
        if nat:
            e["native"] = nat
        if e:
            rr[c] = e
    if rr:
        res["rr"] = rr
    nat = _load_json(os.path.join(out, "pipe-tcp-native-bulk.json"))
    if nat:
        res["native_bulk"] = nat
    if len(res) == 1:
        return None
    b = res.get("bulk_receiver")
    if b:
        res["budget"] = {"name": "TCP: instructions per full-size segment received, without "
                                 "the payload copy (the memcpy family)",
                         "target": TCP_BUDGET,
                         "measured": b["instructions_per_unit_excl_memcpy"],
                         "pass": b["instructions_per_unit_excl_memcpy"] <= TCP_BUDGET}
    return res


def _callers_text(by):
    names = {"pipe_rx": "the device's copy of the frame in from the link (`pipe_rx`)",
             "sl_tcp_rcv_data": "the stack's copy into the receive ring (`sl_tcp_rcv_data`)",
             "sl_tcp_read": "`sl_tcp_read`'s copy out to the application",
             "pipe_flush": "the device's copy out to the link (`pipe_flush`)",
             "send_segment": "the copy from the send ring into the frame (`send_segment`)"}
    return ", ".join(f"{names.get(k, '`' + k + '`')} {v:.0f}" for k, v in by.items())


def _top(d, n=10):
    return ", ".join(f"`{k}` {v:.0f}" for k, v in list(d.items())[:n])


def budget_line(b):
    return (f"**Budget (issue 10; judged here in the bench report, not in the tests): {b['name']} "
            f"≤ {b['target']} — measured {b['measured']:.0f}: "
            f"{'PASS' if b['pass'] else 'FAIL'}.**")


def markdown(t, date=None):
    if not t:
        return []
    L = ["### TCP, the stack alone: instructions over the pipe device (`bench/pipe_tcp.c`)", ""]
    b, snd, rr = t.get("bulk_receiver"), t.get("bulk_sender"), t.get("rr") or {}
    verified = all(x.get("verified") for x in [b, snd] + [s for e in rr.values()
                                                         for k, s in e.items()
                                                         if k in ("server", "client")] if x)
    L.append(f"Measured {'on ' + date + ' ' if date else ''}by callgrind inside one stack's "
             "`sl_stack_poll` at a time (two stacks on the pipe device, invented time, seeded), "
             "as the difference of two sizes divided by the difference in segments or "
             "transactions. The application's own work inside the callbacks (checking the "
             "bytes, making the messages up: `app_*`) is left out of every figure. Every byte "
             "verified: " + ("yes" if verified else "**NO**") + ".")
    L.append("")
    if b:
        nat = t.get("native_bulk") or {}
        line = (f"**Bulk, receiver: {b['instructions_per_unit']:.0f} instructions per received "
                f"full-size segment** ({b['bytes_per_segment']:.0f} bytes of payload"
                f"{', timestamps on' if b.get('timestamps') else ''}), "
                f"**{b['instructions_per_unit_excl_memcpy']:.0f} without the payload copy** "
                f"(the memcpy family: {b['memcpy_per_unit']:.0f}; "
                f"{_callers_text(b['memcpy_by_caller'])}). The receiver took "
                f"{b['segments_per_poll']:.1f} segments per poll and sent one ACK per "
                f"{b['segments_per_ack']:.1f} segments.")
        if nat.get("rcv_stack_ns_per_segment"):
            line += (f" Natively {nat['rcv_stack_ns_per_segment']:.0f} ns per segment inside the "
                     f"receiver's poll, the application's check left out "
                     f"({nat['bytes'] / 1e6:.0f} MB).")
        if snd:
            line += (f" Sender: {snd['instructions_per_unit']:.0f} instructions per segment sent "
                     f"({snd['instructions_per_unit_excl_memcpy']:.0f} without the memcpy "
                     "family; its writes into the send buffer are outside its poll)")
            if nat.get("snd_poll_ns_per_segment"):
                line += f", natively {nat['snd_poll_ns_per_segment']:.0f} ns"
            line += "."
        L.append(line)
        L.append("")
        L.append("| part of one received segment (bulk) | instructions |")
        L.append("|---|---:|")
        for k, v in b["parts_per_unit"].items():
            L.append(f"| {k} | {v:.0f} |")
        L.append(f"| **the receiver's poll per segment** | **{b['instructions_per_unit']:.0f}** |")
        for k, v in b["inside_parts_per_unit"].items():
            L.append(f"| *inside the rows above:* {k} | {v:.0f} |")
        L.append(f"| *inside the rows above:* the memcpy family | {b['memcpy_per_unit']:.0f} |")
        L.append(f"| *left out:* the application's check of the bytes | {b['app_per_unit']:.0f} |")
        L.append("")
        L.append("Hottest functions in the receiver's poll, own instructions per segment: "
                 + _top(b["top_self_per_unit"], 12) + ".")
        L.append("")
    if rr:
        size = next((e.get("size") for e in rr.values() if e.get("size")), 64)
        L.append(f"**Request/response** ({size}-byte request, {size}-byte response, one in flight "
                 "per connection): instructions per transaction in the server's poll and in the "
                 "client's.")
        L.append("")
        L.append("| connections | server | server without memcpy | client | client without "
                 "memcpy | natively: server / client ns |")
        L.append("|---:|---:|---:|---:|---:|---:|")
        for c, e in sorted(rr.items(), key=lambda kv: int(kv[0])):
            s, k, nat = e.get("server"), e.get("client"), e.get("native") or {}
            f = lambda x, key: f"{x[key]:.0f}" if x else "—"
            ns = (f"{nat['srv_stack_ns_per_transaction']:.0f} / "
                  f"{nat['cli_stack_ns_per_transaction']:.0f}"
                  if nat.get("srv_stack_ns_per_transaction") else "—")
            L.append(f"| {c} | **{f(s, 'instructions_per_unit')}** | "
                     f"{f(s, 'instructions_per_unit_excl_memcpy')} | "
                     f"**{f(k, 'instructions_per_unit')}** | "
                     f"{f(k, 'instructions_per_unit_excl_memcpy')} | {ns} |")
        L.append("")
        c0 = min(rr, key=int)
        s = rr[c0].get("server")
        if s:
            L.append(f"| part of one transaction, server, {c0} connection{'s' if c0 != '1' else ''}"
                     " | instructions |")
            L.append("|---|---:|")
            for k, v in s["parts_per_unit"].items():
                L.append(f"| {k} | {v:.0f} |")
            L.append(f"| **the server's poll per transaction** | "
                     f"**{s['instructions_per_unit']:.0f}** |")
            for k, v in s["inside_parts_per_unit"].items():
                L.append(f"| *inside the rows above:* {k} | {v:.0f} |")
            L.append(f"| *inside the rows above:* the memcpy family | {s['memcpy_per_unit']:.0f} |")
            L.append(f"| *left out:* the application's work (check the request, make the "
                     f"response) | {s['app_per_unit']:.0f} |")
            L.append("")
            L.append(f"Hottest functions in the server's poll ({c0} connection"
                     f"{'s' if c0 != '1' else ''}), own instructions per transaction: "
                     + _top(s["top_self_per_unit"], 12) + ".")
            L.append("")
    if t.get("budget"):
        L.append(budget_line(t["budget"]))
        L.append("")
    return L
