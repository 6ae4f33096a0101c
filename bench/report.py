#!/usr/bin/env python3
"""Report writer of `make bench` (called by bench/run.sh; standard library only, and matplotlib
for the charts when it is installed).

Reads build/bench/{raw.jsonl, server-*.json, mode-*.txt, pipe-*.json, pipe-*.annotate.txt} (UDP
over IPv4), build/bench/udp6/ (the same files of the IPv6 pass, when it ran), through
bench/tcp_report.py, build/bench/tcp/, tcp6/ and tcp9000/ (the TCP part over IPv4 at MTU 9000),
and through bench/pipe_tcp_report.py the TCP pipe-device counts (build/bench/pipe-tcp-*); writes
build/bench/results.json (the IPv6 pass under "udp6" and "tcp6", the MTU 9000 pass under
"tcp9000", the TCP pipe counts under "pipe_tcp", issue 10's instruction budgets,
PASS or FAIL, under "budgets") and replaces the generated section of docs/benchmarks.md
(between the bench:results markers; appended when the markers are missing), which links the
two charts bench/chart.py draws next to the document (docs/bench-ratios.png,
docs/bench-instructions.png; without matplotlib one line says so and the report goes on).
Without IPv6 results (a run with BENCH_FAMILIES=4, or results from before the IPv6 pass
existed) the IPv6 sections are left out; likewise the MTU 9000 section without its results.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ in bench/ for the module below
import tcp_report  # noqa: E402  (bench/tcp_report.py: the TCP part's summary and Markdown)
import pipe_tcp_report  # noqa: E402  (bench/pipe_tcp_report.py: the TCP pipe-device count)
import queues_report  # noqa: E402  (bench/queues_report.py: --queues 2 against --queues 1)
import chart  # noqa: E402  (bench/chart.py: the two PNGs, matplotlib; skipped without it)

# Issue 10's budget for the UDP echo over the pipe device: instructions per echoed datagram
# (batch 64). TCP's is pipe_tcp_report.TCP_BUDGET. Judged in the report, never in the tests.
UDP_BUDGET = 400

BEGIN = "<!-- bench:results:begin -->"
END = "<!-- bench:results:end -->"

TARGETS = [
    ("kernel", "kernel UDP socket, no XDP program on the link (baseline)"),
    ("kernel_gate", "kernel UDP socket, sluice gate attached (same path)"),
    ("reflector", "raw AF_XDP reflector, no stack (ceiling)"),
    ("sluice", "sluice `run --udp-echo`"),
]
# The IPv6 pass: the baseline is the kernel without sluice (no XDP program at all); the kernel
# with the gate attached, the same receive path as sluice's, stands beside it.
TARGETS6 = [
    ("kernel", "kernel UDP socket, no XDP program on the link (baseline)"),
    ("kernel_gate", "kernel UDP socket, sluice gate attached (same path)"),
    ("reflector", "raw AF_XDP reflector, no stack (ceiling)"),
    ("sluice", "sluice `run --udp-echo`"),
]


def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def machine():
    model, flags = "unknown", ""
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name") and model == "unknown":
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = line.split(":", 1)[1]
    mem = 0
    for line in read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // 1024
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "memory_mib": mem,
        "virtual_machine": " hypervisor" in flags,
        "link": "veth pair between two network namespaces",
    }


def xdp_mode(out):
    """native/generic and copy/zero-copy, from what the reflector and sluice printed."""
    mode = {"xdp": None, "xsk": None, "source": None}
    for name in ("sluice", "reflector"):
        m = re.search(r"\((\w+) XDP, ([\w-]+) mode(, TX checksum offload)?\)",
                      read(os.path.join(out, f"mode-{name}.txt")))
        if m:
            mode = {"xdp": m.group(1), "xsk": m.group(2), "source": name,
                    "extra": m.group(3) or ""}
            break
    gate = read(os.path.join(out, "mode-kernel_gate.txt"))
    if gate:
        mode["gate_attach"] = "generic" if gate == "xdpgeneric" else "native" if gate == "xdp" else gate
    return mode


def summarize(runs):
    piped = [r for r in runs if r["mode"] == "pipelined"]
    closed = [r for r in runs if r["mode"] == "closed"]
    t = {}
    if piped:
        pps = [r["pps"] for r in piped]
        med = statistics.median(pps)
        mid = min(piped, key=lambda r: abs(r["pps"] - med))
        t["pps_runs"] = pps
        t["pps_median"] = med
        t["pipelined_runs"] = piped
        for k in ("sent", "received", "lost", "mismatch", "unexpected", "wrong_flow", "send_errors"):
            t[k] = sum(r[k] for r in piped)
        t["cpu_median_run"] = mid.get("cpu", [])
        # The last replies after sending stopped: how long the server held on to them.
        t["tail_ms_max"] = max(r.get("tail_ms", 0) for r in piped)
        # CPU time per echoed packet on each CPU (busy share x interval / packets), median run.
        t["cpu_ns_per_packet"] = {
            c["cpu"]: c["busy"] * mid["seconds"] * 1e9 / mid["measured"]
            for c in mid.get("cpu", []) if mid.get("measured")}
    if closed:
        c = closed[-1]
        t["closed"] = c
        for k in ("p50_us", "p90_us", "p99_us", "p999_us", "mean_us", "min_us", "max_us", "samples"):
            t[k] = c[k]
        for k in ("lost", "mismatch", "unexpected", "wrong_flow"):
            t["closed_" + k] = c[k]
    # Replies that arrived after their datagram was counted lost: late, not lost.
    t["late"] = sum(r["unexpected"] for r in runs)
    t["lost_for_good"] = max(0, sum(r["lost"] for r in runs) - t["late"])
    return t


def annotate_totals(path):
    """Inclusive instruction counts per file:function from callgrind_annotate --inclusive."""
    funcs, total = {}, None
    for line in read(path).splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.*?)(?:\s+\[.*\])?$", line)
        if not m:
            continue
        n = int(m.group(1).replace(",", ""))
        name = m.group(2)
        if name == "PROGRAM TOTALS":
            total = n
            continue
        fn = name.rsplit(":", 1)[-1]
        funcs[fn] = max(funcs.get(fn, 0), n)
    return total, funcs


def pipe_results(out):
    res = {"method": "valgrind --tool=callgrind --toggle-collect=sl_stack_poll; "
                     "(Ir(n2) - Ir(n1)) / (n2 - n1)"}
    for batch in ("b64", "b1", "reply"):
        j1 = load_json(os.path.join(out, f"pipe-{batch}-n1.json"))
        j2 = load_json(os.path.join(out, f"pipe-{batch}-n2.json"))
        t1, f1 = annotate_totals(os.path.join(out, f"pipe-{batch}-n1.annotate.txt"))
        t2, f2 = annotate_totals(os.path.join(out, f"pipe-{batch}-n2.annotate.txt"))
        if not (j1 and j2 and t1 is not None and t2 is not None):
            continue
        dn = j2["echoed"] - j1["echoed"]
        per = lambda fn: (f2.get(fn, 0) - f1.get(fn, 0)) / dn
        total = (t2 - t1) / dn
        # Parts that do not nest in each other (all inside sl_stack_poll).
        dev_rx = per("pipe_rx")
        dev_flush = per("pipe_flush")
        app = per("on_udp")  # the echo callback: sl_udp_write and everything below it
        ingress = per("sl_ipv4_input") - app
        parts = {
            "device rx (pipe_rx: copy in from the link)": dev_rx,
            "ingress: IPv4 + UDP input, checks, checksum, demux (excl. callback)": ingress,
            "echo callback: sl_udp_write (UDP/IPv4 output, route, ARP, checksum, copy)": app,
            "device flush (pipe_flush: copy out to the link)": dev_flush,
            "rest of the poll (Ethernet dispatch, release, timers, counters)":
                total - dev_rx - ingress - app - dev_flush,
        }
        res[batch] = {
            "batch": j2["batch"],
            "packets": [j1["echoed"], j2["echoed"]],
            "instructions": [t1, t2],
            "instructions_per_packet": total,
            "parts_per_packet": parts,
            "top_inclusive_per_packet": {
                fn: per(fn) for fn in sorted(f2, key=lambda k: -(f2[k] - f1.get(k, 0)))[:25]
                if per(fn) >= 1
            },
            "verified": j1["bad_replies"] == 0 and j2["bad_replies"] == 0 and
                        j1["echoed"] == j1["sent"] and j2["echoed"] == j2["sent"],
        }
    for name, key in (("pipe-native.json", "native_b64"), ("pipe-native-b1.json", "native_b1")):
        j = load_json(os.path.join(out, name))
        if j:
            res[key] = j
    return res


def budgets(r):
    """Issue 10's instruction budgets, each judged PASS or FAIL against the pipe counts (the
    report says so; nothing fails on it)."""
    res = []
    b64 = (r.get("pipe") or {}).get("b64")
    if b64:
        v = b64["instructions_per_packet"]
        res.append({"key": "udp", "name": f"UDP echo: instructions per echoed datagram (batch "
                                          f"{b64['batch']})",
                    "target": UDP_BUDGET, "measured": v, "pass": v <= UDP_BUDGET})
    t = (r.get("pipe_tcp") or {}).get("budget")
    if t:
        res.append(dict(t, key="tcp"))
    return res


def fmt_pps(x):
    return f"{x / 1e6:.3f} M" if x >= 1e6 else f"{x / 1e3:.1f} k"


def ratio(a, b):
    return a / b if a and b else None


def markdown(r, charts=None):
    """charts: {"ratios": path, "instructions": path} relative to the document, for the PNGs
    bench/chart.py drew in this run; "note": why none were drawn."""
    charts = charts or {}
    m, mode = r["machine"], r["xdp_mode"]
    cfg = r["config"]
    L = [BEGIN, ""]
    L.append(f"Generated by `make bench` on {r['date']} in {r['elapsed_s']:.0f} s.")
    parts = r.get("parts") or {}
    this = (parts.get("this_run") or "").split(",")
    ran = [p for p in this if p in ("udp", "tcp")]
    fams = [f for f in str(parts.get("families") or "4").split(",") if f in ("4", "6")]
    mtus = [x for x in str(parts.get("mtus") or "1500").split(",") if x in ("1500", "9000")]
    last = (f"UDP: {parts.get('udp') or 'never'}, TCP: {parts.get('tcp') or 'never'}, TCP at "
            f"MTU 9000: {parts.get('tcp9000') or 'never'}, UDP over IPv6: "
            f"{parts.get('udp6') or 'never'}, TCP over IPv6: {parts.get('tcp6') or 'never'}"
            + (f", the pipe-device counts: {parts['pipe']}" if parts.get("pipe") else "")
            + (f", queues: {parts['queues']}" if parts.get("queues") else ""))
    # Everything this section shows was measured now: both families of udp and tcp (the pipe
    # counts come with udp over IPv4), tcp over IPv4 at both MTUs when there are MTU 9000
    # results, and the queues part when it has results at all.
    complete = (ran == ["udp", "tcp"] and fams == ["4", "6"] and
                ("1500" in mtus and ("9000" in mtus or not parts.get("tcp9000"))) and
                ("queues" in this or not parts.get("queues")))
    if parts.get("this_run") and not complete:
        what = []
        mtu_only = "tcp" in ran and "4" in fams and mtus != ["1500", "9000"]
        if ran:
            what.append(" and ".join(f"`{p}`" for p in ran) + " over " +
                        " and ".join("IPv" + f for f in fams)
                        + (f" (TCP over IPv4 at MTU {' and '.join(mtus)} only)" if mtu_only else ""))
        if "queues" in this:
            what.append("`queues`")
        if "pipe" in this or ("udp" in ran and "4" in fams):
            what.append("the pipe-device instruction counts")
        knobs = f"`BENCH_PARTS={' '.join(this)}`" + (
            f", `BENCH_MTUS={' '.join(mtus)}`" if mtu_only else "")
        L.append(f"This run measured only {', '.join(what) or 'none of these parts'} "
                 f"({knobs}); the other figures below are from their last run ({last}).")
    L.append("")
    L.append(f"- **Machine:** {m['cpu_model']}, {m['cores']} cores"
             f"{' (virtual machine)' if m['virtual_machine'] else ''}, {m['memory_mib']} MiB, "
             f"Linux {m['kernel']}.")
    xm = f"{mode['xdp']} XDP, {mode['xsk']} mode{mode.get('extra', '')}" if mode.get("xdp") else "not measured"
    L.append(f"- **Link and mode:** {m['link']}; AF_XDP targets (UDP): {xm}"
             f" (gate attached in {mode.get('gate_attach', '?')} mode).")
    L.append(f"- **Load average** at start / end: {r['loadavg'][0].split(' ')[0] if r['loadavg'][0] else '?'}"
             f" / {r['loadavg'][1].split(' ')[0] if r['loadavg'][1] else '?'}.")
    inter = r["interference"]
    if inter["by_command"]:
        who = ", ".join(f"`{p['comm']}` {p['cpu_s']:.1f} s" for p in inter["by_command"][:6])
        L.append(f"- **Warning: the machine was not idle.** Other processes used "
                 f"{inter['total_cpu_s']:.1f} s of CPU during the {r['elapsed_s']:.0f} s run ({who}). "
                 f"Expect depressed, noisy numbers; re-run `make bench` on an idle machine.")
    else:
        L.append(f"- **Other load:** none seen (other processes used {inter['total_cpu_s']:.1f} s "
                 f"of CPU during the run).")
    L.append("")
    if charts.get("ratios") or charts.get("instructions"):
        L.append("Charts (`bench/chart.py`, drawn from `build/bench/results.json` by this run):")
        L.append("")
        if charts.get("ratios"):
            L.append("- sluice's throughput divided by the kernel's for every measurement below, "
                     "against the kernel without XDP (the headline) and with the gate attached, "
                     "with issue 10's targets:")
            L.append("")
            L.append(f"  ![sluice / kernel throughput ratios]({charts['ratios']})")
            L.append("")
        if charts.get("instructions"):
            L.append("- the instructions per packet over the pipe device, part by part, against "
                     "the budgets of 400 (UDP echo) and 500 (TCP bulk receiver, without the "
                     "payload copies):")
            L.append("")
            L.append(f"  ![instructions per packet over the pipe device]"
                     f"({charts['instructions']})")
            L.append("")
    elif charts.get("note"):
        L.append(f"No charts in this run: {charts['note']}.")
        L.append("")
    L.append("### UDP echo")
    L.append("")
    L.extend(udp_markdown(r, cfg, 4))
    p = r["pipe"]
    if "b64" in p:
        b64, b1 = p["b64"], p.get("b1")
        line = (f"**Stack alone** (pipe device, callgrind, inside `sl_stack_poll`): "
                f"**{b64['instructions_per_packet']:.0f} instructions per echoed packet** with "
                f"{b64['batch']} frames per poll")
        if b1:
            line += f", {b1['instructions_per_packet']:.0f} with one frame per poll"
        rp = p.get("reply")
        if rp:
            line += (f"; through the reply in place (`sl_udp_reply`, an addition, not the "
                     f"budget's figure) {rp['instructions_per_packet']:.0f}")
        nat = p.get("native_b64")
        if nat:
            line += (f"; natively {nat['poll_ns_per_packet']:.0f} ns per packet inside "
                     f"`sl_stack_poll` ({1e3 / nat['poll_ns_per_packet']:.1f} M packets/s of one core)")
        L.append(line + ". Every reply verified: " + ("yes" if b64["verified"] else "**NO**") + ".")
        L.append("")
        L.append("| part of one echo (batch %d) | instructions |" % b64["batch"])
        L.append("|---|---:|")
        for k, v in b64["parts_per_packet"].items():
            L.append(f"| {k} | {v:.0f} |")
        L.append("")
    ub = next((b for b in r.get("budgets") or [] if b["key"] == "udp"), None)
    if ub:
        L.append(pipe_tcp_report.budget_line(ub))
        L.append("")
    L.extend(tcp_report.markdown(r.get("tcp")))
    L.extend(tcp_report.markdown(r.get("tcp9000"), mtu=9000))
    L.extend(pipe_tcp_report.markdown(r.get("pipe_tcp"), (r.get("parts") or {}).get("pipe")))
    L.extend(families_markdown(r))
    u6 = r.get("udp6")
    if u6:
        L.append("#### UDP echo over IPv6: every run")
        L.append("")
        L.extend(udp_markdown(u6, cfg, 6))
    L.extend(tcp_report.markdown(r.get("tcp6"), family=6))
    L.extend(queues_report.markdown(r.get("queues")))
    L.append(END)
    return "\n".join(L) + "\n"


def udp_markdown(u, cfg, family):
    """The UDP echo tables of one family: u is results.json itself (IPv4: its "targets",
    "servers", "ratios", "napi", "perf_sluice") or its "udp6" object."""
    L = []
    repeat = cfg.get("repeat6", cfg.get("repeat")) if family == 6 else cfg["repeat"]
    if family == 6:
        mode = u.get("xdp_mode") or {}
        xm = f"{mode['xdp']} XDP, {mode['xsk']} mode{mode.get('extra', '')}" if mode.get("xdp") else "not measured"
        L.append(f"IPv6 pass run on {u.get('date') or '?'}: the same link, CPUs and load as the "
                 "IPv4 tables, the addresses fd00:X::1 (generator), ::2 (kernel), ::3 (sluice, "
                 f"via the gate); sluice: {xm} (gate attached in "
                 f"{mode.get('gate_attach', '?')} mode).")
        L.append("")
    L.append(f"- **Load:** {cfg['payload']}-byte UDP payloads; pipelined: {cfg['flows']} flows, "
             f"window {cfg['window']}, sendmmsg batches of {cfg['batch']}, {cfg['seconds']} s "
             f"after {cfg['warmup']} s warm-up, median of {repeat} runs; closed loop: one "
             f"datagram in flight, {cfg['closed_seconds']} s. Generator on CPU {cfg['gen_cpu']}, "
             f"server on CPU {cfg['srv_cpu']}.")
    L.append("")
    L.append(f"- **Server receive work:** {u.get('napi', '?')}.")
    L.append("")
    L.append("| target | echoed pps (median) | runs | p50 µs | p99 µs | p99.9 µs | lost / late / bad "
             "| tail ms | srv CPU busy | srv CPU ns / echo |")
    L.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for key, desc in (TARGETS6 if family == 6 else TARGETS):
        t = u["targets"].get(key)
        if not t or "pps_median" not in t:
            why = ((u.get("servers") or {}).get(key) or {}).get("unavailable", "not run")
            L.append(f"| {desc} | — | {why} | | | | | | | |")
            continue
        cpu = {c["cpu"]: c["busy"] for c in t.get("cpu_median_run", [])}
        busy = f"{cpu.get(cfg['srv_cpu'], 0) * 100:.0f}%"
        # A datagram given up on whose reply came later counts as late, not lost.
        late = t["unexpected"] + t.get("closed_unexpected", 0)
        lost = max(0, t["lost"] + t.get("closed_lost", 0) - late)
        runs = ", ".join(fmt_pps(p) for p in t["pps_runs"])
        L.append(f"| {desc} | **{fmt_pps(t['pps_median'])}** | {runs} | {t.get('p50_us', 0):.1f} | "
                 f"{t.get('p99_us', 0):.1f} | {t.get('p999_us', 0):.1f} | "
                 f"{lost} / {late} / "
                 f"{t['mismatch'] + t['wrong_flow'] + t.get('closed_mismatch', 0)} | "
                 f"{t.get('tail_ms_max', 0):.1f} | {busy} | "
                 f"{t.get('cpu_ns_per_packet', {}).get(cfg['srv_cpu'], 0):.0f} |")
    drops = []
    for key, _ in TARGETS:
        d = (u["targets"].get(key) or {}).get("veth_drops")
        if d and any(d.values()):
            drops.append(f"{key} " + ", ".join(f"{k} {v}" for k, v in d.items() if v))
    L.append("")
    if drops:
        L.append("Datagrams the veth pair itself dropped during the pipelined runs (its ring towards "
                 "a NAPI that is behind): " + "; ".join(drops) + ".")
        L.append("")
    L.append("Columns: *runs* are the pipelined runs (the median is the figure); p50/p99/p99.9 are "
             "closed-loop round-trip times; *lost / late / bad*: datagrams never answered / "
             "answered only after the 50 ms timeout (whole windows of 256 at once mean the path "
             "stalled for that long) / replies that were not byte-for-byte the datagram sent; "
             "*tail ms*: how long "
             "after the generator stopped sending the last reply arrived (worst run); *srv CPU "
             "busy*: the server CPU's busy share in the median run (the generator spins, so its CPU "
             "is always 100%); *srv CPU ns / echo*: server-CPU time per echoed datagram, everything "
             "that ran there included.")
    L.append("")
    perf = u.get("perf_sluice")
    if perf:
        L.append(f"Where the server CPU went while sluice echoed {fmt_pps(perf['pps'])} datagrams/s "
                 f"(perf cpu-clock samples of CPU {cfg['srv_cpu']}, 3 s):")
        L.append("")
        L.append("| who | share |")
        L.append("|---|---:|")
        for k, v in perf["groups"].items():
            L.append(f"| {k} | {v:.1f}% |")
        L.append("")
        L.append("Hottest symbols: " + ", ".join(
            f"`{s['sym']}` {s['pct']:.1f}%" for s in perf["top_symbols"][:12]) + ".")
        L.append("")
    rt = u.get("ratios")
    if rt:
        if family == 6:
            L.append("Ratios (pps; latency is p50, lower is better). The baseline is the kernel "
                     "without sluice, on a veth with no XDP program at all; the kernel with the "
                     "gate attached (the receive path sluice's frames take: veth NAPI on the "
                     "server CPU) is beside it. The reflector handles IPv4 only and is not "
                     "measured here.")
        else:
            L.append("Ratios (pps; latency is p50, lower is better). The baseline is the kernel "
                     "without sluice, on a veth with no XDP program at all; the kernel with the "
                     "gate attached (an XDP program on the veth changes the kernel's receive "
                     "path: NAPI, no GSO from the peer) is beside it as the same-path "
                     "comparison, and the raw AF_XDP reflector as the ceiling of the link.")
        L.append("")
        L.append("| ratio | pps | p50 latency |")
        L.append("|---|---:|---:|")
        for name, v in rt.items():
            pv = f"{v['pps']:.2f}" if v.get("pps") else "—"
            lv = f"{v['p50']:.2f}" if v.get("p50") else "—"
            L.append(f"| {name} | {pv} | {lv} |")
        L.append("")
    return L


def _fmt(v, kind):
    if v is None:
        return "—"
    if kind == "pps":
        return fmt_pps(v)
    if kind == "us":
        return f"{v:.1f} µs"
    if kind == "gbps":
        return f"{v:.2f} Gbit/s"
    return f"{v / 1e3:.1f} k/s"


def families_markdown(r):
    """IPv6 beside IPv4: one row per measurement and family, the kernel without sluice (no XDP
    program at all) first, the kernel with the gate attached beside it. Empty without IPv6
    results."""
    u6, t6 = r.get("udp6"), r.get("tcp6")
    if not u6 and not t6:
        return []
    u4, t4 = {"targets": r.get("targets") or {}}, r.get("tcp") or {}
    m = r["machine"]
    L = ["### IPv6 beside IPv4", ""]
    mode = (u6 or {}).get("xdp_mode") or (t6 or {}).get("xdp_mode") or {}
    xm = f"{mode['xdp']} XDP, {mode['xsk']} mode{mode.get('extra', '')}" if mode.get("xdp") else "mode not reported"
    parts = r.get("parts") or {}
    L.append(f"The same machine ({m['cpu_model']}, {m['cores']} cores"
             f"{', virtual machine' if m['virtual_machine'] else ''}, Linux {m['kernel']}), the "
             f"same veth pair and CPUs; the IPv6 pass ran after the IPv4 one (UDP over IPv6: "
             f"{parts.get('udp6') or 'never'}, TCP over IPv6: {parts.get('tcp6') or 'never'}), "
             f"sluice in {xm}, gate attached in {mode.get('gate_attach') or '?'} mode. "
             "Ratios are within one family and one run. **The baseline is the kernel without "
             "sluice** (no XDP program on the veth); the kernel with the gate attached (the same "
             "receive path as sluice's frames) is beside it. *sluice IPv6 / IPv4* compares "
             "sluice with itself across the two passes, which ran one after the other: read it "
             "only from a run without other load.")
    L.append("")
    L.append("| measurement | family | sluice | kernel, no XDP | kernel, gate attached | "
             "**sluice / kernel without XDP** | sluice / kernel with gate | sluice IPv6 / IPv4 |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|")

    def row(what, kind, vals, lower_better=False):
        """vals: {family: (sluice, kernel, kernel_gate)}"""
        if not any(any(v is not None for v in x) for x in vals.values()):
            return
        for fam in (4, 6):
            s, k, g = vals.get(fam, (None, None, None))
            if s is None and k is None and g is None:
                continue
            s4 = vals.get(4, (None,))[0]
            cross = ratio(s, s4) if fam == 6 else None
            L.append(f"| {what} | IPv{fam} | {_fmt(s, kind)} | {_fmt(k, kind)} | {_fmt(g, kind)} | "
                     + " | ".join("—" if x is None else f"{x:.2f}" for x in
                                  (ratio(s, k), ratio(s, g), cross)) + " |")

    def udp(u, field):
        t = (u or {}).get("targets", {})
        return tuple(t.get(x, {}).get(field) for x in ("sluice", "kernel", "kernel_gate"))
    if u6:
        row("UDP echo, datagrams/s (median)", "pps",
            {4: udp(u4, "pps_median"), 6: udp(u6, "pps_median")})
        row("UDP closed-loop p50 (lower is better)", "us",
            {4: udp(u4, "p50_us"), 6: udp(u6, "p50_us")})

    def bulk(t, d):
        b = (t or {}).get("bulk", {})
        return tuple(b.get(f"{d}/{x}", {}).get("gbps_median") for x in
                     ("sluice", "kernel", "kernel_gate"))

    def http(t, key):
        h = (t or {}).get("http", {})
        return tuple(h.get(f"{key}/{x}", {}).get("rps_median") for x in
                     ("sluice", "kernel", "kernel_gate"))
    if t6:
        for d in ("up", "down"):
            row(f"TCP bulk {d}", "gbps", {4: bulk(t4, d), 6: bulk(t6, d)})
        keys = sorted({k.rsplit("/", 1)[0] for k in (t6.get("http") or {})},
                      key=lambda k: (int(k.rsplit("c", 1)[1]), k))
        for key in keys:
            row(f"HTTP GET {key.replace(' c', ', ')} connections, requests/s", "rps",
                {4: http(t4, key), 6: http(t6, key)})
    L.append("")
    if u6 and "reflector" not in u6.get("targets", {}):
        L.append("The raw AF_XDP reflector (the IPv4 ceiling) swaps IPv4 headers only and has no "
                 "IPv6 row.")
        L.append("")
    return L


def read_procs():
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        st = read(f"/proc/{pid}/stat")
        if not st or ")" not in st:
            continue
        f = st[st.rindex(")") + 2:].split()
        procs[int(pid)] = {"comm": st[st.index("(") + 1:st.rindex(")")], "ppid": int(f[1]),
                           "ticks": int(f[11]) + int(f[12]), "start": int(f[19])}
    return procs


def sampler(path, root, stop_file):
    """Until stop_file exists (or root exits): every 0.25 s note the CPU time of every process
    that is neither the bench (a descendant of root) nor a kernel thread, so that short-lived
    work of others (a test suite) is caught too."""
    import time
    seen, first = {}, True
    while os.path.exists(f"/proc/{root}") and not os.path.exists(stop_file):
        procs = read_procs()
        for pid, p in procs.items():
            key = f"{pid}:{p['start']}"
            if key not in seen:
                q, ours = p, False
                for _ in range(64):  # walk up to init
                    if q is None or q["ppid"] in (0, 1):
                        break
                    if q["ppid"] == root or pid == root:
                        ours = True
                        break
                    q = procs.get(q["ppid"])
                if ours or pid == 2 or p["ppid"] == 2:
                    seen[key] = None
                    continue
                # Present when sampling began: count only what it uses from now on.
                seen[key] = {"pid": pid, "comm": p["comm"],
                             "base": p["ticks"] if first else 0, "ticks": p["ticks"]}
            elif seen[key] is not None:
                seen[key]["ticks"] = p["ticks"]
                seen[key]["comm"] = p["comm"]
        first = False
        time.sleep(0.25)
    hz = os.sysconf("SC_CLK_TCK")
    used = [{"pid": v["pid"], "comm": v["comm"], "cpu_s": round((v["ticks"] - v["base"]) / hz, 2)}
            for v in seen.values() if v and v["ticks"] > v["base"]]
    with open(path, "w") as fh:
        json.dump(sorted(used, key=lambda x: -x["cpu_s"]), fh)


def interference(out, elapsed):
    """Other processes' CPU time during the bench, summed by command name, largest first."""
    used = load_json(os.path.join(out, "others-cpu.json"), [])
    by = {}
    for u in used:
        b = by.setdefault(u["comm"], {"comm": u["comm"], "cpu_s": 0.0, "processes": 0})
        b["cpu_s"] = round(b["cpu_s"] + u["cpu_s"], 2)
        b["processes"] += 1
    total = sum(b["cpu_s"] for b in by.values())
    res = sorted((b for b in by.values() if b["cpu_s"] >= 0.5), key=lambda b: -b["cpu_s"])
    return {"total_cpu_s": round(total, 1), "by_command": res} if total >= max(1.0, 0.01 * elapsed) \
        else {"total_cpu_s": round(total, 1), "by_command": []}


def veth_drops(out, target):
    """Datagrams dropped by the veth pair itself during a target's pipelined runs."""
    a = load_json(os.path.join(out, f"veth-{target}-before.json"))
    b = load_json(os.path.join(out, f"veth-{target}-after.json"))
    if not a or not b:
        return None
    d = {}
    for end in ("gen", "srv"):
        for dirn in ("rx", "tx"):
            d[f"{end}_{dirn}_dropped"] = (b[end][0]["stats64"][dirn]["dropped"] -
                                          a[end][0]["stats64"][dirn]["dropped"])
    return d


def perf_sluice(out, runs):
    """Group the perf profile of the server CPU: sluice's own code, the kernel on its behalf, the
    veth NAPI thread, and the rest."""
    rows = []
    for line in read(os.path.join(out, "perf-sluice-dso.txt")).splitlines():
        m = re.match(r"^\s*([\d.]+)%\s+(\S+)\s+(.+?)\s*$", line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3)))
    if not rows:
        return None
    g = {"sluice's own code (the stack, user space)": 0.0,
         "libc and other libraries in the sluice process": 0.0,
         "kernel, in the sluice process (TX kicks, poll, copy-mode transmit, softirqs it runs)": 0.0,
         "veth NAPI thread (XDP gate, AF_XDP receive copy, kernel receive)": 0.0,
         "anything else": 0.0}
    keys = list(g)
    for pct, comm, dso in rows:
        if comm.startswith("napi/"):
            g[keys[3]] += pct
        elif comm == "sluice" and dso == "sluice":
            g[keys[0]] += pct
        elif comm == "sluice" and "kernel" in dso:
            g[keys[2]] += pct
        elif comm == "sluice":
            g[keys[1]] += pct
        else:
            g[keys[4]] += pct
    syms = []
    for line in read(os.path.join(out, "perf-sluice-sym.txt")).splitlines():
        m = re.match(r"^\s*([\d.]+)%\s+\[(.)\]\s+(.+?)\s*$", line)
        if m:
            syms.append({"pct": float(m.group(1)), "space": "kernel" if m.group(2) == "k" else "user",
                         "sym": m.group(3)})
    pps = next((r["pps"] for r in runs if r["label"] == "perf"), 0)
    return {"pps": pps, "groups": g, "top_symbols": syms}


def udp_results(d, family):
    """The UDP echo summary of one family from directory d (build/bench for IPv4,
    build/bench/udp6 for IPv6). IPv4 always gets one (empty when the part never ran, as
    before); IPv6 None when the pass never ran."""
    runs, allruns = {}, []
    for line in read(os.path.join(d, "raw.jsonl")).splitlines():
        j = json.loads(line)
        allruns.append(j)
        if j["label"].startswith("probe") or j["label"] == "perf":
            continue
        runs.setdefault(j["label"], []).append(j)
    if family == 6 and not allruns:
        return None
    targets = {k: summarize(v) for k, v in runs.items()}
    for k, t in targets.items():
        t["veth_drops"] = veth_drops(d, k)
    servers = {k: load_json(os.path.join(d, f"server-{k}.json"), {}) for k, _ in TARGETS}

    ratios = {}
    def add(name, x, y):
        tx, ty = targets.get(x, {}), targets.get(y, {})
        v = {"pps": ratio(tx.get("pps_median"), ty.get("pps_median")),
             "p50": ratio(tx.get("p50_us"), ty.get("p50_us"))}
        if v["pps"] or v["p50"]:
            ratios[name] = v
    if family == 6:
        add("sluice / kernel without XDP (the kernel without sluice: baseline)", "sluice", "kernel")
        add("sluice / kernel with gate (same path)", "sluice", "kernel_gate")
        add("kernel with gate / kernel without XDP", "kernel_gate", "kernel")
    else:
        add("sluice / kernel without XDP (the kernel without sluice: baseline)", "sluice",
            "kernel")
        add("sluice / kernel with gate (same path)", "sluice", "kernel_gate")
        add("sluice / reflector (ceiling)", "sluice", "reflector")
        add("reflector / kernel with gate", "reflector", "kernel_gate")
        add("kernel with gate / kernel without XDP", "kernel_gate", "kernel")
    u = {"family": family,
         "date": read(os.path.join(d, "udp-date.txt")) or None,
         "xdp_mode": xdp_mode(d),
         "napi": read(os.path.join(d, "napi.txt"), "unknown"),
         "targets": targets, "servers": servers, "ratios": ratios}
    perf = perf_sluice(d, allruns)
    if perf:
        u["perf_sluice"] = perf
    return u


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sampler", help="write other processes' CPU use to this file")
    ap.add_argument("--root", type=int, help="sampler: the bench's PID")
    ap.add_argument("--stop-file", help="sampler: stop when this file exists")
    ap.add_argument("--out")
    ap.add_argument("--doc")
    ap.add_argument("--elapsed", type=float, default=0)
    ap.add_argument("--config", default="")
    ap.add_argument("--charts", help="where bench/chart.py's PNGs go (default: the --doc's "
                                     "directory)")
    a = ap.parse_args()
    if a.sampler:
        sampler(a.sampler, a.root, a.stop_file)
        return
    if not a.out or not a.doc:
        ap.error("--out and --doc are required")

    cfg = {}
    for kv in a.config.split():
        k, v = kv.split("=", 1)
        for conv in (int, float, str):
            try:
                cfg[k] = conv(v)
                break
            except ValueError:
                pass
    u4 = udp_results(a.out, 4)
    r = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "elapsed_s": a.elapsed,
        "machine": machine(),
        "xdp_mode": u4["xdp_mode"],
        "napi": u4["napi"],
        "config": cfg,
        "targets": u4["targets"],
        "servers": u4["servers"],
        "ratios": u4["ratios"],
        "pipe": pipe_results(a.out),
        "loadavg": [read(os.path.join(a.out, "loadavg-start.txt")),
                    read(os.path.join(a.out, "loadavg-end.txt"))],
        "interference": interference(a.out, a.elapsed),
    }
    if u4.get("perf_sluice"):
        r["perf_sluice"] = u4["perf_sluice"]
    u6 = udp_results(os.path.join(a.out, "udp6"), 6)
    r["parts"] = {"udp": read(os.path.join(a.out, "udp-date.txt")) or None,
                  "pipe": read(os.path.join(a.out, "pipe-date.txt")) or None,
                  "tcp": read(os.path.join(a.out, "tcp", "date.txt")) or None,
                  "tcp9000": read(os.path.join(a.out, "tcp9000", "date.txt")) or None,
                  "udp6": read(os.path.join(a.out, "udp6", "udp-date.txt")) or None,
                  "tcp6": read(os.path.join(a.out, "tcp6", "date.txt")) or None,
                  "queues": read(os.path.join(a.out, "queues", "date.txt")) or None,
                  "this_run": cfg.get("parts"),
                  "families": str(cfg.get("families", "4")),
                  "mtus": str(cfg.get("mtus", "1500"))}
    tcp = tcp_report.results(a.out, cfg)
    if tcp:
        r["tcp"] = tcp
    tcp9000 = tcp_report.results(a.out, cfg, mtu=9000)
    if tcp9000:
        r["tcp9000"] = tcp9000
    ptcp = pipe_tcp_report.results(a.out)
    if ptcp:
        r["pipe_tcp"] = ptcp
    r["budgets"] = budgets(r)
    for b in r["budgets"]:
        print(f"bench: budget: {b['name']} <= {b['target']}: measured {b['measured']:.0f}, "
              f"{'PASS' if b['pass'] else 'FAIL'}", file=sys.stderr)
    if u6:
        r["udp6"] = u6
    tcp6 = tcp_report.results(a.out, cfg, family=6)
    if tcp6:
        r["tcp6"] = tcp6
    q = queues_report.results(a.out)
    if q:
        r["queues"] = q
    # The loss and apps parts' results (bench/loss_report.py, bench/apps_report.py) stay until
    # that part runs again.
    old = load_json(os.path.join(a.out, "results.json"), {})
    for part in ("loss", "apps"):
        if isinstance(old, dict) and part in old:
            r[part] = old[part]
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(r, f, indent=1)
        f.write("\n")

    charts = {}
    cdir = a.charts or os.path.dirname(os.path.abspath(a.doc))
    try:
        done, notes = chart.draw(r, cdir)
    except Exception as e:  # a chart is never worth the report: say why and go on
        done, notes = [], [f"bench/chart.py failed ({type(e).__name__}: {e}): no charts"]
    for n in notes:
        print(f"bench: report: {n}", file=sys.stderr)
    for path in done:
        key = "ratios" if os.path.basename(path) == chart.RATIOS_PNG else "instructions"
        charts[key] = os.path.relpath(path, os.path.dirname(os.path.abspath(a.doc)))
    if not done and notes:
        charts["note"] = notes[0].removesuffix(": no charts")
    md = markdown(r, charts)
    doc = read(a.doc, "# Benchmarks\n")
    if BEGIN in doc and END in doc:
        pre, rest = doc.split(BEGIN, 1)
        post = rest.split(END, 1)[1]
        doc = pre + md.rstrip("\n") + post
    else:
        doc = doc.rstrip("\n") + "\n\n" + md
    with open(a.doc, "w") as f:
        f.write(doc if doc.endswith("\n") else doc + "\n")


if __name__ == "__main__":
    main()
