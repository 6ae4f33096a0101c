"""The TCP part of `make bench`'s report (imported by bench/report.py; standard library only).

Reads build/bench/tcp/{raw.jsonl, mode-*.txt, server-*.json, perf-*-classes.json, ...}, returns
the "tcp" object of results.json and its Markdown; the same from build/bench/tcp6/ for the IPv6
pass ("tcp6", family=6) and from build/bench/tcp9000/ for the pass over IPv4 at MTU 9000
("tcp9000", mtu=9000). `python3 bench/tcp_report.py --classify SCRIPT` turns `perf script -F
comm,tid,ip,sym,dso` output (call graphs) into the category shares the report shows (run by
bench/tcp.sh at bench time, so the samples need not be kept).
"""
import json
import os
import re
import statistics
import sys

USER_HZ = 100  # /proc/stat counts in USER_HZ, 100 on Linux

TARGETS = [
    ("sluice", "sluice"),
    ("kernel_gate", "kernel, gate attached (same path)"),
    ("kernel", "kernel, no XDP (reference)"),
]
# The IPv6 pass: the kernel without sluice is the baseline, the same path beside it.
TARGETS6 = [
    ("sluice", "sluice"),
    ("kernel", "kernel, no XDP (baseline)"),
    ("kernel_gate", "kernel, gate attached (same path)"),
]
# At MTU 9000 likewise: the target there is against the kernel without XDP.
TARGETS9000 = [
    ("sluice", "sluice"),
    ("kernel", "kernel, no XDP (headline)"),
    ("kernel_gate", "kernel, gate attached (same path)"),
]
DIRS = {
    "up": "kernel (gen) → server: tcpbulk send → sluice `--discard` / kernel tcpbulk sink",
    "down": "server → kernel (gen): sluice `--send` / kernel tcpbulk send → tcpbulk sink",
}
# What the issue asks for, sluice / the kernel on the same path; at MTU 9000 bulk only, sluice /
# the kernel without XDP.
BULK_TARGET = 1.0
HTTP_TARGET = 1.5


def pass_dir(family=4, mtu=1500):
    """The directory of build/bench/ that one pass of the TCP part writes (and results.json's
    key for it): tcp (IPv4), tcp6 (IPv6), tcp9000 (IPv4 at MTU 9000)."""
    return "tcp6" if family == 6 else "tcp9000" if mtu == 9000 else "tcp"


def _read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def _json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def cpu_use(a, b):
    """Busy share and busy seconds per CPU between two /proc/stat snapshots."""
    res = []
    for x, y in zip(a or [], b or []):
        d = [j - i for i, j in zip(x, y)]
        tot = sum(d)
        idle = d[3] + d[4]
        res.append({"busy": (tot - idle) / tot if tot else 0.0, "busy_s": (tot - idle) / USER_HZ,
                    "seconds": tot / USER_HZ})
    return res


def bulk_check(r, bulk_bytes):
    """(ok, what was verified) for one bulk run."""
    s, k = r.get("sender") or {}, r.get("sink")
    if not r.get("ok") or not s:
        return False, r.get("error") or "no result"
    if r["dir"] == "up" and r["target"] == "sluice":
        full = s["bytes"] == bulk_bytes or s.get("stopped_by_time")
        return bool(full), ("all bytes written, acknowledged and the discard service closed after "
                            "reading up to the FIN" if full else "short transfer")
    if not k:
        return False, "no sink result"
    if k["bytes"] != s["bytes"]:
        return False, f"sink got {k['bytes']} bytes, sender sent {s['bytes']}"
    if k.get("verified") and (k["bad_bytes"] or not k["clean_eof"]):
        return False, f"{k['bad_bytes']} bytes differ from the pattern (first at {k['first_bad']})"
    return True, ("byte count and every byte's value" if k.get("verified") else "byte count")


def summarize_bulk(runs, bulk_bytes):
    res = {}
    for d in DIRS:
        for t, _ in TARGETS:
            rs = [r for r in runs if r["kind"] == "bulk" and r["dir"] == d and r["target"] == t
                  and r["run"].isdigit()]
            if not rs:
                continue
            ent = {"runs": []}
            for r in rs:
                ok, what = bulk_check(r, bulk_bytes)
                s = r.get("sender") or {}
                cpu = cpu_use(r.get("cpu"), r.get("cpu_end"))
                ent["runs"].append({
                    "run": r["run"], "ok": ok, "check": what, "bytes": s.get("bytes"),
                    "seconds": s.get("seconds"), "gbps": (s.get("bits_per_s") or 0) / 1e9,
                    "cpu": cpu, "server": r.get("server"), "error": r.get("error") or None})
            good = [x for x in ent["runs"] if x["ok"]]
            ent["all_ok"] = len(good) == len(ent["runs"])
            ent["verified"] = sorted({x["check"] for x in good})
            ent["failures"] = [x["check"] for x in ent["runs"] if not x["ok"]]
            if good:
                g = [x["gbps"] for x in good]
                med = statistics.median(g)
                mid = min(good, key=lambda x: abs(x["gbps"] - med))
                ent["gbps_runs"] = [x["gbps"] for x in ent["runs"]]
                ent["gbps_median"] = med
                ent["bytes_median_run"] = mid["bytes"]
                ent["cpu_busy_median_run"] = [c["busy"] for c in mid["cpu"]]
                gb = mid["bytes"] / 1e9
                ent["cpu_s_per_gb_median_run"] = [c["busy_s"] / gb for c in mid["cpu"]]
            res[f"{d}/{t}"] = ent
    return res


def summarize_http(runs):
    res = {}
    keys = sorted({(r["path"], r["conns"]) for r in runs if r["kind"] == "http"},
                  key=lambda k: (k[1], k[0]))
    for path, conns in keys:
        for t, _ in TARGETS:
            rs = [r for r in runs if r["kind"] == "http" and r["target"] == t and
                  r["path"] == path and r["conns"] == conns and r["run"].isdigit()]
            if not rs:
                continue
            ent = {"path": path, "conns": conns, "runs": []}
            for r in rs:
                w = r.get("wrk") or {}
                cpu = cpu_use(r.get("cpu"), r.get("cpu_end"))
                x = {"run": r["run"], "ok": bool(r.get("ok") and w), "error": r.get("error") or None}
                if w:
                    secs = w["duration_us"] / 1e6
                    n = w["requests"]
                    errs = sum(w["errors"].values())
                    # Every response complete and of the size curl saw (wrk counts bytes read,
                    # a response cut off at the end of the run at most once per connection).
                    size = ((r.get("resp") or {}).get(path) or {}).get("response_bytes")
                    extra = w["bytes"] - n * size if size else None
                    length_ok = extra is not None and 0 <= extra <= conns * size
                    x.update({"rps": n / secs if secs else 0, "requests": n, "errors": errs,
                              "error_classes": w["errors"], "latency_us": w["latency_us"],
                              "response_bytes": size, "length_ok": length_ok,
                              "cpu": cpu,
                              "cpu_us_per_request": [c["busy_s"] * 1e6 / n if n else None
                                                     for c in cpu]})
                    x["ok"] = x["ok"] and errs == 0 and length_ok and n > 0
                ent["runs"].append(x)
            good = [x for x in ent["runs"] if x["ok"]]
            ent["all_ok"] = len(good) == len(ent["runs"])
            if good:
                rps = [x["rps"] for x in good]
                med = statistics.median(rps)
                mid = min(good, key=lambda x: abs(x["rps"] - med))
                ent["rps_runs"] = [x.get("rps", 0) for x in ent["runs"]]
                ent["rps_median"] = med
                ent["p50_us_median"] = statistics.median(x["latency_us"]["p50"] for x in good)
                ent["p99_us_median"] = statistics.median(x["latency_us"]["p99"] for x in good)
                ent["p99_us_runs"] = [x["latency_us"]["p99"] for x in good]
                ent["cpu_busy_median_run"] = [c["busy"] for c in mid["cpu"]]
                ent["cpu_us_per_request_median_run"] = mid["cpu_us_per_request"]
            res[f"{path} c{conns}/{t}"] = ent
    return res


def _ratio(a, b):
    return a / b if a and b else None


def _paired(a, b, key):
    """sluice / kernel+gate run by run (the two alternate, so run r of each saw the same
    conditions): the lowest and highest ratio."""
    ra = {x["run"]: x.get(key) for x in a.get("runs", []) if x.get("ok")}
    rb = {x["run"]: x.get(key) for x in b.get("runs", []) if x.get("ok")}
    v = [ra[r] / rb[r] for r in ra if r in rb and ra[r] and rb[r]]
    return [min(v), max(v)] if v else None


def ratios(bulk, http, http_conns, mtu=1500):
    """sluice / kernel for every measurement, against the kernel with the gate and without XDP.
    The targets (issue 10 item 6: "against the plain kernel"): bulk against the kernel without
    XDP at both MTUs, HTTP against it at 1500 only."""
    out = []
    jumbo = mtu == 9000
    for d in DIRS:
        s, g, k = (bulk.get(f"{d}/{t}", {}).get("gbps_median") for t in
                   ("sluice", "kernel_gate", "kernel"))
        out.append({"what": f"bulk {d}", "vs": "kernel_gate", "ratio": _ratio(s, g),
                    "paired": _paired(bulk.get(f"{d}/sluice", {}),
                                      bulk.get(f"{d}/kernel_gate", {}), "gbps"),
                    "target": None})
        out.append({"what": f"bulk {d}", "vs": "kernel", "ratio": _ratio(s, k),
                    "target": BULK_TARGET})
    for key in sorted({k.rsplit("/", 1)[0] for k in http},
                      key=lambda k: (int(k.rsplit("c", 1)[1]), k)):
        s, g, k = (http.get(f"{key}/{t}", {}) for t in ("sluice", "kernel_gate", "kernel"))
        conns = int(key.rsplit("c", 1)[1])
        main = conns == http_conns
        if g:
            out.append({"what": f"HTTP GET {key}", "vs": "kernel_gate",
                        "ratio": _ratio(s.get("rps_median"), g.get("rps_median")),
                        "paired": _paired(s, g, "rps"),
                        "p50_ratio": _ratio(s.get("p50_us_median"), g.get("p50_us_median")),
                        "p99_ratio": _ratio(s.get("p99_us_median"), g.get("p99_us_median")),
                        "srv_cpu_per_request_ratio": _ratio(
                            (s.get("cpu_us_per_request_median_run") or [0, 0])[1],
                            (g.get("cpu_us_per_request_median_run") or [0, 0])[1]),
                        "target": None})
        if k:
            out.append({"what": f"HTTP GET {key}", "vs": "kernel",
                        "ratio": _ratio(s.get("rps_median"), k.get("rps_median")),
                        "p50_ratio": _ratio(s.get("p50_us_median"), k.get("p50_us_median")),
                        "p99_ratio": _ratio(s.get("p99_us_median"), k.get("p99_us_median")),
                        "srv_cpu_per_request_ratio": _ratio(
                            (s.get("cpu_us_per_request_median_run") or [0, 0])[1],
                            (k.get("cpu_us_per_request_median_run") or [0, 0])[1]),
                        "target": HTTP_TARGET if main and not jumbo else None})
    for o in out:
        o["met"] = None if o["target"] is None or o["ratio"] is None else o["ratio"] >= o["target"]
    return out


# --- perf -----------------------------------------------------------------------------------
SERVERS = ("sluice", "khttp", "tcpbulk")
CATEGORIES = [
    "server, user space: the stack and the service",
    "server, user space: --send's pattern generation (send_pump)",
    "server, user space: checksums (sl_csum*)",
    "server, user space: libc (memcpy, ...)",
    "server, kernel: copy-mode AF_XDP transmit (an skb per frame, veth_xmit)",
    "server, kernel: the peer's receive, which veth runs on the sending CPU (backlog softirq, "
    "TCP receive, waking the reader)",
    "server, kernel: its own TCP send / receive system calls",
    "server, kernel: poll / epoll, sleeping and waking up",
    "server, kernel: the rest (system call entry and exit, interrupts, timers)",
    "veth NAPI thread (the gate; then AF_XDP receive copy, or the kernel's IP/TCP receive)",
    "other processes",
]


def classify(lines):
    """Category shares (percent of the samples) from `perf script` text with call graphs."""
    counts = {c: 0 for c in CATEGORIES}
    total = 0

    def one(head, frames):
        comm = head.split()[0] if head.split() else ""
        syms = [f[0] for f in frames]
        user = frames and "[kernel.kallsyms]" not in frames[0][1]
        if comm.startswith("napi/"):
            return CATEGORIES[9]
        if comm not in SERVERS:
            return CATEGORIES[10]
        if user:
            s, dso = frames[0]
            if s == "send_pump":
                return CATEGORIES[1]
            if s.startswith("sl_csum"):
                return CATEGORIES[2]
            if "libc" in dso or "ld-linux" in dso:
                return CATEGORIES[3]
            return CATEGORIES[0]
        if "process_backlog" in syms or "__netif_receive_skb_one_core" in syms:
            return CATEGORIES[5]
        if "__xsk_generic_xmit" in syms or "xsk_sendmsg" in syms or "xsk_generic_xmit" in syms:
            return CATEGORIES[4]
        if any(s in syms for s in ("tcp_sendmsg", "tcp_recvmsg", "tcp_sendmsg_locked",
                                   "tcp_recvmsg_locked", "inet_recvmsg", "sock_write_iter",
                                   "sock_read_iter")):
            return CATEGORIES[6]
        if any(s in syms for s in ("do_sys_poll", "do_epoll_wait", "__x64_sys_poll",
                                   "__x64_sys_epoll_wait", "schedule", "__schedule",
                                   "finish_task_switch.isra.0", "xsk_poll", "ep_poll")):
            return CATEGORIES[7]
        return CATEGORIES[8]

    head, frames = None, []
    for line in list(lines) + [""]:
        if not line.strip():
            if head is not None:
                counts[one(head, frames)] += 1
                total += 1
            head, frames = None, []
        elif not line[0].isspace():
            head = line
        else:
            m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
            if m:
                frames.append((re.sub(r"\+0x[0-9a-f]+$", "", m.group(1)), m.group(2)))
    return {"samples": total,
            "shares": {c: 100.0 * n / total for c, n in counts.items()} if total else {}}


PROFILES = [
    ("http", "sluice, HTTP GET /bytes/64"),
    ("http_kernel", "kernel+gate (khttp), HTTP GET /bytes/64"),
    ("up", "sluice receiving (discard)"),
    ("down", "sluice sending (`--send`)"),
]


def perf_results(td, runs):
    res = {}
    for name, desc in PROFILES:
        c = _json(os.path.join(td, f"perf-{name}-classes.json"))
        if not c:
            continue
        syms = []
        for line in _read(os.path.join(td, f"perf-{name}-sym.txt")).splitlines():
            m = re.match(r"^\s*([\d.]+)%\s+\[(.)\]\s+(.+?)\s*$", line)
            if m:
                syms.append({"pct": float(m.group(1)),
                             "space": "kernel" if m.group(2) == "k" else "user",
                             "sym": m.group(3)})
        rate = None
        for r in runs:
            if r["run"] != "perf":
                continue
            if name.startswith("http") and r["kind"] == "http" and (
                    (name == "http") == (r["target"] == "sluice")) and r.get("wrk"):
                rate = f"{r['wrk']['requests'] / (r['wrk']['duration_us'] / 1e6) / 1e3:.1f} k requests/s"
            if r["kind"] == "bulk" and r["dir"] == name and r.get("sender"):
                rate = f"{r['sender']['bits_per_s'] / 1e9:.2f} Gbit/s"
        res[name] = {"what": desc, "rate": rate, "samples": c["samples"], "shares": c["shares"],
                     "top_symbols": syms[:15]}
    return res


# --- results and Markdown ---------------------------------------------------------------------
def _config(text):
    """key=value words (bench/tcp.sh's config.txt), numbers as numbers."""
    cfg = {}
    for kv in text.split():
        k, _, v = kv.partition("=")
        for conv in (int, float, str):
            try:
                cfg[k] = conv(v)
                break
            except ValueError:
                pass
    return cfg


def results(out, cfg, family=4, mtu=1500):
    """The TCP summary of one pass (IPv4: build/bench/tcp, IPv6: build/bench/tcp6, IPv4 at MTU
    9000: build/bench/tcp9000), None when that pass never ran."""
    td = os.path.join(out, pass_dir(family, mtu))
    if family == 6:  # the IPv6 pass's own repeat count
        cfg = dict(cfg, tcp_repeat=cfg.get("tcp_repeat6", cfg.get("tcp_repeat")))
    elif mtu == 9000:  # and the MTU 9000 pass's
        cfg = dict(cfg, tcp_repeat=cfg.get("tcp_repeat9000", cfg.get("tcp_repeat")),
                   http_conns_high=cfg.get("http_conns_high9000", 0))
    # The knobs the pass ran with, as bench/tcp.sh wrote them (results reported again from an
    # older run keep theirs; before config.txt existed: this run's).
    cfg = dict(cfg, **_config(_read(os.path.join(td, "config.txt"))))
    runs = []
    for line in _read(os.path.join(td, "raw.jsonl")).splitlines():
        try:
            runs.append(json.loads(line))
        except ValueError:
            pass
    if not runs:
        return None
    bulk_bytes = int(cfg.get("bulk_bytes", 1 << 30))
    http_conns = int(cfg.get("http_conns", 16))
    bulk = summarize_bulk(runs, bulk_bytes)
    http = summarize_http(runs)
    gate = _read(os.path.join(td, "mode-gate.txt"))
    m = re.search(r"\((\w+) XDP, ([\w-]+) mode(, TX checksum offload)?\)",
                  _read(os.path.join(td, "mode-sluice.txt")))
    srv = _json(os.path.join(td, "server-sluice.json"), {}) or {}
    calib = [r for r in runs if r["kind"] == "bulk" and r["run"] == "calibrate"]
    return {
        "family": family,
        "mtu": int(_read(os.path.join(td, "mtu.txt"), "0") or 0) or None,
        "date": _read(os.path.join(td, "date.txt")),
        "elapsed_s": float(_read(os.path.join(td, "elapsed.txt"), "0") or 0),
        "xdp_mode": {"xdp": m.group(1) if m else None, "xsk": m.group(2) if m else None,
                     "extra": (m.group(3) or "") if m else "",
                     "gate_attach": "generic" if gate == "xdpgeneric" else
                     "native" if gate == "xdp" else gate or None},
        "napi": _read(os.path.join(td, "napi.txt")),
        "config": {k: cfg.get(k) for k in ("tcp_repeat", "bulk_bytes", "bulk_seconds",
                                           "http_seconds", "http_conns", "http_conns_high",
                                           "http_paths")},
        "down_bytes": next((r["sender"]["bytes"] for r in runs if r["kind"] == "bulk" and
                            r["dir"] == "down" and r["target"] == "sluice" and
                            r["run"].isdigit() and r.get("sender")), None),
        "calibration": calib[-1] if calib else None,
        "bulk": bulk,
        "http": http,
        "ratios": ratios(bulk, http, http_conns, mtu),
        "sluice_server": {"counters": {k: v for k, v in (srv.get("counters") or {}).items() if v},
                          "frames_total": srv.get("frames_total"),
                          "frames_returned": srv.get("frames_returned"),
                          "drops": srv.get("drops")},
        "khttp": {"gate": _json(os.path.join(td, "server-khttp-gate.json")),
                  "no_xdp": _json(os.path.join(td, "server-khttp.json"))},
        "perf": perf_results(td, runs),
        "runs": runs,
    }


def _pct(x):
    return f"{x * 100:.0f}%"


def _ratio_text(o):
    """A ratio row's ratio, two decimals; three where two would print 1.00 for a ratio that
    misses 1.0 by a hair."""
    rt = f"{o['ratio']:.2f}"
    if o["target"] and o["ratio"] < o["target"] <= float(rt):
        rt = f"{o['ratio']:.3f}"
    return rt


def markdown(t, family=4, mtu=1500):
    """One pass's section: IPv4 (family 4), IPv6 (family 6) or IPv4 at MTU 9000 (mtu 9000)."""
    if not t:
        return []
    cfg = t["config"]
    mode = t["xdp_mode"]
    v6 = family == 6
    jumbo = mtu == 9000
    base = v6 or jumbo  # the kernel without XDP first: the baseline (IPv6), the headline (9000)
    targets = TARGETS6 if v6 else TARGETS9000 if jumbo else TARGETS
    at = f" at MTU {t['mtu']}" if t.get("mtu") else ""
    if jumbo:
        mss = f"TCP MSS {t['mtu'] - 40}, " if t.get("mtu") else ""
        paths = cfg.get("http_paths")  # None: results from before bench/tcp.sh wrote it
        if paths is None:
            http = "HTTP as in the table below"
        elif not paths:
            http = "no HTTP runs"
        else:
            http = (f"HTTP only {', '.join(f'`GET {p}`' for p in str(paths).split(','))} at "
                    f"{cfg['http_conns']} connections"
                    + ("" if cfg.get("http_conns_high") else " (no high-concurrency row)"))
        L = ["### TCP at MTU 9000", ""]
        L.append(f"The TCP part again over IPv4 with both veth ends{at} ({mss}sluice on "
                 f"multi-buffer AF_XDP: a full-size frame spans several UMEM buffers), run on "
                 f"{t['date']} in {t['elapsed_s']:.0f} s, after the part at the pair's MTU "
                 "(1500; the MTU is set before the gate attaches and put back after). Same "
                 f"machine and link as above. Gate attached in {mode.get('gate_attach') or '?'} "
                 f"mode; sluice: {mode.get('xdp') or '?'} XDP, {mode.get('xsk') or '?'} mode{mode.get('extra', '')}. "
                 f"Server receive work behind the gate: {t.get('napi') or '?'}. Runs alternate "
                 "sluice / kernel+gate; the kernel without XDP runs last. Lighter than at MTU "
                 f"1500: {cfg['tcp_repeat']} runs per target, {http}, no perf profiles unless "
                 "`BENCH_PERF9000=1`.")
    else:
        L = ["#### TCP over IPv6: every run" if v6 else "### TCP: bulk transfer and HTTP", ""]
        L.append(f"TCP part{' over IPv6 (fd00:X::/64)' if v6 else ''} run on {t['date']} in "
                 f"{t['elapsed_s']:.0f} s{at} (same machine and link as "
                 f"above). Gate attached in {mode.get('gate_attach') or '?'} mode; sluice: "
                 f"{mode.get('xdp') or '?'} XDP, {mode.get('xsk') or '?'} mode{mode.get('extra', '')}. Server receive "
                 f"work behind the gate: {t.get('napi') or '?'}. Runs alternate sluice / "
                 "kernel+gate; the kernel without XDP runs last.")
    L.append("")
    down = t.get("down_bytes")
    L.append(f"**Bulk.** {cfg['tcp_repeat']} runs per target and direction, the median is the "
             f"figure. Kernel senders write up to {int(cfg['bulk_bytes']) >> 20} MiB or stop after "
             f"{cfg['bulk_seconds']} s; `sluice --send` sends a fixed "
             f"{(down or 0) >> 20} MiB per run (sized from a 256 MiB calibration transfer to last "
             f"about {cfg['bulk_seconds']} s). Rate: bytes × 8 / (end of handshake → the peer's "
             "close after our FIN), as `sluice --send` reports it. *CPU busy*: CPU 0 (gen) / "
             "CPU 1 (server) over the whole run, everything that ran there; *CPU s / GB*: both "
             "CPUs' busy time per 10⁹ bytes.")
    L.append("")
    L.append("| direction | target | Gbit/s (median) | runs | verified | CPU 0 / 1 busy | "
             "CPU s / GB (0 + 1) |")
    L.append("|---|---|---:|---|---|---:|---:|")
    for d in DIRS:
        for key, desc in targets:
            e = t["bulk"].get(f"{d}/{key}")
            if not e:
                continue
            if "gbps_median" not in e:
                L.append(f"| {d} | {desc} | **failed** | | {'; '.join(e['failures'])[:200]} | | |")
                continue
            runs = ", ".join(f"{g:.2f}" if x["ok"] else "**failed**"
                             for g, x in zip(e["gbps_runs"], e["runs"]))
            ver = "; ".join(e["verified"]) + (
                f"; **{len(e['failures'])} failed: {'; '.join(e['failures'])[:200]}**"
                if e["failures"] else "")
            busy = " / ".join(_pct(b) for b in e["cpu_busy_median_run"])
            cpg = sum(e["cpu_s_per_gb_median_run"])
            L.append(f"| {d} | {desc} | **{e['gbps_median']:.2f}** | {runs} | {ver} | {busy} | "
                     f"{cpg:.2f} |")
    L.append("")
    L.append("*up*: " + DIRS["up"] + ". *down*: " + DIRS["down"] + ". The kernel receivers in "
             "*up* only count (the discard service does not look at the bytes either); the "
             "receiver in *down* checks every byte.")
    L.append("")

    http = t["http"]
    if http:
        L.append(f"**HTTP.** `wrk -t1 -c<conns> -d{cfg['http_seconds']}s --latency`, keep-alive, "
                 f"on CPU 0; {cfg['tcp_repeat']} runs per row, medians of requests/s, p50 and p99. "
                 "Every response checked for its size (wrk's bytes = requests × the response "
                 "curl fetched and compared with the page / the pattern beforehand); *errors* "
                 "are wrk's connect/read/write/timeout errors and non-2xx responses. "
                 "*srv CPU µs / req*: CPU 1's busy time per request (everything on it: NAPI "
                 "thread, server, and the client's kernel receive of each response, which veth "
                 "runs on the sending CPU).")
        L.append("")
        L.append("| request | conns | target | requests/s (median) | runs (k/s) | p50 µs | p99 µs | "
                 "errors | CPU 0 / 1 busy | srv CPU µs / req |")
        L.append("|---|---:|---|---:|---|---:|---:|---:|---:|---:|")
        for key in sorted({(e["conns"], e["path"]) for e in http.values()}):
            for tk, desc in targets:
                e = http.get(f"{key[1]} c{key[0]}/{tk}")
                if not e:
                    continue
                if "rps_median" not in e:
                    errs = "; ".join((x.get("error") or "?")[:120] for x in e["runs"])
                    L.append(f"| GET {key[1]} | {key[0]} | {desc} | **failed** | {errs} | | | | | |")
                    continue
                runs = ", ".join(f"{x.get('rps', 0) / 1e3:.1f}" if x["ok"] else "**failed**"
                                 for x in e["runs"])
                errs = sum(x.get("errors", 0) for x in e["runs"])
                bad_len = sum(1 for x in e["runs"] if not x.get("length_ok"))
                errtxt = f"{errs}" + (f", **{bad_len} runs with wrong response sizes**"
                                      if bad_len else "")
                busy = " / ".join(_pct(b) for b in e["cpu_busy_median_run"])
                L.append(f"| GET {key[1]} | {key[0]} | {desc} | **{e['rps_median'] / 1e3:.1f} k** | "
                         f"{runs} | {e['p50_us_median']:.0f} | {e['p99_us_median']:.0f} | {errtxt} | "
                         f"{busy} | {e['cpu_us_per_request_median_run'][1]:.1f} |")
        L.append("")

    if jumbo:
        L.append("Ratios, sluice / kernel, of the medians. **The headline is the kernel without "
                 "XDP** (no XDP program on the veth: what a user runs at MTU 9000 without "
                 "sluice); the kernel with the gate attached (the same path) is beside it. *run "
                 "by run*: the lowest and highest ratio of run r of sluice to run r of "
                 "kernel+gate (they alternate, so each pair saw the same conditions); the kernel "
                 "without XDP runs last, so its ratios have no pairs. *target* is the issue's at "
                 "MTU 9000: bulk ≥ 1.0 × the kernel without XDP in both directions (no HTTP "
                 "target here). For latency and CPU per request lower is better.")
    elif v6:
        L.append("Ratios, sluice / kernel, of the medians. **The baseline is the kernel without "
                 "sluice** (no XDP program on the veth); the kernel with the gate attached (the "
                 "same path) is beside it. *run by run*: the lowest and highest ratio of run r of "
                 "sluice to run r of kernel+gate (they alternate, so each pair saw the same "
                 "conditions); the kernel without XDP runs last, so its ratios have no pairs. "
                 "*target* is issue 10's (bulk ≥ 1.0 × and HTTP ≥ 1.5 × the kernel without "
                 f"XDP, HTTP at {cfg['http_conns']} connections), applied as it is. "
                 "For latency and CPU per request lower is better.")
    else:
        L.append("Ratios, sluice / kernel, of the medians; *run by run*: the lowest and highest "
                 "ratio of run r of sluice to run r of kernel+gate (they alternate, so each pair "
                 "saw the same conditions), i.e. how far noise moves the ratio. *target* is "
                 "issue 10's: bulk ≥ 1.0 × and HTTP ≥ 1.5 × the kernel without XDP (what a user "
                 "runs without sluice; the same-path kernel with the gate is shown beside it); "
                 f"the HTTP target is judged at {cfg['http_conns']} connections. For latency and "
                 "CPU per request lower is better.")
    L.append("")
    L.append("| comparison | vs kernel | rate | run by run | p50 | p99 | srv CPU / req | target "
             "| met |")
    L.append("|---|---|---:|---|---:|---:|---:|---:|---|")
    rows = t["ratios"]
    if base:  # the kernel without XDP first within each comparison
        rows = sorted(rows, key=lambda o: (
            [x["what"] for x in rows].index(o["what"]), o["vs"] != "kernel"))
    for o in rows:
        if o["ratio"] is None:
            continue
        if base:
            vs = "with gate (same path)" if o["vs"] == "kernel_gate" else \
                f"**without XDP ({'headline' if jumbo else 'baseline'})**"
        else:
            vs = "with gate (same path)" if o["vs"] == "kernel_gate" else "without XDP"
        p50 = f"{o['p50_ratio']:.2f}" if o.get("p50_ratio") else ""
        p99 = f"{o['p99_ratio']:.2f}" if o.get("p99_ratio") else ""
        cpr = f"{o['srv_cpu_per_request_ratio']:.2f}" if o.get("srv_cpu_per_request_ratio") else ""
        pr = f"{o['paired'][0]:.2f}–{o['paired'][1]:.2f}" if o.get("paired") else ""
        tg = f"≥ {o['target']:.1f}" if o["target"] else ""
        met = "" if o["met"] is None else ("yes" if o["met"] else "**no**")
        rt = _ratio_text(o)
        L.append(f"| {o['what']} | {vs} | **{rt}** | {pr} | {p50} | {p99} | {cpr} | {tg} | {met} |")
    L.append("")
    if jumbo:
        judged = [o for o in t["ratios"] if o["target"] is not None]
        if judged:
            each = ", ".join(f"{o['what'].removeprefix('bulk ')} "
                             + ("not measured" if o["ratio"] is None else _ratio_text(o))
                             for o in judged)
            ok = all(o["met"] for o in judged)
            L.append(f"**Issue 10's target at MTU 9000** (TCP bulk ≥ {BULK_TARGET:.1f} × the "
                     f"kernel without XDP, both directions): {each} — "
                     + ("**met**." if ok else "**not met**."))
            L.append("")

    s = t["sluice_server"]
    if s.get("frames_total") is not None:
        c = s["counters"]
        interesting = {k: v for k, v in c.items() if k.startswith("tcp_") and k not in (
            "tcp_rx", "tcp_tx", "tcp_accepted")}
        L.append(f"sluice's server process (discard + HTTP, all runs behind the gate): "
                 f"{c.get('rx_frames', 0)} frames in, {c.get('tx_frames', 0)} out, "
                 f"{c.get('tcp_accepted', 0)} connections, {s.get('drops', 0)} drops, frames "
                 f"{s['frames_returned']}/{s['frames_total']} returned"
                 + (", " + ", ".join(f"{k} {v}" for k, v in interesting.items())
                    if interesting else "") + ".")
        L.append("")

    perf = t.get("perf") or {}
    if perf:
        names = [n for n, _ in PROFILES if n in perf]
        L.append("Where CPU 1 (the server's) went: perf cpu-clock samples with call graphs, 3 s "
                 "during an extra run of each kind (idle time is not sampled, so shares are of "
                 "the busy time; perf's call-graph sampling slows the kernel's HTTP path "
                 "noticeably, so the rates in the header are lower than above):")
        L.append("")
        L.append("| | " + " | ".join(f"{perf[n]['what']} ({perf[n]['rate'] or '?'})"
                                      for n in names) + " |")
        L.append("|---|" + "---:|" * len(names))
        for cat in CATEGORIES:
            vals = [perf[n]["shares"].get(cat, 0) for n in names]
            if max(vals) < 0.5:
                continue
            L.append(f"| {cat} | " + " | ".join(f"{v:.1f}%" if v >= 0.05 else "" for v in vals)
                     + " |")
        L.append("")
        for n in names:
            L.append(f"Hottest symbols, {perf[n]['what']}: " + ", ".join(
                f"`{x['sym']}` {x['pct']:.1f}%" for x in perf[n]["top_symbols"][:10]) + ".")
            L.append("")
    return L


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--classify":
        with open(sys.argv[2], errors="replace") as f:
            json.dump(classify(f.read().splitlines()), sys.stdout)
        print()
        return
    sys.exit("usage: tcp_report.py --classify PERF-SCRIPT-OUTPUT")


if __name__ == "__main__":
    main()
