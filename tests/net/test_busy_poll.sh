#!/usr/bin/env bash
# Preferred busy polling (`sluice run --napi-busy-poll`) on a veth pair between namespaces:
#  - the socket options (SO_PREFER_BUSY_POLL, SO_BUSY_POLL, SO_BUSY_POLL_BUDGET) are accepted
#    on veth and reported, by `sluice stats` (text and JSON) and the `--json` summary;
#  - ping and UDP echo are answered while the stack busy polls, and the busy polls happen
#    (dev_busy_polls); veth gives its AF_XDP sockets no NAPI id, so they cannot run its NAPI:
#    the run says so, and if a kernel ever gives one, BusyPollRxPackets must count packets;
#  - napi_defer_hard_irqs and gro_flush_timeout of the device hold the values asked for
#    during the run and are put back after a clean stop (--duration), after SIGTERM and
#    SIGHUP, and by the next run after a SIGKILL (which nothing can catch);
#  - a second run that wants the settings another run holds is refused with one line; one that
#    does not want them runs beside it and leaves them alone.
source "$(dirname "$0")/lib.sh"

# Two queues, for the second run of case 4; XPS on the peer sends everything to queue 0.
setup_net 2
all_cpus=$(printf '%x' $(((1 << $(nproc)) - 1)))
in_peer sh -c "echo $all_cpus > /sys/class/net/$IF_PEER/queues/tx-0/xps_cpus &&
	echo 0 > /sys/class/net/$IF_PEER/queues/tx-1/xps_cpus" || fail "cannot set XPS on the peer"
sysval() { ip netns exec "$NS_SL" cat /sys/class/net/"$IF_SL"/"$1"; }
sysset() { ip netns exec "$NS_SL" sh -c "echo $2 > /sys/class/net/$IF_SL/$1"; }
# Values that are nobody's default, so a restore cannot pass by resetting to 0.
sysset napi_defer_hard_irqs 1 || fail "cannot set napi_defer_hard_irqs on veth"
sysset gro_flush_timeout 12345 || fail "cannot set gro_flush_timeout on veth"
want_orig() {
	local d g
	d=$(sysval napi_defer_hard_irqs) g=$(sysval gro_flush_timeout)
	[[ $d == 1 && $g == 12345 ]] ||
		fail "$1: napi_defer_hard_irqs $d, gro_flush_timeout $g; want 1 and 12345 restored"
}
want_run() {
	local d g
	d=$(sysval napi_defer_hard_irqs) g=$(sysval gro_flush_timeout)
	[[ $d == 2 && $g == 200000 ]] ||
		fail "$1: napi_defer_hard_irqs $d, gro_flush_timeout $g during the run; want 2, 200000"
}
BP=(--napi-busy-poll 50 --busy-poll-budget 32 --napi-defer-hard-irqs 2 --gro-flush-timeout 200000)

udp_echo() {
	in_peer timeout 20 $PY - "$STACK_IP" <<'EOF' || fail "UDP echo while busy polling"
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], 7))
for i in range(200):
    data = os.urandom(1 + i * 7)
    s.send(data)
    if s.recv(65536) != data:
        sys.exit("echo %d differs" % i)
print("ok: 200 datagrams echoed")
EOF
}
busypoll_rx() {
	ip netns exec "$NS_SL" awk '/^TcpExt:/ { if (!h) { split($0, n); h = 1 } else {
		split($0, v); for (i in n) if (n[i] == "BusyPollRxPackets") print v[i] } }' /proc/net/netstat
}

# Usage errors come before anything is touched.
out=$(in_sl "$SLUICE" run "$IF_SL" --addr "$STACK_IP/24" --busy-poll-budget 8 2>&1)
[[ $? -eq 2 && $out == *"--busy-poll-budget goes with --napi-busy-poll"* ]] || fail "budget alone: $out"
out=$(in_sl "$SLUICE" run "$IF_SL" --addr "$STACK_IP/24" --gro-flush-timeout -5 2>&1)
[[ $? -eq 2 && $out == *"--gro-flush-timeout wants nanoseconds"* ]] || fail "negative timeout: $out"
out=$(in_sl "$SLUICE" run "$IF_SL" --addr "$STACK_IP/24" --napi-busy-poll 0 2>&1)
[[ $? -eq 2 ]] || fail "--napi-busy-poll 0 accepted: $out"
want_orig "after usage errors"
ok "usage errors refused, nothing changed"

# 1. A run that ends by itself (--duration): the clean stop.
bp0=$(busypoll_rx)
start_sluice --udp-echo 7 "${BP[@]}" --duration 6 --json
grep -q 'napi-busy-poll 50 us, budget 32' "$TMP/run.err" || fail "start line: $(cat "$TMP/run.err")"
want_run "run 1"
out=$(in_peer ping -c 10 -i 0.05 -W 2 "$STACK_IP") || { echo "$out"; fail "ping while busy polling"; }
udp_echo
in_sl "$SLUICE" stats "$IF_SL" --json >"$TMP/stats.json" || fail "sluice stats --json"
$PY - "$TMP/stats.json" <<'EOF' || fail "stats --json: $(cat "$TMP/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))["stacks"][0]
p = s["poll"]
assert p["mode"] == "napi-busy-poll", p
assert p["busy_poll_us"] == 50 and p["busy_poll_budget"] == 32 and p["prefer_busy_poll"] is True, p
assert p["napi_defer_hard_irqs"] == 2 and p["napi_defer_hard_irqs_set"] is True, p
assert p["gro_flush_timeout"] == 200000 and p["gro_flush_timeout_set"] is True, p
assert "napi_id" in p, p
assert s["counters"]["dev_busy_polls"] > 0, s["counters"]["dev_busy_polls"]
print("ok: stats --json: mode, options, NAPI settings, %d busy polls, NAPI id %d"
      % (s["counters"]["dev_busy_polls"], p["napi_id"]))
EOF
text=$(in_sl "$SLUICE" stats "$IF_SL")
grep -q "poll: napi-busy-poll, SO_BUSY_POLL 50 us, SO_BUSY_POLL_BUDGET 32, SO_PREFER_BUSY_POLL" <<<"$text" ||
	fail "stats text has no poll line: $text"
napi_id=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["stacks"][0]["poll"]["napi_id"])' "$TMP/stats.json")
wait "$SLUICE_PID" || { cat "$TMP/run.err"; fail "run 1 did not stop cleanly after --duration"; }
SLUICE_PID=
want_orig "after the clean stop of run 1"
grep -q "frames 4096/4096 returned\|\"frames_returned\":4096" "$TMP/run.out" "$TMP/run.err" ||
	fail "frames: $(cat "$TMP/run.out")"
$PY - "$TMP/run.out" <<'EOF' || fail "run --json summary: $(cat "$TMP/run.out")"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["poll"]
assert d["xdp_mode"] == "native" and d["zero_copy"] is False, d["xdp_mode"]
assert p["mode"] == "napi-busy-poll" and p["busy_poll_us"] == 50 and p["busy_poll_budget"] == 32, p
for k, during in (("napi_defer_hard_irqs", 2), ("gro_flush_timeout", 200000)):
    assert p[k]["during"] == during and p[k]["set"] is True, (k, p[k])
assert p["napi_defer_hard_irqs"]["after"] == 1 and p["gro_flush_timeout"]["after"] == 12345, p
q = p["queues"][0]
assert q["queue"] == 0 and q["busy_polls"] > 0, q
assert d["frames_returned"] == d["frames_total"], d
print("ok: run --json: poll %s, restored to %d/%d, %d busy polls"
      % (p["mode"], p["napi_defer_hard_irqs"]["after"], p["gro_flush_timeout"]["after"], q["busy_polls"]))
EOF
bp1=$(busypoll_rx)
if [[ $napi_id == 0 ]]; then
	grep -q "has no NAPI id" "$TMP/run.err" || fail "NAPI id 0 and no warning: $(cat "$TMP/run.err")"
	ok "veth: the socket has no NAPI id, said so (BusyPollRxPackets $bp0 -> $bp1)"
else
	[[ $bp1 -gt $bp0 ]] || fail "NAPI id $napi_id but BusyPollRxPackets $bp0 -> $bp1"
	ok "NAPI id $napi_id, BusyPollRxPackets $bp0 -> $bp1"
fi
ok "run 1: answered while busy polling; settings set during the run, restored after --duration"

# 2. SIGTERM, and 3. SIGHUP: a stop by signal puts the settings back too.
for sig in TERM HUP; do
	start_sluice --udp-echo 7 "${BP[@]}"
	want_run "SIG$sig run"
	out=$(in_peer ping -c 3 -i 0.1 -W 2 "$STACK_IP") || { echo "$out"; fail "ping (SIG$sig run)"; }
	kill -"$sig" "$SLUICE_PID"
	rc=0
	wait "$SLUICE_PID" || rc=$?
	SLUICE_PID=
	[[ $rc -eq 0 ]] || { cat "$TMP/run.err"; fail "exit status $rc after SIG$sig"; }
	grep -q "frames 4096/4096 returned" "$TMP/run.err" || fail "SIG$sig: $(tail -2 "$TMP/run.err")"
	want_orig "after SIG$sig"
	ok "SIG$sig: clean stop, settings restored"
done

# 4. One run holds the settings; a second one (queue 1) that wants them is refused.
start_sluice --queue 0 --napi-defer-hard-irqs 2 --gro-flush-timeout 200000
holder=$SLUICE_PID
out=$(in_sl "$SLUICE" run "$IF_SL" --addr "10.$NET.0.4/24" --queue 1 --gro-flush-timeout 5 2>&1)
rc=$?
[[ $rc -eq 1 ]] || fail "second run: exit $rc: $out"
# One line says why (the run's summary line follows, as after every failed run).
err=$(grep -v '^sluice: stopped ' <<<"$out")
[[ $(wc -l <<<"$err") -eq 1 && $err == *"NAPI settings are held by another sluice run (pid $holder"* ]] ||
	fail "second run's error is not one clear line: $out"
want_run "after the refused second run"
ok "a second run wanting held settings: $err"
# A run that does not ask for them runs beside the holder and leaves them alone.
out=$(in_sl "$SLUICE" run "$IF_SL" --addr "10.$NET.0.4/24" --queue 1 --duration 1 2>&1) ||
	fail "a plain run beside the holder failed: $out"
want_run "after a plain run beside the holder"
ok "a plain run beside the holder runs and leaves the settings alone"
stop_sluice || fail "holder run exit status"
want_orig "after the holder stopped"

# 5. SIGKILL cannot be caught: the record it leaves lets the next run, even a plain one, put the
# values back.
start_sluice "${BP[@]}"
want_run "SIGKILL run"
kill -KILL "$SLUICE_PID"
wait "$SLUICE_PID" 2>/dev/null
SLUICE_PID=
want_run "right after SIGKILL (nothing can restore yet)"
start_sluice --duration 1
grep -q "put back napi_defer_hard_irqs of $IF_SL to 1" "$TMP/run.err" ||
	fail "the next run did not say it restored: $(cat "$TMP/run.err")"
want_orig "after the next run started"
wait "$SLUICE_PID" || fail "the plain run's exit status"
SLUICE_PID=
want_orig "at the end"
ok "SIGKILL: the next run put the values back"
