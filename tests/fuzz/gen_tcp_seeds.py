#!/usr/bin/env python3
"""Seeds for tests/fuzz/fuzz_tcp.c (format at the top of that file): conversations over IPv4
and IPv6 with and without options, each a handshake then segments relative to the current
sequence numbers. Run with any python3."""
import os

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'tcp')
os.makedirs(here, exist_ok=True)


def seg(op, b1=0, b2=0, b3=0, b4=0xff, b5=0):
    return bytes([op, b1 & 0xff, b2 & 0xff, b3, b4, b5])


DATA, ACK, FIN, RST, SYN, RAW, APP, TIME = range(8)
PSH, NOTS, SACK = 8, 16, 32
seeds = {
    # IPv4, no options: data in, echoed out, acknowledged, FIN both ways.
    'v4_echo_fin': bytes([16, 0, 0, 0, 0xff]) + seg(DATA | PSH, b3=100) + seg(ACK) +
    seg(DATA, b3=182) + seg(ACK) + seg(FIN) + seg(ACK) + seg(APP, 3) + seg(ACK),
    # IPv6 with every option: MSS 1440, window scale 7, SACK, timestamps.
    'v6_opts_data': bytes([1 | 2 | 4 | 8 | 16, 7, 0x05, 0xa0, 0x40]) +
    seg(DATA | PSH, b3=180) + seg(ACK) + seg(DATA, b1=8, b3=20) + seg(DATA, b3=16) +
    seg(ACK | SACK, b5=0x21) + seg(TIME, b5=30) + seg(ACK),
    # The application writes a lot into a small window; the peer opens it slowly.
    'v4_zero_window': bytes([2 | 4, 0, 0x02, 0x18, 0x00]) + seg(APP, 0, b3=255) +
    seg(ACK, b4=0) + seg(TIME, b5=50) + seg(ACK, b4=1) + seg(TIME, b5=100) +
    seg(ACK, b4=8) + seg(TIME, 1, b5=3) + seg(ACK),
    # Out of order and overlapping data (reassembly), then a RST in window (challenge ACK)
    # and one exactly at RCV.NXT.
    'v6_ooo_rst': bytes([1 | 2, 0, 0x04, 0xc4, 0xff]) + seg(DATA, b1=20, b3=40) +
    seg(DATA, b1=4, b3=40) + seg(DATA, b1=-40, b3=80) + seg(DATA, b1=-10, b3=100) +
    seg(RST, b1=3) + seg(RST),
    # Loss at the stack's side: unacknowledged data, RTO, duplicate ACKs, SACK.
    'v4_rto_dupack': bytes([2 | 4 | 8, 2, 0x05, 0xb4, 0xff]) + seg(APP, 1, b3=200) +
    seg(TIME, b5=40) + seg(ACK, b2=100) + seg(ACK | SACK, b2=100, b5=0x12) +
    seg(ACK | SACK, b2=100, b5=0x23) + seg(TIME, 1, b5=2) + seg(ACK),
    # SYN in ESTABLISHED, raw flag combinations, then a half-close and the app closing.
    'v4_syn_raw': bytes([0, 0, 0x02, 0x00, 0xff]) + seg(SYN) + seg(RAW, 0x29, b3=4) +
    seg(RAW, 0x00) + seg(RAW, 0x03) + seg(APP, 2) + seg(ACK) + seg(DATA, b3=10) +
    seg(FIN) + seg(TIME, 1, b5=70),
    # Timestamps negotiated but missing on some segments; the app aborts.
    'v6_ts_missing': bytes([1 | 4, 0, 0x05, 0x00, 0xff]) + seg(DATA | NOTS, b3=50) +
    seg(DATA, b3=50) + seg(APP, 4) + seg(DATA, b3=5),
}
for k, v in seeds.items():
    open(os.path.join(here, k), 'wb').write(v)
print(len(seeds), 'seeds')
