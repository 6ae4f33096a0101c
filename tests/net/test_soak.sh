#!/usr/bin/env bash
# Load and soak: SOAK_CONNS (default 10000) concurrent TCP connections from the kernel peer
# to the echo service (and SOAK_HTTP_FRACTION, default 0.2, of them to --http with keep-alive
# GETs whose whole responses are checked, and "Connection: close" for the stack to close
# first and enter TIME-WAIT), held SOAK_SECONDS (default 20; SOAK_SECONDS=60 or more by hand), with
# resets (SO_LINGER 0), aborts (RST with data in flight), half-closes (shutdown(SHUT_WR),
# read to EOF) and plain closes mixed in, each replaced by a new connection; a few bytes per
# connection per round, every byte checked (tests/net/soak.py). Then:
#   - the stack saw all SOAK_CONNS at once (sluice stats: connections_total);
#   - afterwards its connection table is empty (TIME-WAIT is 2·--msl, SOAK_MSL=1 s here) and
#     the bytes its TCP rings hold (tcp_buf_allocated - tcp_buf_freed) are back to 0;
#   - sluice's RSS (every allocation touched: glibc.malloc.perturb) grew during the hold (the
#     same connection count throughout) by at most SOAK_RSS_GROWTH_KB (default 16 MiB);
#   - a second wave of SOAK_CONNS connections (held 3 s) raises the RSS peak by at most
#     SOAK_RSS_GROWTH_KB: it runs in the memory the first wave freed;
#   - SIGTERM returns every UMEM frame.
# SOAK_BUF (default 16k) is --tcp-buf. SLUICE_BIN runs another build (test_soak_san.sh).
# Prints one "soak:" line of measurements. About 15 s + SOAK_SECONDS.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
N=${SOAK_CONNS:-10000}
HOLD=${SOAK_SECONDS:-20}
BUF=${SOAK_BUF:-16k}
MSL=${SOAK_MSL:-1}
HTTP=${SOAK_HTTP_FRACTION:-0.2}
RSS_GROWTH_KB=${SOAK_RSS_GROWTH_KB:-16384}
setup_net
need timeout awk
# The peer needs N sockets and more ephemeral ports than N plus the replacements (its own
# TIME-WAIT keeps the ports of the connections it closed first).
in_peer sysctl -qw net.ipv4.ip_local_port_range="10000 65000" || fail "cannot widen the peer's port range"
in_peer sysctl -qw net.ipv4.tcp_max_syn_backlog=4096

# sample: "CONNS HELD_BYTES RSS_KB" of the running stack.
sample() {
	local s rss
	rss=$(awk '/^VmRSS/{print $2}' /proc/"$SLUICE_PID"/status 2>/dev/null)
	s=$(in_sl "$SLUICE" stats "$IF_SL" --json 2>/dev/null | $PY -c '
import json,sys
try:
    s=json.load(sys.stdin)["stacks"][0]; c=s["counters"]
    print(s.get("connections_total", -1), c["tcp_buf_allocated"] - c["tcp_buf_freed"])
except Exception:
    print("-1 -1")')
	echo "$s ${rss:--1}"
}

# --- the knobs: --max-conns bounds the table, --msl the TIME-WAIT ------------------------------
start_sluice --tcp-echo 7 --http 80 --max-conns 50 --msl 0.5
in_peer ping -c 1 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"
in_peer $PY -c '
import socket,sys
h=sys.argv[1]
held=[socket.create_connection((h,7),timeout=5) for _ in range(50)]
s=socket.socket(); s.settimeout(2)
try:
    s.connect((h,7)); s.sendall(b"x"); print("51st connection echoed: %r" % s.recv(1)); sys.exit(1)
except (ConnectionRefusedError, ConnectionResetError, socket.timeout):
    pass  # refused, or its SYN dropped
for c in held: c.sendall(b"y"); assert c.recv(1) == b"y"
' "$STACK_IP" || fail "--max-conns 50: a 51st connection was not refused, or the 50 do not echo"
[[ $(stat_of tcp_conn_limit) -ge 1 ]] || fail "--max-conns 50: tcp_conn_limit did not count the 51st"
ok "--max-conns 50: the 51st connection is not let in (tcp_conn_limit $(stat_of tcp_conn_limit))"
sleep 0.3
# The stack closes first after "Connection: close": its side waits 2 x --msl in TIME-WAIT.
in_peer timeout 10 $PY -c '
import socket,sys
s=socket.create_connection((sys.argv[1],80),timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
while s.recv(65536): pass  # to the stack'"'"'s FIN
s.close()' "$STACK_IP" || fail "HTTP request with Connection: close failed"
t1=$EPOCHREALTIME
tw=0
for _ in $(seq 5); do # the table is republished every 50 ms
	tw=$(in_sl "$SLUICE" stats "$IF_SL" --json | $PY -c '
import json,sys
s=json.load(sys.stdin)["stacks"][0]
print(sum(1 for c in s.get("connections", []) if c["state"] == "TIME-WAIT"))')
	[[ $tw -eq 1 ]] && break
	sleep 0.05
done
[[ $tw -eq 1 ]] || fail "--msl 0.5: no connection in TIME-WAIT after the stack closed first"
for _ in $(seq 50); do
	[[ $(sample | cut -d' ' -f1) -eq 0 ]] && break
	sleep 0.1
done
dt=$(elapsed_since $t1)
[[ $(sample | cut -d' ' -f1) -eq 0 ]] || fail "--msl 0.5: TIME-WAIT still there after $dt s"
fcmp "$dt" '>=' 0.8 || fail "--msl 0.5: TIME-WAIT ended after $dt s, before 2 x 0.5 s"
ok "--msl 0.5: TIME-WAIT lasts about 1 s ($dt s)"
clean_stop

# RSS only counts pages touched, and a 16 KiB ring whose head has moved 300 bytes has touched
# one page: RSS would grow as heads cross into new pages and as reused heap chunks start on
# pages nobody touched, and say nothing about leaks. glibc's malloc.perturb fills every
# allocation (and every free) with a byte, so RSS is the heap's high-water mark: memory freed
# and allocated again costs nothing new, memory leaked does.
GLIBC_TUNABLES=glibc.malloc.perturb=165 start_sluice --tcp-echo 7 --http 80 --max-conns $((2 * N + 1024)) --backlog 1024 --tcp-buf "$BUF" --msl "$MSL"
in_peer ping -c 1 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"


nofile=$((N + 2048))
[[ $(ulimit -Hn) == unlimited || $(ulimit -Hn) -ge $nofile ]] ||
	fail "the open-file limit (hard $(ulimit -Hn)) is below the $nofile the client needs"

# wave HOLD SEED: one run of the client; sets sj (its JSON summary), peak (the stack's
# connections, sampled every second), rss_hold0/rss_hold1 (first and last RSS of the hold),
# rss_max, held_max, series. Then waits until the stack's table and rings are empty.
wave() {
	: >"$TMP/soak.status"
	# nsenter execs bash, which execs timeout: $! is timeout, which passes SIGTERM on.
	nsenter --net=/run/netns/"$NS_PEER" bash -c "ulimit -n $nofile && exec timeout $(($1 + 150)) \
		$PY '$ROOT/tests/net/soak.py' '$STACK_IP' 7 $N $1 $2 '$TMP/soak.status' 80 $HTTP" \
		>"$TMP/soak.json" 2>"$TMP/soak.err" &
	local cpid=$! rc=0 nsamples=0 conns held rss
	series= peak=0 rss_hold0= rss_hold1= rss_max=0 held_max=0
	while kill -0 $cpid 2>/dev/null; do
		read -r conns held rss < <(sample)
		[[ $conns -gt $peak ]] && peak=$conns
		[[ $rss -gt $rss_max ]] && rss_max=$rss
		[[ $held -gt $held_max ]] && held_max=$held
		# The hold, from the first sample in which the stack itself holds all N: the
		# client says "holding" once its connects returned, which can be before the stack
		# has taken the last handshakes' ACKs and allocated those connections' rings (a
		# fresh-clone run once sampled 16 MiB below the plateau there).
		if grep -q holding "$TMP/soak.status" && ! grep -q closing "$TMP/soak.status" &&
			[[ -n $rss_hold0 || $conns -ge $N ]]; then
			[[ -z $rss_hold0 ]] && rss_hold0=$rss
			rss_hold1=$rss
			nsamples=$((nsamples + 1))
			series+=" $rss"
		fi
		sleep 1
	done
	wait $cpid || rc=$?
	cat "$TMP/soak.err" >&2
	[[ $rc -eq 0 ]] || { cat "$TMP/soak.json" >&2; tail -40 "$TMP/run.err" >&2; fail "soak client failed (rc $rc)"; }
	sj=$(cat "$TMP/soak.json")
	[[ $(sg peak_open) -eq $N ]] || fail "the client held $(sg peak_open) connections, not $N"
	[[ $peak -ge $N ]] || fail "the stack never held $N connections at once (peak sampled $peak)"
	[[ $nsamples -ge 2 ]] || fail "the hold lasted too short to sample RSS twice"
	ok "$N connections held $(sg held_s) s ($(sg rounds) rounds): $(sg bytes_checked) bytes echoed and checked;" \
		"resets $(sg reset), aborts $(sg abort), half-closes $(sg halfclose), closes $(sg close)," \
		"$(sg connects) connects in all ($(sg http_conns) HTTP, $(sg http_requests) requests);" \
		"stack peak $peak connections"

	# Every connection the peer ended is gone from the stack within 2·MSL (+ slack).
	local t1=$EPOCHREALTIME
	for _ in $(seq $((20 * MSL + 100))); do
		read -r conns held rss < <(sample)
		[[ $conns -eq 0 && $held -eq 0 ]] && break
		sleep 0.1
	done
	[[ $conns -eq 0 ]] || fail "$conns connections left in the stack $(elapsed_since $t1) s after the client ended"
	[[ $held -eq 0 ]] || fail "the stack's TCP rings still hold $held bytes with no connection"
	ok "connection table empty and TCP ring bytes back to 0 after $(elapsed_since $t1) s (TIME-WAIT 2x${MSL} s)"
}
sg() { $PY -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$sj" "$1"; }

t0=$EPOCHREALTIME
wave "$HOLD" "$ID"
# The connection count is the same from the start of the hold to its end.
growth=$((rss_hold1 - rss_hold0))
bound=$RSS_GROWTH_KB
echo "RSS (KiB) sampled every second of the hold:$series"
[[ $growth -le $bound ]] ||
	fail "RSS grew by $growth KiB during the hold ($rss_hold0 -> $rss_hold1 KiB), bound $bound KiB"
ok "RSS during the hold: $rss_hold0 -> $rss_hold1 KiB (growth $growth KiB, bound $bound); peak $rss_max KiB"
sj1=$sj rss_max1=$rss_max held_max1=$held_max h0=$rss_hold0 h1=$rss_hold1
# A second, short wave of N connections must fit in the memory the first one freed: a leak
# per connection (a control block, a timer, a map) would show as growth here.
wave 3 $((ID + 1))
[[ $rss_max -le $((rss_max1 + RSS_GROWTH_KB)) ]] ||
	fail "a second wave of $N connections grew RSS from $rss_max1 to $rss_max KiB (bound +$RSS_GROWTH_KB KiB)"
ok "second wave of $N connections: RSS peak $rss_max KiB (first wave $rss_max1 KiB)"
connects2=$(sg connects)
sj=$sj1

s=$(stats_json)
acc=$(stats_get "$s" tcp_accepted)
[[ $acc -eq $(($(sg connects) + connects2)) ]] ||
	fail "tcp_accepted $acc, the client connected $(sg connects) + $connects2 times"
[[ $(stats_get "$s" tcp_conn_limit) -eq 0 ]] || fail "connections refused: tcp_conn_limit $(stats_get "$s" tcp_conn_limit)"
echo "soak: conns $N hold $(sg held_s) s open $(sg open_s) s total $(elapsed_since $t0) s connects $(sg connects)" \
	"bytes $(sg bytes_checked) max_echo $(sg max_echo_s) s max_connect $(sg max_connect_s) s" \
	"rss_hold_kb $h0..$h1 rss_peak_kb $rss_max1 wave2_rss_peak_kb $rss_max" \
	"ring_bytes_peak $held_max1 buf $BUF" \
	"retransmits $(stats_get "$s" tcp_retransmits) (tlp $(stats_get "$s" tcp_tlp_probes)" \
	"rto $(stats_get "$s" tcp_rto_expired) spurious $(stats_get "$s" tcp_spurious_rtx))" \
	"no_conn $(stats_get "$s" tcp_no_conn) resets_rx $(stats_get "$s" tcp_resets_rx)" \
	"arp_requests $(stats_get "$s" arp_requests_sent) arp_pending_full $(stats_get "$s" arp_pending_full)" \
	"syncookies $(stats_get "$s" tcp_syncookies_sent) backlog_full $(stats_get "$s" tcp_backlog_full)"
clean_stop
# A sanitizer build (test_soak_san.sh) reports to stderr; the plain build never matches.
if grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$TMP/run.err"; then
	grep -E -A20 'Sanitizer|runtime error:' "$TMP/run.err" | head -60 >&2
	fail "sanitizer report in sluice's stderr"
fi
