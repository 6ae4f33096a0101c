#!/usr/bin/python3
"""Helpers of bench/loss.sh (the loss part of `make bench`).

    loss_util.py maps PROG_ID                 "CONFIG_MAP_ID COUNTS_MAP_ID" of a loaded
                                              tests/net/drop.bpf.c program
    loss_util.py set-rate PCT MAP_ID...       set every config map to PCT % (parts per million),
                                              tc drops silent (TC_ACT_STOLEN)
    loss_util.py counts MAP_ID...             JSON list of [seen, dropped] per counts map
    loss_util.py veth NS DEV NS DEV           the client's and the server's veth counters
    loss_util.py nstat                        (stdin: `nstat -asz -j`) the counters as one
                                              flat JSON object
    loss_util.py record FILE KEY=VALUE...     append one run to FILE (raw.jsonl), see below
    loss_util.py brief JSON                   one console line about a recorded run

`record` values: KEY=@PATH reads the first JSON line of PATH (null when none), KEY=%PATH and
KEY=%%PATH two nstat snapshots (before %, after %%: the key gets their non-zero difference),
KEY=:JSON a literal JSON value, anything else a string. The record's verdict (ok, timed_out,
seconds, bytes, error) is derived here from the client / server JSON and the expected byte
count, so the same checks apply to every run.
"""
import json
import subprocess
import sys


def bpftool(*args):
    return json.loads(subprocess.check_output(["bpftool", "-j", *args]))


def prog_maps(prog_id):
    info = bpftool("prog", "show", "id", str(prog_id))
    ids = {}
    for mid in info.get("map_ids", []):
        m = bpftool("map", "show", "id", str(mid))
        ids[m.get("name")] = mid
    if "config" not in ids or "counts" not in ids:
        sys.exit(f"loss_util: program {prog_id} has no config/counts maps (maps: {ids})")
    print(ids["config"], ids["counts"])


def le32(v):
    return [str(b) for b in int(v).to_bytes(4, "little")]


def set_rate(pct, maps):
    ppm = round(float(pct) * 10000)
    if not 0 <= ppm <= 1000000:
        sys.exit(f"loss_util: loss {pct} % out of range")
    for m in maps:
        for k, v in ((1, ppm), (2, 1), (0, 1)):  # [2]: tc drops silently (drop.bpf.c)
            subprocess.check_call(["bpftool", "map", "update", "id", str(m), "key", *le32(k),
                                   "value", *le32(v)])


def counts(maps):
    res = []
    for m in maps:
        vals = {}
        for e in bpftool("map", "dump", "id", str(m)):
            f = e.get("formatted", e)
            k, v = f["key"], f["value"]
            if isinstance(k, list):  # raw bytes without BTF
                k = int.from_bytes(bytes(int(x, 16) for x in k), "little")
                v = int.from_bytes(bytes(int(x, 16) for x in v), "little")
            vals[int(k)] = int(v)
        res.append([vals.get(0, 0), vals.get(1, 0)])
    print(json.dumps(res))


def veth(cli_ns, cli_dev, srv_ns, srv_dev):
    """Both ends' packet and drop counters, in the shape nstat_flat reads."""
    out = {}
    for who, ns, dev in (("cli", cli_ns, cli_dev), ("srv", srv_ns, srv_dev)):
        try:
            j = json.loads(subprocess.check_output(
                ["nsenter", f"--net=/run/netns/{ns}", "ip", "-s", "-j", "link", "show", "dev", dev]))
        except (subprocess.CalledProcessError, ValueError):
            continue
        st = j[0].get("stats64", {})
        for d in ("rx", "tx"):
            for k in ("packets", "dropped"):
                out[f"{who}_{d}_{k}"] = st.get(d, {}).get(k, 0)
    print(json.dumps({"veth": out}))


def nstat_flat(text):
    try:
        j = json.loads(text)
    except ValueError:
        return {}
    out = {}
    for group in j.values():
        if isinstance(group, dict):
            out.update({k: v for k, v in group.items() if isinstance(v, int)})
    return out


def first_json(path):
    try:
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)
    except (OSError, ValueError):
        pass
    return None


# Counters of `sluice run --json` worth keeping per run (all TCP loss-recovery counters and
# the drops; zeros left out).
SLUICE_KEYS = ("tcp_rx", "tcp_tx", "tcp_retransmits", "tcp_fast_retransmits", "tcp_rto_expired",
               "tcp_tlp_probes", "tcp_tlp_recoveries", "tcp_recoveries", "tcp_rack_lost",
               "tcp_sack_rx", "tcp_sack_tx", "tcp_dsack_rx", "tcp_dsack_tx", "tcp_spurious_rtx",
               "tcp_undo", "tcp_ooo_dropped", "tcp_tx_deferred", "tcp_sendmap_full",
               "tcp_out_of_window", "tcp_timeouts", "tcp_resets_rx", "tcp_resets_tx",
               "tcp_sack_reneged", "tcp_paws_rejected", "tcp_accepted", "tcp_connected")


def sluice_summary(j):
    if not j:
        return None
    c = j.get("counters", {})
    out = {k: c[k] for k in SLUICE_KEYS if c.get(k)}
    out["drops"] = j.get("drops")
    out["frames"] = [j.get("frames_returned"), j.get("frames_total")]
    out["drop_counters"] = {k: v for k, v in c.items() if v and k not in SLUICE_KEYS and
                            any(w in k for w in ("drop", "bad", "full", "short", "err"))}
    return out


def verdict(r):
    """ok / timed_out / seconds / bytes / error from what the run's programs reported."""
    want = int(r["want_bytes"])
    kind = r["dir"]
    cl, sv = r.get("client"), r.get("server")
    errs = []
    secs = nbytes = None
    timed_out = False
    if r.get("error"):
        errs.append(r["error"])
    if kind == "down":  # server -> tcpbulk get in the client: status, length, every byte
        if not cl:
            errs.append("the client (tcpbulk get) printed nothing")
        else:
            secs, nbytes, timed_out = cl["seconds"], cl["bytes"], cl.get("timed_out", False)
            if not timed_out:
                if cl.get("status") != 200 or cl.get("content_length") != want:
                    errs.append(f"HTTP status {cl.get('status')}, Content-Length "
                                f"{cl.get('content_length')}, expected 200 and {want}")
                if cl["bytes"] != want:
                    errs.append(f"received {cl['bytes']} of {want} bytes")
            if cl.get("bad_bytes"):
                errs.append(f"{cl['bad_bytes']} bytes differ from the pattern (first at "
                            f"{cl['first_bad']})")
    elif kind == "up":  # tcpbulk send in the client -> discard (sluice) or tcpbulk sink
        if not cl:
            errs.append("the sender (tcpbulk send) printed nothing")
        else:
            secs, nbytes, timed_out = cl["seconds"], cl["bytes"], cl.get("timed_out", False)
            if not timed_out:
                acked = (cl.get("tcp_info") or {}).get("bytes_acked", 0)
                if cl["bytes"] != want or not cl.get("peer_closed"):
                    errs.append(f"sent {cl['bytes']} of {want} bytes, peer closed: "
                                f"{cl.get('peer_closed')}")
                elif acked < want + 1:
                    errs.append(f"the peer acknowledged {acked} bytes, fewer than {want} + FIN")
        if r["stack"] == "kernel" and not timed_out:
            if not sv:
                errs.append("the kernel sink printed nothing")
            elif sv["bytes"] != want or sv.get("bad_bytes") or not sv.get("clean_eof"):
                errs.append(f"sink: {sv['bytes']} bytes, {sv.get('bad_bytes')} bad, clean EOF "
                            f"{sv.get('clean_eof')}")
    elif kind == "send":  # sluice --send / kernel tcpbulk send on the server -> client sink
        snd, sink = sv, cl
        if r["stack"] == "kernel" and snd:
            timed_out = snd.get("timed_out", False)
        if r["stack"] == "sluice" and r.get("sluice_send"):
            ss = r["sluice_send"]
            timed_out = bool(ss.get("timed_out"))
            secs = ss.get("seconds")
        elif snd:
            secs = snd.get("seconds")
        if not timed_out:
            if not sink:
                errs.append("the client sink printed nothing")
            elif sink["bytes"] != want or sink.get("bad_bytes") or not sink.get("clean_eof"):
                errs.append(f"sink: {sink['bytes']} of {want} bytes, {sink.get('bad_bytes')} "
                            f"bad, clean EOF {sink.get('clean_eof')}")
            if secs is None:
                errs.append("no transfer time from the sender")
        nbytes = sink["bytes"] if sink else None
    sl = r.get("sluice")
    if r["stack"] == "sluice":
        if not sl:
            errs.append("sluice printed no summary (crashed or did not stop cleanly)")
        elif sl["frames"][0] != sl["frames"][1]:
            errs.append(f"sluice: frames {sl['frames'][0]}/{sl['frames'][1]} returned")
    if timed_out:
        secs = float(r["timeout_s"])
    r["timed_out"] = timed_out
    r["seconds"] = secs
    r["bytes"] = nbytes
    r["goodput_bps"] = (want * 8 / secs) if secs and not timed_out and not errs else None
    r["ok"] = not errs
    r["error"] = "; ".join(errs)
    return r


def record(path, args):
    r, before = {}, {}
    for a in args:
        k, v = a.split("=", 1)
        if v.startswith("@"):
            r[k] = first_json(v[1:])
        elif v.startswith("%%"):
            after = nstat_flat(open(v[2:]).read()) if v[2:] else {}
            b = before.get(k, {})
            r[k] = {n: after[n] - b.get(n, 0) for n in sorted(after)
                    if after[n] - b.get(n, 0)}
        elif v.startswith("%"):
            before[k] = nstat_flat(open(v[1:]).read()) if v[1:] else {}
        elif v.startswith(":"):
            r[k] = json.loads(v[1:])
        else:
            r[k] = v
    if "sluice" in r:
        r["sluice"] = sluice_summary(r["sluice"])
    # drop.bpf.c counters on the client's veth: [XDP: frames to the client, tc: from it]
    b, e = r.pop("drops_before", None), r.pop("drops_after", None)
    if b and e:
        r["drops"] = {name: {"seen": e[i][0] - b[i][0], "dropped": e[i][1] - b[i][1]}
                      for i, name in enumerate(("to_client", "from_client"))}
    for k in ("loss", "timeout_s"):
        if k in r:
            r[k] = float(r[k])
    for k in ("run", "want_bytes"):
        if k in r:
            r[k] = int(r[k])
    verdict(r)
    with open(path, "a") as f:
        f.write(json.dumps(r) + "\n")
    print(brief(r))


def rto_of(r):
    """The sender's retransmission timeouts in a run."""
    if r["dir"] in ("down", "send") and r["stack"] == "sluice":
        return (r.get("sluice") or {}).get("tcp_rto_expired", 0)
    if r["dir"] in ("down", "send"):
        return (r.get("nstat_server") or {}).get("TcpExtTCPTimeouts", 0)
    return (r.get("nstat_client") or {}).get("TcpExtTCPTimeouts", 0)


def brief(r):
    if not r["ok"]:
        return f"FAILED: {r['error']}"
    if r["timed_out"]:
        return f">= {r['seconds']:.0f} s (timeout), {r['bytes']} bytes by then, {rto_of(r)} RTOs"
    return (f"{r['seconds']:.2f} s, {r['goodput_bps'] / 1e9:.3f} Gbit/s, "
            f"{rto_of(r)} RTOs")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    m, a = sys.argv[1], sys.argv[2:]
    if m == "maps":
        prog_maps(a[0])
    elif m == "set-rate":
        set_rate(a[0], a[1:])
    elif m == "counts":
        counts(a)
    elif m == "veth":
        veth(*a)
    elif m == "nstat":
        print(json.dumps(nstat_flat(sys.stdin.read())))
    elif m == "record":
        record(a[0], a[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
