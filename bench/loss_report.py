#!/usr/bin/python3
"""Report of the loss part of `make bench` (bench/loss.sh; called by bench/run.sh).

Reads build/bench/loss/{raw.jsonl, config.json, mode-sluice.txt, date.txt, elapsed.txt,
loadavg-*.txt}, writes build/bench/loss/results.json, adds it to build/bench/results.json under
"loss", replaces the section between the bench:loss markers of docs/benchmarks.md (appended
when they are missing) and draws docs/bench-loss.png (matplotlib; skipped with a note when it
is missing).

    loss_report.py --out build/bench --doc docs/benchmarks.md --png docs/bench-loss.png
"""
import argparse
import datetime
import json
import math
import os
import re
import statistics
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (machine(), read(), load_json())

BEGIN = "<!-- bench:loss:begin -->"
END = "<!-- bench:loss:end -->"

# (stack, cc) per direction, in table order. In "up" the sender is the Linux client: cc is its
# algorithm and the stack is the receiver.
DOWN = [("sluice", "cubic"), ("kernel", "cubic"), ("sluice", "newreno"), ("kernel", "reno"),
        ("kernel", "bbr")]
UP = [("sluice", "cubic"), ("kernel", "cubic"), ("sluice", "reno"), ("kernel", "reno"),
      ("sluice", "bbr"), ("kernel", "bbr")]
PAIRS = {"down": [("cubic", "cubic"), ("newreno", "reno")],
         "send": [("cubic", "cubic"), ("newreno", "reno")],
         "up": [("cubic", "cubic"), ("reno", "reno"), ("bbr", "bbr")]}
TARGET = 1.2


def runs_of(out):
    rs = []
    for line in report.read(os.path.join(out, "loss", "raw.jsonl")).splitlines():
        try:
            rs.append(json.loads(line))
        except ValueError:
            pass
    return rs


# --- per-run figures ---------------------------------------------------------------------------
def sender_counters(r):
    """RTOs, retransmissions, tail loss probes, recoveries, D-SACKs seen by the sender."""
    sl = r.get("sluice") or {}
    if r["stack"] == "sluice" and r["dir"] in ("down", "send"):
        return {"rto": sl.get("tcp_rto_expired", 0), "rtx": sl.get("tcp_retransmits", 0),
                "tlp": sl.get("tcp_tlp_probes", 0), "rec": sl.get("tcp_recoveries", 0),
                "dsack": sl.get("tcp_dsack_rx", 0), "who": "sluice"}
    ns = r.get("nstat_server") if r["dir"] in ("down", "send") else r.get("nstat_client")
    ns = ns or {}
    return {"rto": ns.get("TcpExtTCPTimeouts", 0), "rtx": ns.get("TcpRetransSegs", 0),
            "tlp": ns.get("TcpExtTCPLossProbes", 0),
            "rec": ns.get("TcpExtTCPSackRecovery", 0) + ns.get("TcpExtTCPRenoRecovery", 0),
            "dsack": ns.get("TcpExtTCPDSACKRecv", 0), "who": "kernel"}


def loss_seen(r):
    """Frames the loss program (direct) or the relay (both directions) dropped."""
    d = r.get("drops")
    if d:
        return d["to_client"]["dropped"], d["from_client"]["dropped"]
    rel = r.get("relay") or []
    by = {x.get("dir"): x for x in rel}
    if by:
        # ab: A (client) -> B (server); ba: server -> client
        return (by.get("ba", {}).get("dropped_loss", 0) + by.get("ba", {}).get("dropped_queue", 0),
                by.get("ab", {}).get("dropped_loss", 0) + by.get("ab", {}).get("dropped_queue", 0))
    return None


def run_time(r):
    """(seconds, is a lower bound) or None for a failed run."""
    if not r["ok"]:
        return None
    return r["seconds"], bool(r["timed_out"])


# --- summaries ---------------------------------------------------------------------------------
def cell(rs):
    """Median time of a target's runs at a point; a timeout counts as +inf in the median."""
    good = [run_time(r) for r in rs if run_time(r)]
    if not good:
        return None
    keyed = sorted(good, key=lambda t: (t[1], t[0]))  # timeouts last
    vals = [math.inf if b else s for s, b in keyed]
    med = statistics.median_low(vals) if len(vals) % 2 == 0 else statistics.median(vals)
    if math.isinf(med):
        bound = max(s for s, b in good if b)
        got = [r["bytes"] or 0 for r in rs if r["ok"] and r["timed_out"]]
        return {"s": bound, "bound": True, "n": len(good), "failed": len(rs) - len(good),
                "bytes_by_timeout": statistics.median(got) if got else 0}
    return {"s": med, "bound": False, "n": len(good), "failed": len(rs) - len(good)}


def ratio(a, b):
    """sluice time / kernel time with bounds: (value, kind) kind in '=', '<=', '>=', '?'."""
    if not a or not b:
        return None
    if not a["bound"] and not b["bound"]:
        return a["s"] / b["s"], "="
    if not a["bound"] and b["bound"]:
        return a["s"] / b["s"], "<="  # kernel took at least b
    if a["bound"] and not b["bound"]:
        return a["s"] / b["s"], ">="
    # Both cut at the timeout: compare what each delivered by then (rate ratio, inverted so
    # that it reads like a time ratio). An estimate, marked as such.
    if a.get("bytes_by_timeout") and b.get("bytes_by_timeout"):
        return b["bytes_by_timeout"] / a["bytes_by_timeout"], "~"
    return None, "?"


def fmt_s(c):
    if not c:
        return "—"
    if c["bound"]:
        return (f"≥ {c['s']:.0f} (timeout; {c.get('bytes_by_timeout', 0) / 2**20:.0f} MiB "
                "by then)")
    return f"{c['s']:.2f}" if c["s"] < 10 else f"{c['s']:.1f}"


def fmt_ratio(rt):
    if not rt:
        return "—"
    v, k = rt
    if k == "?":
        return "both timed out"
    s = f"{v:.2f}"
    return {"=": s, "<=": f"≤ {s}", ">=": f"≥ {s}", "~": f"~{s} (bytes by the timeout)"}[k]


def met(rt):
    if not rt:
        return ""
    v, k = rt
    if k == "?":
        return "?"
    if k in ("=", "<="):
        return "yes" if v <= TARGET else ("no" if k == "=" else "?")
    if k == "~":
        return "yes?" if v <= TARGET else "no?"
    return "no" if v > TARGET else "?"  # ">=": sluice took at least v times as long


def summarize(runs):
    pts = {}
    for r in runs:
        key = (r["part"], r["dir"], r["loss"], r["stack"], r["cc"], r["buf"])
        pts.setdefault(key, []).append(r)
    return pts


def med_counter(rs, k):
    v = [sender_counters(r)[k] for r in rs if r["ok"]]
    return statistics.median(v) if v else None


def summary_json(runs, pts):
    out = []
    for (part, d, loss, stack, cc, buf), rs in sorted(pts.items(), key=lambda x: (
            x[0][0], x[0][1], x[0][2], x[0][3], x[0][4], x[0][5])):
        c = cell(rs)
        out.append({"part": part, "dir": d, "loss": loss, "stack": stack, "cc": cc, "buf": buf,
                    "median_s": c["s"] if c else None, "median_is_bound": c["bound"] if c else None,
                    "runs_s": [r["seconds"] if r["ok"] else None for r in rs],
                    "timed_out": [r["timed_out"] for r in rs],
                    "goodput_bps_median": (rs[0]["want_bytes"] * 8 / c["s"]) if c and not c["bound"]
                    else None,
                    "sender_rto_median": med_counter(rs, "rto"),
                    "sender_retransmits_median": med_counter(rs, "rtx")})
    return out


# --- Markdown ----------------------------------------------------------------------------------
def point_keys(pts, part, d):
    return sorted({k[2] for k in pts if k[0] == part and k[1] == d})


def buf_of(pts, part):
    bufs = {k[5] for k in pts if k[0] == part and k[3] == "sluice"}
    main = [b for b in bufs if b != "default"]
    return main[0] if main else "default"


def label(stack, cc, d):
    if d == "up":
        return f"{'sluice' if stack == 'sluice' else 'kernel'} ← kernel {cc}"
    return f"{stack} {cc}"


def rto_cell(rs):
    v = med_counter(rs, "rto") if rs else None
    return "—" if v is None else f"{v:g}"


def direction_table(pts, part, d, buf):
    order = UP if d == "up" else DOWN
    head = ["loss %"]
    for sc, kc in PAIRS[d]:
        if d == "up":
            head += [f"sluice ← {sc} (s)", f"kernel ← {kc} (s)", "ratio"]
        else:
            head += [f"sluice {sc} (s)", f"kernel {kc} (s)", "ratio"]
    if d != "up":
        head += ["kernel bbr (s)"]
    head += ["sender RTOs (median): " + " / ".join(label(s, c, d) for s, c in order),
             f"≤ {TARGET} ×"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for loss in point_keys(pts, part, d):
        row, verdicts = [f"{loss:g}"], []
        for sc, kc in PAIRS[d]:
            a = cell(pts.get((part, d, loss, "sluice", sc, buf), []))
            b = cell(pts.get((part, d, loss, "kernel", kc, "default"), []))
            rt = ratio(a, b)
            row += [fmt_s(a), fmt_s(b), f"**{fmt_ratio(rt)}**"]
            if sc != "bbr":
                verdicts.append(met(rt))
        if d != "up":
            row.append(fmt_s(cell(pts.get((part, d, loss, "kernel", "bbr", "default"), []))))
        row.append(" / ".join(rto_cell(pts.get((part, d, loss, s, c, buf if s == "sluice" else
                                                "default"), [])) for s, c in order))
        row.append(" / ".join(verdicts))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def default_buf_rows(pts, part, buf):
    lines = []
    for (p, d, loss, stack, cc, b), rs in sorted(pts.items()):
        if p != part or stack != "sluice" or b != "default" or buf == "default":
            continue
        c = cell(rs)
        k = cell(pts.get((p, d, loss, "kernel", "cubic" if d != "up" else cc, "default"), []))
        big = cell(pts.get((p, d, loss, "sluice", cc, buf), []))
        lines.append(f"| {d} | {loss:g} | sluice {cc}, default buffer | {fmt_s(c)} | "
                     f"{fmt_s(big)} | {fmt_s(k)} | {fmt_ratio(ratio(c, k))} | "
                     f"{' '.join(fmt_s({'s': r['seconds'], 'bound': r['timed_out']}) if r['ok'] else 'FAILED' for r in rs)} |")
    if not lines:
        return ""
    return ("| dir | loss % | run | time (s, median) | with --tcp-buf " + buf +
            " | kernel cubic | ratio to the kernel | runs |\n|---|---:|---|---:|---:|---:|---:|---|\n"
            + "\n".join(lines))


def detail_table(runs):
    lines = ["| part | dir | loss % | stack / cc | buf | run | time s | Gbit/s | sender RTO | "
             "retransmits | TLP | recoveries | D-SACK rx | lost to client / from client | "
             "CPU 0 / 1 busy | note |",
             "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in runs:
        sc = sender_counters(r)
        ls = loss_seen(r)
        cpu = cpu_busy(r)
        note = "" if r["ok"] else "**FAILED**: " + r["error"].replace("|", "/")[:200]
        if r["ok"] and r["timed_out"]:
            note = f"timeout: {r['bytes'] or 0} of {r['want_bytes']} bytes by then"
        t = ("≥ %.0f" % r["seconds"]) if r["ok"] and r["timed_out"] else \
            ("%.3f" % r["seconds"]) if r["ok"] else "—"
        gp = f"{r['goodput_bps'] / 1e9:.3f}" if r.get("goodput_bps") else "—"
        lines.append(
            f"| {r['part']} | {r['dir']} | {r['loss']:g} | {label(r['stack'], r['cc'], r['dir'])} | "
            f"{r['buf'] if r['stack'] == 'sluice' else 'autotuned'} | {r['run']} | {t} | {gp} | "
            f"{sc['rto']} | {sc['rtx']} | {sc['tlp']} | {sc['rec']} | {sc['dsack']} | "
            f"{'%d / %d' % ls if ls else '—'} | {cpu} | {note} |")
    return "\n".join(lines)


def cpu_busy(r):
    try:
        out = []
        for a, b in zip(r["cpu"], r["cpu_end"]):
            tot = sum(b) - sum(a)
            idle = (b[3] + b[4]) - (a[3] + a[4])
            out.append(f"{100 * (tot - idle) / tot:.0f}%" if tot > 0 else "?")
        return " / ".join(out)
    except (KeyError, TypeError, ValueError):
        return "?"


def markdown(res, runs, pts, cfg, png_rel):
    m = res["machine"]
    lines = [BEGIN, ""]
    lines.append(f"Generated by `make bench` (part `loss`) on {res['date']} in "
                 f"{res['elapsed_s']:.0f} s. Read the ratios and every run: the absolute "
                 "figures move with whatever else shares the two CPUs (the load average below).")
    lines.append("")
    lines.append(f"- **Machine:** {m['cpu_model']}, {m['cores']} cores"
                 f"{' (virtual machine)' if m['virtual_machine'] else ''}, {m['memory_mib']} MiB, "
                 f"Linux {m['kernel']}.")
    mode = res.get("xdp_mode") or "?"
    lines.append(f"- **Link and mode:** veth pairs between network namespaces; sluice {mode} "
                 "(the gate on the sluice server's veth only); the kernel server's veth carries "
                 "no XDP program. Loss: `tests/net/drop.bpf.c` on the client's veths (XDP for "
                 "frames arriving, tc egress for frames leaving, silent), TSO/GSO off and "
                 "`gso_max_segs 1` on them.")
    lines.append(f"- **Kernel TCP** (inside the namespaces): default congestion control "
                 f"`{cfg.get('tcp_congestion_control')}`, allowed `"
                 f"{cfg.get('tcp_allowed_congestion_control')}`, available `"
                 f"{cfg.get('tcp_available_congestion_control')}` (the bench sets cubic / reno / "
                 f"bbr per socket with TCP_CONGESTION); tcp_rmem `{cfg.get('tcp_rmem')}`, tcp_wmem "
                 f"`{cfg.get('tcp_wmem')}` (autotuned), SACK {cfg.get('tcp_sack')}, RACK "
                 f"(tcp_recovery) {cfg.get('tcp_recovery')}, tcp_no_metrics_save "
                 f"{cfg.get('tcp_no_metrics_save')}.")
    lines.append(f"- **sluice:** `--tcp-buf` {buf_of(pts, 'direct')} on the direct link "
                 f"(sluice's default is {cfg.get('sluice_default_buf')} bytes per direction), "
                 f"{buf_of(pts, 'relay')} through the relay; one fresh `sluice run` per transfer.")
    lines.append(f"- **Runs:** {cfg.get('bytes')} bytes each, up to {cfg.get('repeat')} per "
                 f"target and point, alternating sluice and kernel; a run is cut at "
                 f"{cfg.get('timeout_s'):g} s (reported as ≥ {cfg.get('timeout_s'):g} s and its "
                 f"ratio as a bound); a target's repeats at a point stop once its runs there took "
                 f"{cfg.get('budget_s')} s, so a timeout is not repeated. Client on CPU "
                 f"{cfg.get('gen_cpu')}, servers on CPU {cfg.get('srv_cpu')}; NAPI: "
                 f"{cfg.get('napi')}.")
    if cfg.get("relay"):
        lines.append(f"- **Relay:** sluice-relay, {cfg.get('relay_delay_ms')} ms each way "
                     f"({2 * float(cfg.get('relay_delay_ms', 0)):g} ms RTT), rate "
                     f"{cfg.get('relay_rate') or 'none'} with a {cfg.get('relay_limit')}-frame "
                     "queue, the loss rate in each direction, seed = run number (sluice run r and "
                     "kernel run r meet the same loss decisions frame by frame).")
    la = res.get("loadavg", ["", ""])
    lines.append(f"- **Load average** at start / end: {la[0].split(' ')[0] if la[0] else '?'} / "
                 f"{la[1].split(' ')[0] if la[1] else '?'}.")
    nfail = sum(1 for r in runs if not r["ok"])
    nto = sum(1 for r in runs if r["ok"] and r["timed_out"])
    lines.append(f"- **Runs:** {len(runs)}, of which {nto} hit the timeout and "
                 f"{nfail} failed{' (listed below)' if nfail else ''}; every other transfer was "
                 "verified (byte count and every byte's value for down and send; for up the "
                 "count acknowledged and, for the kernel sink, every byte).")
    lines.append("")
    lines.append("Times are seconds for the transfer (median of the runs; a median that is a "
                 "timeout shows as ≥, with the median bytes delivered by then). *ratio* = "
                 "sluice's time / the kernel's with the same algorithm: below 1 sluice is "
                 f"faster; the target is ≤ {TARGET}; ≤ / ≥ where one side hit the timeout; when "
                 "both did, ~ compares the bytes each delivered by the timeout (kernel's / "
                 "sluice's, an estimate marked *yes?* / *no?*). In *up* the "
                 "Linux client sends with the named algorithm in both columns; what differs is "
                 "the receiver (sluice or the kernel). *sender RTOs* are the retransmission "
                 "timeouts of whoever sent the data (sluice's `tcp_rto_expired`, or "
                 "`TcpExtTCPTimeouts` of the sending kernel's namespace).")
    for part, title in (("direct", "Direct veth link, random loss on the client's veth"),
                        ("relay", "Through the relay: 10 ms RTT")):
        if not any(k[0] == part for k in pts):
            continue
        buf = buf_of(pts, part)
        lines += ["", f"#### {title}", ""]
        for d, dt in (("down", "down: the server sends 100 MiB (sluice `--http` / khttp → "
                                "`tcpbulk get`)"),
                      ("up", "up: the Linux client sends (`tcpbulk send --cc X` → sluice "
                             "`--discard` / `tcpbulk sink`)"),
                      ("send", "send: the server opens the connection and sends (sluice "
                               "`--send` / `tcpbulk send` → `tcpbulk sink` in the client)")):
            if not any(k[0] == part and k[1] == d for k in pts):
                continue
            lines += [f"**{dt}**" + (f" — sluice `--tcp-buf {buf}`" if buf != "default" else ""),
                      "", direction_table(pts, part, d, buf), ""]
        db = default_buf_rows(pts, part, buf)
        if db:
            lines += ["sluice with its default buffer, through the same relay (the window "
                      "limits it to about buffer / RTT):", "", db, ""]
        if part == "relay":
            rel = relay_summary(runs)
            if rel:
                lines += [rel, ""]
    if png_rel:
        lines += ["", f"![goodput against loss]({png_rel})", "",
                  "Goodput (100 MiB × 8 / time, log scale) against the loss rate; hollow markers "
                  "pointing down are runs cut by the timeout (the goodput is at most that)."]
    fails = [r for r in runs if not r["ok"]]
    if fails:
        lines += ["", "**Failed runs:**", ""]
        for r in fails:
            lines.append(f"- {r['part']} {r['dir']} {r['loss']:g} % {r['stack']} {r['cc']} run "
                         f"{r['run']}: {r['error']}")
    lines += ["", "<details><summary>Every run</summary>", "", detail_table(runs), "",
              "</details>", "", END]
    return "\n".join(lines) + "\n"


def relay_summary(runs):
    rel = [r for r in runs if r["part"] == "relay" and r.get("relay")]
    if not rel:
        return ""
    q = {}
    for r in rel:
        for x in r["relay"]:
            k = (r["loss"], x["dir"])
            a = q.setdefault(k, [0, 0, 0, 0, 0])
            a[0] += x.get("dropped_queue", 0)
            a[1] += x.get("dropped_loss", 0)
            a[2] += x.get("rx_ring_drops", 0)
            a[3] += x.get("dropped_tx", 0)
            a[4] = max(a[4], x.get("max_queue_frames", 0))
    parts = [f"{loss:g} % {d}: {a[0]} tail drops, {a[1]} random losses, {a[2]} ring drops, "
             f"{a[3]} tx drops, queue up to {a[4]} frames" for (loss, d), a in sorted(q.items())]
    return ("Relay counters over all runs (ab = client → server, ba = server → client): " +
            "; ".join(parts) + ".")


# --- plot --------------------------------------------------------------------------------------
def plot(runs, pts, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is missing (make deps installs python3-matplotlib): no plot"
    parts = [p for p in ("direct", "relay") if any(k[0] == p for k in pts)]
    dirs = [d for d in ("down", "up", "send") if any(k[1] == d for k in pts)]
    fig, axes = plt.subplots(len(parts), len(dirs), figsize=(5.2 * len(dirs), 4.2 * len(parts)),
                             squeeze=False)
    style = {("sluice", "cubic"): ("tab:blue", "-", "o"), ("kernel", "cubic"): ("tab:blue", "--", "s"),
             ("sluice", "newreno"): ("tab:green", "-", "o"), ("sluice", "reno"): ("tab:green", "-", "o"),
             ("kernel", "reno"): ("tab:green", "--", "s"), ("sluice", "bbr"): ("tab:red", "-", "o"),
             ("kernel", "bbr"): ("tab:red", "--", "s")}
    for i, part in enumerate(parts):
        buf = buf_of(pts, part)
        for j, d in enumerate(dirs):
            ax = axes[i][j]
            losses = point_keys(pts, part, d)
            if not losses:
                ax.set_visible(False)
                continue
            xs = {l: n for n, l in enumerate(losses)}
            for st, cc in (UP if d == "up" else DOWN):
                col, ls, mk = style[(st, cc)]
                X, Y = [], []
                for l in losses:
                    rs = pts.get((part, d, l, st, cc, buf if st == "sluice" else "default"), [])
                    c = cell(rs)
                    for r in rs:  # every run, faint; timeouts as hollow down-triangles
                        if not r["ok"]:
                            continue
                        g = r["want_bytes"] * 8 / r["seconds"] / 1e9
                        ax.plot(xs[l], g, "v" if r["timed_out"] else mk, color=col, alpha=0.35,
                                ms=5, mfc="none" if r["timed_out"] else col)
                    if c:
                        X.append(xs[l])
                        Y.append(rs[0]["want_bytes"] * 8 / c["s"] / 1e9)
                        if c["bound"]:  # the median run was cut: at most this goodput
                            ax.plot(xs[l], Y[-1], "v", color=col, ms=9, mfc="none")
                if X:
                    ax.plot(X, Y, ls, color=col, marker=mk, label=label(st, cc, d))
            ax.set_yscale("log")
            ax.set_xticks(range(len(losses)))
            ax.set_xticklabels([f"{l:g} %" for l in losses])
            ax.set_xlabel("random loss (each direction)")
            ax.set_ylabel("goodput, Gbit/s")
            ax.set_title(f"{part} {'(10 ms RTT) ' if part == 'relay' else ''}{d}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle("100 MiB transfers: sluice vs Linux with the same loss (busy 2-vCPU VM)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--png")
    a = ap.parse_args()
    ld = os.path.join(a.out, "loss")
    runs = runs_of(a.out)
    if not runs:
        sys.exit("loss_report: no runs in " + os.path.join(ld, "raw.jsonl"))
    cfg = report.load_json(os.path.join(ld, "config.json"), {}) or {}
    pts = summarize(runs)
    mm = re.search(r"\((\w+) XDP, ([\w-]+) mode(, TX checksum offload)?\)", report.read(os.path.join(ld, "mode-sluice.txt")))
    res = {
        "date": report.read(os.path.join(ld, "date.txt")) or
        datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "elapsed_s": float(report.read(os.path.join(ld, "elapsed.txt"), "0") or 0),
        "machine": report.machine(),
        "xdp_mode": f"{mm.group(1)} XDP, {mm.group(2)} mode{mm.group(3) or ''}" if mm else None,
        "config": cfg,
        "loadavg": [report.read(os.path.join(ld, "loadavg-start.txt")),
                    report.read(os.path.join(ld, "loadavg-end.txt"))],
        "points": summary_json(runs, pts),
        "runs": runs,
    }
    png_rel = None
    if a.png:
        err = plot(runs, pts, a.png)
        if err:
            print("loss_report: " + err, file=sys.stderr)
        else:
            png_rel = os.path.relpath(a.png, os.path.dirname(os.path.abspath(a.doc)))
    with open(os.path.join(ld, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    allr = report.load_json(os.path.join(a.out, "results.json"), {}) or {}
    if isinstance(allr, dict):
        allr["loss"] = {k: v for k, v in res.items()}
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump(allr, f, indent=1)
            f.write("\n")
    md = markdown(res, runs, pts, cfg, png_rel)
    doc = report.read(a.doc, "# Benchmarks\n")
    if BEGIN in doc and END in doc:
        pre, rest = doc.split(BEGIN, 1)
        post = rest.split(END, 1)[1]
        doc = pre + md.rstrip("\n") + post
    else:
        # Before the udp/tcp results section when there is one, else at the end.
        mark = "<!-- bench:results:begin -->"
        if mark in doc:
            pre, post = doc.split(mark, 1)
            doc = pre + md + "\n" + mark + post
        else:
            doc = doc.rstrip("\n") + "\n\n" + md
    with open(a.doc, "w") as f:
        f.write(doc if doc.endswith("\n") else doc + "\n")


if __name__ == "__main__":
    main()
