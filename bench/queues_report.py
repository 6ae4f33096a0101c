#!/usr/bin/env python3
"""The queues part's summary (bench/queues.sh; issue 10 item 5): results(out) reads
build/bench/queues/ (raw.jsonl, config.json, date.txt, elapsed.txt, mode files) and returns the
object results.json keeps under "queues" (None when the part never ran); markdown(q) the
section of docs/benchmarks.md. Used by bench/report.py; standard library only.
"""
import json
import os
import statistics

import tcp_report  # cpu_use(): busy shares from two /proc/stat snapshots

BASE = [
    ("kernel", "kernel (kecho / khttp), no XDP program on the link: the baseline",
     "server on CPU 1; without XDP veth has no NAPI, so the kernel receives in the sender's "
     "context, on CPU 0"),
    ("q1", "sluice `--queues 1`",
     "one stack and its NAPI thread on CPU 1; the generator's veth sends on one TX queue, so "
     "every frame arrives on RX queue 0"),
    ("q2", "sluice `--queues 2`, one core",
     "both stacks and both NAPI threads on CPU 1 (the same core as `--queues 1`)"),
    ("q2split", "sluice `--queues 2`, a core per queue",
     "queue 0's stack and NAPI thread on CPU 1, queue 1's on CPU 0 beside the generator"),
]
# Every sluice target also exists with `--spin-us 0` (bench/queues.sh: name_spin0).
TARGETS = []
for _k, _d, _w in BASE:
    TARGETS.append((_k, _d, _w))
    if _k != "kernel":
        TARGETS.append((_k + "_spin0", _d + ", `--spin-us 0`", _w))
DESC = {k: d for k, d, _ in TARGETS}
WHERE = {k: w for k, _, w in TARGETS}
SHORT = {"kernel": "kernel without XDP", "q1": "`--queues 1`", "q2": "`--queues 2` on one core",
         "q2split": "`--queues 2`, a core per queue"}


def short(t):
    base = t.removesuffix("_spin0")
    return SHORT[base] + (", `--spin-us 0`" if t.endswith("_spin0") else "")


RATIOS = ([("q2", "q1"), ("q2_spin0", "q1"), ("q2_spin0", "q1_spin0"), ("q2split", "q1"),
           ("q2split_spin0", "q1"), ("q2split_spin0", "q1_spin0"), ("q1_spin0", "q1")] +
          [(t, "kernel") for t, _, _ in TARGETS if t != "kernel"])


def _load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def _read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def _ratio(a, b):
    return a / b if a and b else None


def _per_queue(before, after, counter):
    """Counter deltas by queue from two `sluice stats --json` snapshots ([] without them)."""
    if not before or not after:
        return []
    b = {s["queue"]: s["counters"].get(counter, 0) for s in before.get("stacks", [])}
    return [s["counters"].get(counter, 0) - b.get(s["queue"], 0)
            for s in sorted(after.get("stacks", []), key=lambda s: s["queue"])]


def _gate(before, after, counter):
    if not before or not after:
        return None
    return (after.get("gate") or {}).get(counter, 0) - (before.get("gate") or {}).get(counter, 0)


def _threads(before, after):
    """Per worker and NAPI thread (by queue): the share of the interval it ran and the share it
    waited runnable for a CPU (schedstat), and the CPU it last ran on."""
    if not before or not after:
        return None
    dt = after.get("t", 0) - before.get("t", 0)
    res = {"seconds": dt}
    for kind in ("workers", "napi"):
        b = {x[0]: x for x in before.get(kind, [])}
        res[kind] = []
        for x in after.get(kind, []):
            y = b.get(x[0], x)
            res[kind].append({"tid": x[0], "run_s": (x[1] - y[1]) / 1e9,
                              "share": (x[1] - y[1]) / 1e9 / dt if dt > 0 else None,
                              "wait_share": (x[2] - y[2]) / 1e9 / dt if dt > 0 else None,
                              "last_cpu": x[3]})
    return res


def _median_run(runs, key):
    med = statistics.median(x[key] for x in runs)
    return med, min(runs, key=lambda x: abs(x[key] - med))


def results(out):
    qd = os.path.join(out, "queues")
    lines = _read(os.path.join(qd, "raw.jsonl")).splitlines()
    if not lines:
        return None
    raw = [json.loads(x) for x in lines]
    cfg = _load(os.path.join(qd, "config.json"), {}) or {}
    placement = {}
    for r in raw:
        if r["kind"] == "placement":
            placement.setdefault(r["target"], []).append(r.get("affinity"))
    # Every failure bench/queues.sh noticed (q_fail writes one "failure" line each: no echo, a
    # tool's exit status, sluice's own), then below what only the summaries show (wrk's error
    # counts, byte counts that are not n x the response).
    targets = {}
    failures = [r["error"] for r in raw if r["kind"] == "failure"]
    for t, _, _ in TARGETS:
        udp = []
        for r in raw:
            if r["kind"] != "udp" or r["target"] != t or not r.get("ok"):
                continue
            g = r["gen"]
            q = _per_queue(r.get("stats_before"), r.get("stats_after"), "udp_rx")
            udp.append({"round": r["round"], "pps": g["pps"], "sent": g["sent"],
                        "received": g["received"], "lost": g["lost"],
                        "late": g["unexpected"], "bad": g["mismatch"] + g["wrong_flow"],
                        "rx_per_queue": q,
                        "cpu_busy": [c["busy"] for c in g.get("cpu", [])],
                        "threads": _threads(r.get("threads_before"), r.get("threads_after"))})
        http = {}
        for r in raw:
            if r["kind"] != "http" or r["target"] != t:
                continue
            w = r.get("wrk") or {}
            ent = http.setdefault(f"c{r['conns']}", {"conns": r["conns"], "runs": []})
            x = {"round": r["round"], "ok": bool(r.get("ok") and w)}
            if w:
                secs = w["duration_us"] / 1e6
                n = w["requests"]
                errs = sum(w["errors"].values())
                size = ((r.get("resp") or {}).get("/bytes/64") or {}).get("response_bytes")
                extra = w["bytes"] - n * size if size else None
                length_ok = extra is not None and 0 <= extra <= r["conns"] * size
                x.update({"rps": n / secs if secs else 0, "requests": n, "errors": errs,
                          "length_ok": length_ok, "p50_us": w["latency_us"]["p50"],
                          "p99_us": w["latency_us"]["p99"],
                          "accepted_per_queue": _per_queue(r.get("stats_before"),
                                                           r.get("stats_after"), "tcp_accepted"),
                          "tcp_rx_per_queue": _per_queue(r.get("stats_before"),
                                                         r.get("stats_after"), "tcp_rx"),
                          "cpu_busy": [c["busy"] for c in tcp_report.cpu_use(r.get("cpu"),
                                                                            r.get("cpu_end"))],
                          "threads": _threads(r.get("threads_before"), r.get("threads_after"))})
                x["ok"] = x["ok"] and errs == 0 and length_ok and n > 0
                if not x["ok"] and r.get("ok"):
                    failures.append(f"{t} round {r['round']} http c{r['conns']}: {errs} errors"
                                    f"{'' if length_ok else ', byte count not n x the response'}")
            ent["runs"].append(x)
        for ent in http.values():
            good = [x for x in ent["runs"] if x["ok"]]
            ent["all_ok"] = len(good) == len(ent["runs"])
            if good:
                ent["rps_median"], mid = _median_run(good, "rps")
                ent["rps_runs"] = [x["rps"] for x in good]
                ent["median_run"] = mid
        ent = {"description": DESC[t], "where": WHERE[t], "affinity": placement.get(t)}
        if udp:
            med, mid = _median_run(udp, "pps")
            ent["udp"] = {"pps_median": med, "pps_runs": [x["pps"] for x in udp],
                          "median_run": mid, "runs": udp,
                          "lost": sum(x["lost"] for x in udp), "late": sum(x["late"] for x in udp),
                          "bad": sum(x["bad"] for x in udp)}
        if http:
            ent["http"] = http
        if udp or http:
            targets[t] = ent
    ratios = []
    keys = ["udp"] + sorted({k for v in targets.values() for k in v.get("http", {})},
                            key=lambda k: int(k[1:]))

    def fig(t, key):
        v = targets.get(t) or {}
        if key == "udp":
            return (v.get("udp") or {}).get("pps_median"), {
                x["round"]: x["pps"] for x in (v.get("udp") or {}).get("runs", [])}
        h = (v.get("http") or {}).get(key) or {}
        return h.get("rps_median"), {x["round"]: x["rps"] for x in h.get("runs", [])
                                     if x.get("ok")}
    for a, b in RATIOS:
        for key in keys:
            (fa, ra), (fb, rb) = fig(a, key), fig(b, key)
            if not fa or not fb:
                continue
            pr = [ra[k] / rb[k] for k in ra if k in rb and rb[k]]
            ratios.append({"what": "UDP echo" if key == "udp" else f"HTTP GET /bytes/64 {key}",
                           "key": key, "a": a, "b": b, "ratio": fa / fb,
                           "paired": [min(pr), max(pr)] if len(pr) > 1 else None,
                           "rounds": len(pr)})
    spread = None
    for r in raw:
        if r["kind"] == "spread_check" and r.get("ok"):
            g = r["gen"]
            spread = {"sent": g["sent"], "received": g["received"], "lost": g["lost"],
                      "pps": g["pps"], "seconds": g["seconds"],
                      "no_socket": _gate(r.get("stats_before"), r.get("stats_after"),
                                         "no_socket"),
                      "redirected": _gate(r.get("stats_before"), r.get("stats_after"),
                                          "redirected"),
                      "rx_per_queue": _per_queue(r.get("stats_before"), r.get("stats_after"),
                                                 "udp_rx")}
    summaries = [r for r in raw if r["kind"] == "server" and r.get("summary")]
    frames_ok = all(s["summary"].get("frames_returned") == s["summary"].get("frames_total")
                    for s in summaries)
    mode = _read(os.path.join(qd, "mode-sluice.txt"))
    return {"date": _read(os.path.join(qd, "date.txt")) or None,
            "elapsed_s": float(_read(os.path.join(qd, "elapsed.txt"), "0") or 0),
            "config": cfg, "link": _read(os.path.join(qd, "link.txt")) or None,
            "napi": _read(os.path.join(qd, "napi.txt")) or None,
            "xdp_mode": mode.strip("()") or None,
            "gate_attach": _read(os.path.join(qd, "mode-gate.txt")) or None,
            "targets": targets, "ratios": ratios, "spread_check": spread,
            "frames_all_returned": frames_ok if summaries else None,
            "failures": failures}


def _fmt_rate(v, key):
    if v is None:
        return "—"
    return f"{v / 1e3:.0f} k" if key == "udp" else f"{v / 1e3:.1f} k"


def _split(q):
    """'61% / 39%' for per-queue counts."""
    tot = sum(q or [])
    if not q or not tot:
        return "—"
    return " / ".join(f"{100 * x / tot:.0f}%" for x in q)


def _share(th, kind):
    """'run% (waiting%)' per thread, queue 0 / queue 1."""
    if not th or not th.get(kind):
        return "—"
    return " / ".join("—" if x["share"] is None else
                      f"{100 * x['share']:.0f}% ({100 * x['wait_share']:.0f}%)" for x in th[kind])


def _link(text):
    """'numtxqueues 2 numrxqueues 2' -> '2 TX and 2 RX queues'."""
    f = (text or "").split()
    if len(f) == 4:
        return f"{f[1]} TX and {f[3]} RX queues"
    return "2 TX and 2 RX queues"


def markdown(q):
    if not q:
        return []
    cfg = q.get("config") or {}
    L = ["### Queues: `--queues 2` against `--queues 1` (2-queue veth pair)", ""]
    conns = cfg.get("http_conns") or []
    L.append(f"Run on {q['date']} in {q['elapsed_s']:.0f} s (`BENCH_PARTS=queues`, "
             f"`bench/queues.sh`): a veth pair of its own with "
             f"{_link(q.get('link'))} on both ends, "
             f"sluice in {q.get('xdp_mode') or '?'}, gate attached in "
             f"{'native' if q.get('gate_attach') == 'xdp' else q.get('gate_attach') or '?'} mode. "
             f"UDP echo: {cfg.get('flows')} flows (one socket each), window {cfg.get('window')}, "
             f"{cfg.get('seconds')} s per run; HTTP: wrk -t1, GET /bytes/64, "
             f"{' and '.join(str(c) for c in conns)} connections, {cfg.get('http_seconds')} s. "
             f"{cfg.get('repeat')} round{'s' if cfg.get('repeat') != 1 else ''}, every target once per round; the medians are the "
             f"figures. Generator and wrk on CPU {cfg.get('gen_cpu')}. Veth NAPI: "
             f"{q.get('napi') or '?'}.")
    L.append("")
    hk = [f"c{c}" for c in conns]
    L.append("| target | where it runs | UDP echo/s (median) | runs | "
             + " | ".join(f"HTTP {c} conns, req/s" for c in conns) + " |")
    L.append("|---|---|---:|---|" + "---:|" * len(conns))
    for t, desc, where in TARGETS:
        v = q["targets"].get(t)
        if not v:
            continue
        u = v.get("udp") or {}
        runs = ", ".join(_fmt_rate(x, "udp") for x in u.get("pps_runs", []))
        hs = []
        for k in hk:
            h = (v.get("http") or {}).get(k) or {}
            hs.append(f"{_fmt_rate(h.get('rps_median'), k)}"
                      + (f" ({', '.join(_fmt_rate(x, k) for x in h.get('rps_runs', []))})"
                         if h.get("rps_runs") else ""))
        L.append(f"| {desc} | {where} | **{_fmt_rate(u.get('pps_median'), 'udp')}** | {runs} | "
                 + " | ".join(hs) + " |")
    L.append("")
    if q["ratios"]:
        keys = ["udp"] + hk
        L.append("| ratio (medians; lowest–highest of the rounds) | UDP echo | "
                 + " | ".join(f"HTTP {c} conns" for c in conns) + " |")
        L.append("|---|---:|" + "---:|" * len(conns))
        for a, b in RATIOS:
            cells = []
            for k in keys:
                x = next((r for r in q["ratios"] if r["a"] == a and r["b"] == b and
                          r["key"] == k), None)
                if not x:
                    cells.append("—")
                    continue
                p = x.get("paired")
                cells.append(f"**{x['ratio']:.2f}**" + (f" ({p[0]:.2f}–{p[1]:.2f})" if p else ""))
            if any(c != "—" for c in cells):
                L.append(f"| {short(a)} / {short(b)} | " + " | ".join(cells) + " |")
        L.append("")
    # How the flows spread, and where the CPU went.
    L.append("How the load spread over the two queues (veth delivers on the RX queue of the "
             "sender's TX queue, which the kernel picks from a random per-socket hash) and where "
             "the CPU went, median run of each measurement: *per queue* is queue 0 / queue 1 "
             "(datagrams received, or connections accepted); *stack threads* and *NAPI threads*: "
             "each thread's time on a CPU as a share of the run and, in parentheses, its time "
             "runnable but waiting for a CPU (the scheduler's accounting, /proc/…/schedstat; the "
             "softirqs a thread runs count as its own; in a VM the wait includes waking a halted "
             "vCPU), queue 0 / queue 1; *CPU 0 / 1*: the two CPUs' busy shares.")
    L.append("")
    L.append("| target | measurement | per queue | stack threads | NAPI threads | CPU 0 / 1 |")
    L.append("|---|---|---:|---:|---:|---:|")
    for t, desc, _ in TARGETS:
        v = q["targets"].get(t)
        if not v:
            continue
        rows = []
        u = (v.get("udp") or {}).get("median_run")
        if u:
            rows.append(("UDP echo", u.get("rx_per_queue"), u))
        for k in hk:
            h = ((v.get("http") or {}).get(k) or {}).get("median_run")
            if h:
                rows.append((f"HTTP {k[1:]} conns", h.get("accepted_per_queue"), h))
        for what, pq, run in rows:
            cpu = " / ".join(f"{100 * c:.0f}%" for c in run.get("cpu_busy", []))
            L.append(f"| {short(t)} | {what} | {_split(pq) if t != 'kernel' else '—'}"
                     f"{' (' + ' / '.join(str(x) for x in pq) + ')' if pq and t != 'kernel' and what != 'UDP echo' else ''} | "
                     f"{_share(run.get('threads'), 'workers')} | "
                     f"{_share(run.get('threads'), 'napi')} | {cpu} |")
    L.append("")
    L.append("**What the two cores allow.** The generator (udpgen spins; wrk is busy) holds CPU "
             f"{cfg.get('gen_cpu')} for the whole run, as in every part of this bench. "
             "`--queues 2` on one core runs both stacks and both NAPI threads on the server "
             "core that `--queues 1` has alone: it can show the cost of a second stack, not a "
             "gain. `--queues 2` with a core per queue puts queue 1's stack and NAPI thread on "
             "the generator's core, where the SCHED_FIFO NAPI thread preempts the generator and "
             "the stack time-shares with it: the server gets more CPU, the load generator less, "
             "so the figure is neither two idle cores' worth nor a like-for-like comparison. "
             "Neither layout measures what two free cores per stack would give; that needs a "
             "machine with more cores than the generator and the stacks together. Where two "
             "stacks share a core, sluice's default `--spin-us 50` (after a batch with frames, "
             "keep polling 50 µs before sleeping) lets one stack hold the core while the other "
             "waits: the `--spin-us 0` rows show what that costs.")
    L.append("")
    sc = q.get("spread_check")
    if sc:
        ans = 100 * sc["received"] / sc["sent"] if sc["sent"] else 0
        L.append(f"**`--queues 1` with the flows spread over both queues** (the generator's veth "
                 f"on its 2 TX queues, no `ethtool -L`; {sc['seconds']:.0f} s): {sc['received']} "
                 f"of {sc['sent']} datagrams answered ({ans:.0f}%, {sc['pps'] / 1e3:.1f} k/s); the "
                 f"gate counted {sc['no_socket']} frames on a queue without a socket (passed to "
                 f"the kernel, which drops them: the address is not its own). The flows hashed to "
                 f"queue 1 get nothing, and their datagrams hold window slots until the 50 ms "
                 f"timeout, which throttles the rest: a stack serves one queue, so `--queues` "
                 f"must cover every queue the NIC (here the peer) spreads onto.")
        L.append("")
    if q.get("frames_all_returned") is False:
        L.append("**Warning:** a sluice process did not get all its UMEM frames back at exit "
                 "(see `build/bench/queues/raw.jsonl`, kind `server`).")
        L.append("")
    if q.get("failures"):
        L.append("**Failures:** " + "; ".join(q["failures"]) + ".")
        L.append("")
    return L
