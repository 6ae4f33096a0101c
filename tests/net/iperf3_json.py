#!/usr/bin/python3
"""Checks the JSON report of an iperf3 client (iperf3 -J) for tests/net/test_exec_iperf3.sh.

    iperf3_json.py tcp FILE [--sender] [--keys-save KEYS | --keys-want KEYS]
    iperf3_json.py udp FILE [--max-loss PCT] [--keys-save KEYS | --keys-want KEYS]

Both: FILE is one JSON object (iperf3 -J prints one, an "error" one included) with no "error"
key. tcp: end.sum_sent.bytes > 0 and end.sum_received.bytes > 0; every "retransmits" in the
report is an integer >= 0, every "snd_cwnd" and "max_snd_cwnd" of a sender measured (iperf3
fills them from TCP_INFO: tcpi_snd_cwnd * tcpi_snd_mss) > 0, "sender_tcp_congestion" and
"receiver_tcp_congestion" non-empty names when present, not "unknown" (what iperf3 reports
when its getsockopt of TCP_CONGESTION failed). --sender (the reporting client is the
sender, not -R): every interval's stream has "retransmits" and "snd_cwnd" (> 0), and
end.streams[0].sender "max_snd_cwnd" (> 0). udp: end.sum.packets > 0, end.sum.bytes > 0,
end.sum.lost_percent < PCT (default 1).

--keys-save writes the report's key sets (the keys of start, of each interval's streams and
sum, of end, of end.streams[*].sender / receiver / udp, of end.sum*), the kernel run's;
--keys-want reads such a file and fails when a key the kernel reported is missing here.

Prints one line: the rates (never asserted) and what was checked; exit 0. On a failed check,
one line saying which, and exit 1.
"""
import argparse
import json
import sys


def bad(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def key_sets(d):
    ks = {"top": set(d)}
    ks["start"] = set(d.get("start", {}))
    for iv in d.get("intervals", []):
        for s in iv.get("streams", []):
            ks.setdefault("intervals[].streams[]", set()).update(s)
        ks.setdefault("intervals[].sum", set()).update(iv.get("sum", {}))
    end = d.get("end", {})
    ks["end"] = set(end)
    for st in end.get("streams", []):
        for part in ("sender", "receiver", "udp"):
            if part in st:
                ks.setdefault("end.streams[]." + part, set()).update(st[part])
    for k in ("sum", "sum_sent", "sum_received"):
        if k in end:
            ks["end." + k] = set(end[k])
    return ks


def walk(o, path=""):
    """Every (path, key, value) in the report."""
    if isinstance(o, dict):
        for k, v in o.items():
            yield path, k, v
            yield from walk(v, path + "." + k)
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from walk(v, "%s[%d]" % (path, i))


def mbit(x):
    return "%.1f Mbit/s" % (x / 1e6)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("proto", choices=("tcp", "udp"))
    ap.add_argument("file")
    ap.add_argument("--sender", action="store_true")
    ap.add_argument("--max-loss", type=float, default=1.0)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--keys-save")
    g.add_argument("--keys-want")
    a = ap.parse_args()

    text = ""
    try:
        with open(a.file) as f:
            text = f.read()
        d = json.loads(text)
    except (OSError, ValueError) as e:
        bad("no JSON report (%s): %r" % (e, text[:300]))
    if not isinstance(d, dict):
        bad("the report is not a JSON object")
    if "error" in d:
        bad("iperf3 reported an error: %s" % d["error"])
    end = d.get("end") or bad("no 'end' in the report")
    notes = []

    if a.proto == "tcp":
        ss, sr = end.get("sum_sent", {}), end.get("sum_received", {})
        if not ss.get("bytes", 0) > 0 or not sr.get("bytes", 0) > 0:
            bad("bytes sent %s, received %s: want both > 0" % (ss.get("bytes"), sr.get("bytes")))
        notes.append("sent %d bytes (%s), received %d bytes (%s)" % (
            ss["bytes"], mbit(ss.get("bits_per_second", 0)), sr["bytes"],
            mbit(sr.get("bits_per_second", 0))))
        for path, k, v in walk(d):
            if k == "retransmits" and not (isinstance(v, int) and v >= 0):
                bad("%s.retransmits = %r, want an integer >= 0" % (path, v))
            if k in ("sender_tcp_congestion", "receiver_tcp_congestion") and \
                    not (isinstance(v, str) and v and v != "unknown"):
                bad("end.%s = %r, want an algorithm's name (iperf3 says 'unknown' when its "
                    "getsockopt TCP_CONGESTION failed)" % (k, v))
        if a.sender:
            ivs = d.get("intervals") or bad("no intervals in the report")
            for i, iv in enumerate(ivs):
                for s in iv.get("streams", []):
                    for k in ("retransmits", "snd_cwnd"):
                        if k not in s:
                            bad("intervals[%d].streams[]: no '%s' (TCP_INFO)" % (i, k))
                    if not s["snd_cwnd"] > 0:
                        bad("intervals[%d]: snd_cwnd %r, want > 0" % (i, s["snd_cwnd"]))
            snd = (end.get("streams") or [{}])[0].get("sender", {})
            if not snd.get("max_snd_cwnd", 0) > 0:
                bad("end.streams[0].sender.max_snd_cwnd = %r, want > 0" % snd.get("max_snd_cwnd"))
            if "retransmits" not in ss:
                bad("end.sum_sent has no 'retransmits'")
            notes.append("retransmits %d, max_snd_cwnd %d, rtt min/mean/max %s/%s/%s us" % (
                ss["retransmits"], snd["max_snd_cwnd"], snd.get("min_rtt"), snd.get("mean_rtt"),
                snd.get("max_rtt")))
        elif "retransmits" in ss:
            notes.append("retransmits (the server's) %d" % ss["retransmits"])
        cc = [end[k] for k in ("sender_tcp_congestion", "receiver_tcp_congestion") if k in end]
        if cc:
            notes.append("congestion control sender/receiver %s" % "/".join(cc))
    else:
        s = end.get("sum") or bad("no end.sum in the UDP report")
        if not s.get("packets", 0) > 0 or not s.get("bytes", 0) > 0:
            bad("end.sum: packets %s, bytes %s: want both > 0" % (s.get("packets"), s.get("bytes")))
        lp = s.get("lost_percent")
        if lp is None or "lost_packets" not in s:
            bad("end.sum has no lost_packets / lost_percent")
        if not lp < a.max_loss:
            bad("lost %s of %s datagrams (%.2f %%), want < %g %%" % (
                s["lost_packets"], s["packets"], lp, a.max_loss))
        notes.append("%d datagrams, %d lost (%.3f %%), jitter %.3f ms, %s" % (
            s["packets"], s["lost_packets"], lp, s.get("jitter_ms", 0),
            mbit(s.get("bits_per_second", 0))))

    ks = key_sets(d)
    if a.keys_save:
        with open(a.keys_save, "w") as f:
            json.dump({k: sorted(v) for k, v in ks.items()}, f)
    if a.keys_want:
        with open(a.keys_want) as f:
            want = json.load(f)
        missing = ["%s.%s" % (p, k) for p, keys in sorted(want.items())
                   for k in keys if k not in ks.get(p, set())]
        if missing:
            bad("keys the kernel run reported are missing: %s" % ", ".join(missing))
        notes.append("every key of the kernel run's report present")
    print("; ".join(notes))


if __name__ == "__main__":
    main()
