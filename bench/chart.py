#!/usr/bin/env python3
"""Charts of `make bench` (issue 10 item 6), drawn from build/bench/results.json with matplotlib.

    chart.py [--results build/bench/results.json] [--out-dir docs]

writes two PNGs into --out-dir:

- bench-ratios.png: sluice's throughput divided by the kernel's, for every measurement the
  results hold (UDP echo, TCP bulk up and down, HTTP; IPv4 and, where it ran, IPv6; TCP bulk
  also at MTU 9000, IPv4, where that pass ran, beside the IPv4 bars at 1500). Per
  measurement two bars: against the kernel WITHOUT any XDP program on the link (the headline:
  what a user runs without sluice) and against the kernel with the sluice gate attached (the
  same receive path as sluice's frames). A line at 1.0 and issue 10's targets (UDP echo ≥ 1.5,
  or ≥ 0.95 × the raw AF_XDP reflector where the reflector cannot reach 1.5 — drawn dotted
  where the reflector was measured; HTTP ≥ 1.5; TCP bulk ≥ 1.0). Every ratio is of two
  medians from the same part of the same run, as in the tables of docs/benchmarks.md.
- bench-instructions.png: the instruction counts over the pipe device, split into the parts
  the report lists (which add up to the figure): the UDP echo per echoed datagram (batch 64,
  bench/pipe_echo.c) against its budget of 400, and the TCP bulk receiver per full-size segment
  (bench/pipe_tcp.c) against its budget of 500. The TCP budget excludes the payload copies
  (libc's memcpy family): they are taken out of the parts they lie in and drawn hatched at the
  end of the bar, outside the budget.

Titles name the machine, the XDP mode and the dates of the parts from results.json.
bench/report.py calls draw(); without matplotlib draw() returns a one-line reason and writes
nothing. Standard library apart from matplotlib.
"""
import argparse
import json
import os
import sys

UDP_TARGET = 1.5
UDP_REFLECTOR_SHARE = 0.95
HTTP_TARGET = 1.5
BULK_TARGET = 1.0
UDP_BUDGET = 400
TCP_BUDGET = 500

RATIOS_PNG = "bench-ratios.png"
INSTRUCTIONS_PNG = "bench-instructions.png"


def _ratio(a, b):
    return a / b if a and b else None


def _fam_label(fam, mtu=1500):
    return f"IPv{fam}" + (f" MTU {mtu}" if mtu != 1500 else "")


def _variant(label):
    """Where a row goes among the same measurement's: IPv4, IPv4 at MTU 9000, IPv6."""
    v = label.split("\n")[1]
    return ("IPv6" in v, "MTU" in v)


def ratio_rows(r):
    """One row per measurement and family that has a sluice figure: (label, vs kernel,
    vs kernel with gate, target, alternative target or None, kind)."""
    rows = []

    def udp(u, fam):
        t = (u or {}).get("targets") or {}
        s = (t.get("sluice") or {}).get("pps_median")
        if not s:
            return
        k = (t.get("kernel") or {}).get("pps_median")
        g = (t.get("kernel_gate") or {}).get("pps_median")
        refl = (t.get("reflector") or {}).get("pps_median")
        alt = None
        if refl and k and refl / k < UDP_TARGET:  # the fallback target
            alt = UDP_REFLECTOR_SHARE * refl / k
        rows.append((f"UDP echo\n{_fam_label(fam)}", _ratio(s, k), _ratio(s, g), UDP_TARGET,
                     alt, "udp"))

    def tcp(t, fam, mtu=1500):
        if not t:
            return
        bulk, http = t.get("bulk") or {}, t.get("http") or {}
        for d in ("up", "down"):
            s, k, g = ((bulk.get(f"{d}/{x}") or {}).get("gbps_median")
                       for x in ("sluice", "kernel", "kernel_gate"))
            if s:
                rows.append((f"TCP bulk {d}\n{_fam_label(fam, mtu)}", _ratio(s, k),
                             _ratio(s, g), BULK_TARGET, None, "bulk"))
        if mtu != 1500:  # the bulk figures are what that pass is for
            return
        keys = sorted({k.rsplit("/", 1)[0] for k in http},
                      key=lambda k: (int(k.rsplit("c", 1)[1]), k))
        main = (t.get("config") or {}).get("http_conns")
        for key in keys:
            s, k, g = ((http.get(f"{key}/{x}") or {}).get("rps_median")
                       for x in ("sluice", "kernel", "kernel_gate"))
            if not s:
                continue
            path, conns = key.rsplit(" c", 1)
            # The HTTP target is judged at the main concurrency (bench/tcp_report.py).
            tgt = HTTP_TARGET if main is None or int(conns) == main else None
            rows.append((f"HTTP {path}\n{conns} conns {_fam_label(fam)}", _ratio(s, k),
                         _ratio(s, g), tgt, None, "http"))

    udp(r, 4)
    udp(r.get("udp6"), 6)
    tcp(r.get("tcp"), 4)
    tcp(r.get("tcp6"), 6)
    tcp(r.get("tcp9000"), 4, 9000)
    # Measurements together (UDP, bulk up, bulk down, HTTP by request and concurrency), IPv4
    # (then IPv4 at MTU 9000) before IPv6 within each; sorted() is stable, so the HTTP keys
    # keep their order.
    order = {"udp": 0, "bulk": 1, "http": 2}
    rows = sorted(rows, key=lambda x: (order[x[5]], "down" in x[0].split("\n")[0],
                                       x[0].split("\n")[0] if x[5] != "http" else "",
                                       _variant(x[0])))
    return rows


def machine_line(r):
    m, mode = r.get("machine") or {}, r.get("xdp_mode") or {}
    vm = " (VM)" if m.get("virtual_machine") else ""
    xm = f"{mode['xdp']} XDP, {mode['xsk']} mode" if mode.get("xdp") else "XDP mode not reported"
    return (f"{m.get('cpu_model', '?')}, {m.get('cores', '?')} cores{vm}, Linux "
            f"{m.get('kernel', '?')}; {m.get('link', 'veth')}; {xm}")


def dates_line(r):
    p = r.get("parts") or {}
    day = lambda s: s.replace("T", " ")[:16] if s else "never"
    out = [f"UDP {day(p.get('udp'))}", f"TCP {day(p.get('tcp'))}"]
    if p.get("tcp9000"):
        out.append(f"TCP MTU 9000 {day(p.get('tcp9000'))}")
    if p.get("udp6") or p.get("tcp6"):
        out += [f"UDP6 {day(p.get('udp6'))}", f"TCP6 {day(p.get('tcp6'))}"]
    return "runs: " + ", ".join(out)


def draw_ratios(plt, r, path):
    rows = ratio_rows(r)
    if not rows:
        return "no sluice throughput figures in the results: no ratio chart"
    n = len(rows)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.05 * n + 2), 6.0))
    w = 0.36
    xs = range(n)
    top = 1.6
    for i, (label, vk, vg, tgt, alt, kind) in enumerate(rows):
        for off, v, col, name in ((-w / 2, vk, "tab:blue", "sluice / kernel, no XDP (headline)"),
                                  (w / 2, vg, "tab:orange", "sluice / kernel, gate attached")):
            x = i + off
            lab = name if i == 0 else None
            if v is None:
                ax.bar(x, 0, w, color=col, label=lab)
                ax.text(x, 0.03, "not\nmeasured", ha="center", va="bottom", fontsize=6,
                        rotation=90, color="0.35")
                continue
            ax.bar(x, v, w, color=col, label=lab)
            ax.text(x, v + 0.02, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
            top = max(top, v)
        if tgt is not None:
            ax.hlines(tgt, i - 0.48, i + 0.48, colors="tab:red", linestyles="-", linewidth=2,
                      label="issue 10 target (vs the kernel without XDP)"
                      if not any(rw[3] is not None for rw in rows[:i]) else None)
            top = max(top, tgt)
        if alt is not None:
            ax.hlines(alt, i - 0.48, i + 0.48, colors="tab:red", linestyles=":", linewidth=2,
                      label=f"UDP alternative: {UDP_REFLECTOR_SHARE} × the reflector "
                            "(reflector < 1.5 × kernel)"
                      if not any(rw[4] is not None for rw in rows[:i]) else None)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([rw[0] for rw in rows], fontsize=8)
    ax.set_ylabel("throughput ratio (medians): sluice / kernel")
    ax.set_ylim(0, top * 1.15)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    ax.set_title("sluice against the Linux kernel: datagrams/s, Gbit/s, requests/s\n"
                 + machine_line(r) + "\n" + dates_line(r), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


COLOURS = [("device rx", "tab:blue"), ("ingress", "tab:orange"), ("input", "tab:orange"),
           ("callback", "tab:green"), ("output", "tab:purple"), ("flush", "tab:cyan"),
           ("rest", "tab:gray")]


def _colour(name):
    low = name.lower()
    for key, col in COLOURS:
        if low.startswith(key) or f" {key}" in low.split(":", 1)[0]:
            return col
    return "tab:olive"


def instruction_bars(r):
    """[(title, [(part, value, hatched)], budget, budget label, total within the budget)]"""
    bars = []
    b64 = ((r.get("pipe") or {}).get("b64"))
    if b64:
        parts = [(k, v, False) for k, v in b64["parts_per_packet"].items()]
        bars.append((f"UDP echo over the pipe device (bench/pipe_echo.c): instructions per "
                     f"echoed 64-byte datagram, batch {b64['batch']}",
                     parts, UDP_BUDGET, f"budget {UDP_BUDGET}", b64["instructions_per_packet"]))
    rcv = (r.get("pipe_tcp") or {}).get("bulk_receiver")
    if rcv:
        parts = dict(rcv["parts_per_unit"])
        copy = rcv.get("memcpy_per_unit") or 0.0
        # Take the payload copies out of the parts their callers lie in.
        where = {"pipe_rx": "device rx", "pipe_flush": "device flush",
                 "sl_tcp_flush": "TCP output"}
        left = copy
        for caller, v in (rcv.get("memcpy_by_caller") or {}).items():
            pre = where.get(caller, "IPv4 + TCP input")
            k = next((k for k in parts if k.startswith(pre)), None)
            if k is None:
                continue
            take = min(v, parts[k], left)
            parts[k] -= take
            left -= take
        if left > 0.5:  # callers under the annotate threshold: the rest of the poll
            k = next((k for k in parts if k.startswith("rest")), None)
            if k:
                take = min(left, parts[k])
                parts[k] -= take
                left -= take
        moved = {k for k in parts if parts[k] < rcv["parts_per_unit"][k] - 0.5}
        rows = [(k + (" — less its payload copy" if k in moved else ""), v, False)
                for k, v in parts.items()]
        if copy - left > 0.5:
            rows.append(("payload copies (libc's memcpy family: the frame in from the link, the "
                         "data into the receive ring), outside the budget", copy - left, True))
        bps = rcv.get("bytes_per_segment") or rcv.get("mss") or 1448
        bars.append((f"TCP bulk receiver over the pipe device (bench/pipe_tcp.c): instructions "
                     f"per received {bps:.0f}-byte segment",
                     rows, TCP_BUDGET, f"budget {TCP_BUDGET} (without the payload copies)",
                     rcv["instructions_per_unit_excl_memcpy"]))
    return bars


def draw_instructions(plt, r, path):
    bars = instruction_bars(r)
    if not bars:
        return "no pipe-device instruction counts in the results: no instruction chart"
    xmax = max(max(sum(v for _, v, _ in parts), budget) for _, parts, budget, _, _ in bars) * 1.08
    fig, axes = plt.subplots(len(bars), 1, figsize=(10, 3.4 * len(bars) + 1.0), squeeze=False)
    from matplotlib.patches import Patch
    for ax, (title, parts, budget, blabel, within) in zip((a[0] for a in axes), bars):
        left = 0.0
        handles = []
        for name, v, hatched in parts:
            if v <= 0:
                continue
            col = "white" if hatched else _colour(name)
            ax.barh(0, v, 0.5, left=left, color=col, edgecolor="0.3",
                    hatch="///" if hatched else None)
            if v >= 45:
                ax.text(left + v / 2, 0, f"{v:.0f}", ha="center", va="center", fontsize=8,
                        color="black")
            handles.append(Patch(facecolor=col, edgecolor="0.3", hatch="///" if hatched else None,
                                 label=f"{v:.0f}  {name}"))
            left += v
        ax.vlines(budget, -0.4, 0.4, colors="tab:red", linestyles="--", linewidth=2)
        ax.text(budget, 0.42, blabel, color="tab:red", fontsize=8, ha="left", va="bottom")
        verdict = "PASS" if within <= budget else "FAIL"
        ax.text(left + xmax * 0.005, 0, f"{left:.0f} in all" + (
            f"\n{within:.0f} without the copies" if abs(left - within) > 0.5 else "") +
            f"\nbudget {budget}: {verdict}", va="center", fontsize=8)
        ax.set_xlim(0, xmax * 1.25)
        ax.set_ylim(-0.6, 0.8)
        ax.set_yticks([])
        ax.set_xlabel("instructions (callgrind, inside the stack's poll)", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.grid(True, axis="x", alpha=0.3)
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.35),
                  ncol=1, frameon=False)
    m = r.get("machine") or {}
    p = (r.get("parts") or {}).get("pipe")
    vm = " (VM)" if m.get("virtual_machine") else ""
    fig.suptitle("Instruction counts per packet over the in-memory pipe device (no kernel, no "
                 "XDP: callgrind, deterministic)\n" + f"{m.get('cpu_model', '?')}, "
                 f"{m.get('cores', '?')} cores{vm}, Linux {m.get('kernel', '?')}; counted "
                 f"{p.replace('T', ' ')[:16] if p else 'never'}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def draw(r, out_dir):
    """Both charts into out_dir. Returns (written paths, [notes]); without matplotlib no path
    and one note."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], ["matplotlib is missing (make deps installs python3-matplotlib): no charts"]
    os.makedirs(out_dir, exist_ok=True)
    done, notes = [], []
    for name, fn in ((RATIOS_PNG, draw_ratios), (INSTRUCTIONS_PNG, draw_instructions)):
        p = os.path.join(out_dir, name)
        err = fn(plt, r, p)
        if err:
            notes.append(err)
        else:
            done.append(p)
    return done, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default="build/bench/results.json")
    ap.add_argument("--out-dir", default="docs")
    a = ap.parse_args()
    with open(a.results) as f:
        r = json.load(f)
    done, notes = draw(r, a.out_dir)
    for n in notes:
        print("chart: " + n, file=sys.stderr)
    for p in done:
        print("chart: wrote " + p, file=sys.stderr)


if __name__ == "__main__":
    main()
