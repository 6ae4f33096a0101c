# The TCP part of `make bench`, sourced by bench/run.sh after its UDP part: it uses run.sh's
# namespaces, addresses and helpers (in_gen, in_srv, pin_napi, say, die, $TMP, $OUT ...).
#
#   gen namespace  $GEN_IP     tcpbulk send / sink, wrk (CPU 0)
#   srv namespace  $KERNEL_IP  kernel: tcpbulk send / sink, khttp (CPU 1)
#                  $STACK_IP   sluice run --discard 9 --http 80, or --send (CPU 1)
#
# Bulk transfer, both directions ("up" = gen -> srv, "down" = srv -> gen), against:
#   sluice       up: tcpbulk send -> sluice --discard; down: sluice --send -> tcpbulk sink
#   kernel_gate  the kernel on the same veth with the sluice gate attached to the srv end
#                (XDP_PASS for the kernel's traffic; the srv veth NAPI threaded on CPU 1)
#   kernel       the kernel with no XDP program anywhere (reference)
# HTTP: wrk -t1 (CPU 0), keep-alive, GET / and GET /bytes/64, against sluice --http, khttp
# behind the gate, khttp without XDP. Every run appends one JSON line to $OUT/tcp/raw.jsonl;
# bench/report.py (with bench/tcp_report.py) summarizes. Runs alternate sluice / kernel_gate
# so that a burst of other load hits both.
#
# Knobs: BENCH_TCP_REPEAT=3 BENCH_BULK_BYTES=1073741824 BENCH_BULK_SECONDS=4
# BENCH_HTTP_SECONDS=3 BENCH_HTTP_CONNS=16 BENCH_HTTP_CONNS_HIGH=64 (0: no extra run at
# high concurrency) BENCH_PERF=1|0 BENCH_SLUICE_ARGS="" (extra options for the serving
# `sluice run`). Caution: the serving sluice and khttp share the server CPU for the whole part,
# so --busy-poll there makes every kernel figure a measurement beside a spinning neighbour
# (tried: khttp fell from ~134 k to ~94 k req/s) — not a comparison to publish.
#
# At MTU 9000 (run.sh's BENCH_MTUS, default "1500 9000": after the IPv4 pass at the pair's
# 1500, a pass of its own over IPv4 with TCP_MTU=9000 and TD=$OUT/tcp9000, before the IPv6 pass)
# this part runs for every target at that MTU on both ends of the pair: sluice on multi-buffer
# AF_XDP behind the gate, the kernel behind the gate, and the plain kernel (no XDP program).
# The MTU is set before the gate attaches and put back at the end of the part, so the other
# parts keep theirs; it is written to $TD/mtu.txt. Lighter than the 1500 pass by default:
# BENCH_TCP_REPEAT9000 (default 2, at most BENCH_TCP_REPEAT) runs per target, HTTP only
# BENCH_HTTP_PATHS9000="/bytes/64" (empty: no HTTP runs) at BENCH_HTTP_CONNS and
# BENCH_HTTP_CONNS_HIGH9000=0 (no high-concurrency row), no perf profiles unless
# BENCH_PERF9000=1. The 9000 pass alone, the 1500 results reported again:
#   BENCH_PARTS=tcp BENCH_FAMILIES=4 BENCH_MTUS=9000 make bench
#
# Over IPv6 (run.sh's use_family 6: the same targets on fd00:NET::/64, results in $OUT/tcp6)
# BENCH_TCP_REPEAT6 (default 2, at most BENCH_TCP_REPEAT) runs per target and
# BENCH_HTTP_PATHS6="/bytes/64" only; no perf profiles unless BENCH_PERF6=1.

TCP_REPEAT=${BENCH_TCP_REPEAT:-3}
BULK_BYTES=${BENCH_BULK_BYTES:-1073741824}
BULK_SECONDS=${BENCH_BULK_SECONDS:-4}
HTTP_SECONDS=${BENCH_HTTP_SECONDS:-3}
HTTP_CONNS=${BENCH_HTTP_CONNS:-16}
HTTP_CONNS_HIGH=${BENCH_HTTP_CONNS_HIGH:-64}
HTTP_PATHS="/ /bytes/64"
TCP_REPEAT6=${BENCH_TCP_REPEAT6:-$((TCP_REPEAT < 2 ? TCP_REPEAT : 2))}
HTTP_PATHS6=${BENCH_HTTP_PATHS6:-/bytes/64}
TCP_REPEAT9000=${BENCH_TCP_REPEAT9000:-$((TCP_REPEAT < 2 ? TCP_REPEAT : 2))}
HTTP_PATHS9000=${BENCH_HTTP_PATHS9000-/bytes/64} # set and empty: no HTTP runs at MTU 9000
HTTP_CONNS_HIGH9000=${BENCH_HTTP_CONNS_HIGH9000:-0}
PERF9000=${BENCH_PERF9000:-0}
TCP_MTU=1500 # the MTU of the pass (run.sh's use_mtu): 9000 for the pass into $OUT/tcp9000
DISCARD_PORT=9
SINK_PORT=5001
HTTP_PORT=80
TD=$OUT/tcp # $OUT/tcp6 for the IPv6 pass, $OUT/tcp9000 at MTU 9000 (use_family, use_mtu)
SL_PID=
KH_PID=
SINK_PID=
SEND_PID=

tcp_cleanup() { # for run.sh's cleanup: whatever of ours still runs
	local p
	for p in $SL_PID $KH_PID $SINK_PID; do
		kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	# SEND_PID is timeout(1), which passes TERM on to `sluice run --send` (KILL would not).
	[[ -n $SEND_PID ]] && kill -TERM "$SEND_PID" 2>/dev/null && wait "$SEND_PID" 2>/dev/null
	SL_PID= KH_PID= SINK_PID= SEND_PID=
}

# /proc/stat lines of the two CPUs: jiffies (user nice system idle iowait irq softirq steal).
cpu_snap() { awk '$1 == "cpu0" || $1 == "cpu1" { printf "%s[%s,%s,%s,%s,%s,%s,%s,%s]", \
	(n++ ? "," : ""), $2, $3, $4, $5, $6, $7, $8, $9 }' /proc/stat; }

jstr() { $PY -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
# brief KIND JSON...: one line for the console from a run's JSON
brief() {
	$PY - "$@" <<'PY'
import json, sys
kind, j = sys.argv[1], [json.loads(a) for a in sys.argv[2:]]
if kind == "up":
    print("%.2f Gbit/s, %d bytes" % (j[0]["bits_per_s"] / 1e9, j[0]["bytes"]))
elif kind == "down":
    print("%.2f Gbit/s, %d bytes sent, %d received, %d bad" % (
        j[0]["bits_per_s"] / 1e9, j[0]["bytes"], j[1]["bytes"], j[1]["bad_bytes"]))
else:
    w = j[0]
    print("%.1f k req/s, p50 %d us, p99 %d us, %d errors" % (
        w["requests"] / (w["duration_us"] / 1e6) / 1e3, w["latency_us"]["p50"],
        w["latency_us"]["p99"], sum(w["errors"].values())))
PY
}
first_json() { grep -m1 '^{' "$1" 2>/dev/null || echo null; } # first JSON line of a file, or null

# record KIND TARGET KEY=JSON...: one line of tcp/raw.jsonl
record() {
	local kind=$1 target=$2 line kv
	shift 2
	line="{\"kind\":\"$kind\",\"target\":\"$target\""
	for kv in "$@"; do line+=",\"${kv%%=*}\":${kv#*=}"; done
	echo "$line}" >>"$TD/raw.jsonl"
}

# bg_start NAME PATTERN NS CPU CMD...: start CMD in the background in namespace NS on CPU, wait
# until its stderr shows PATTERN; the PID is left in BG. Returns 1 (stderr shown) if it never
# does.
bg_start() {
	local name=$1 pat=$2 ns=$3 cpu=$4
	shift 4
	taskset -c "$cpu" nsenter --net=/run/netns/"$ns" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	BG=$!
	for _ in $(seq 200); do
		grep -q "$pat" "$TMP/$name.err" 2>/dev/null && return 0
		kill -0 "$BG" 2>/dev/null || break
		sleep 0.05
	done
	cat "$TMP/$name.err" >&2
	kill -KILL "$BG" 2>/dev/null
	wait "$BG" 2>/dev/null
	return 1
}

# --- bulk --------------------------------------------------------------------------------
# bulk_up TARGET DST PORT LABEL: tcpbulk send from gen (CPU 0) to DST:PORT. For a kernel
# target a tcpbulk sink (count only, like the discard service) listens there on CPU 1.
bulk_up() {
	local t=$1 dst=$2 port=$3 label=$4 c0 c1 err= sink=null rc=0
	SINK_PID=
	if [[ $t != sluice ]]; then
		bg_start sink listening "$NS_SRV" $SRV_CPU "$OUT/tcpbulk" sink --addr "$dst" --port "$port" \
			--verify 0 --timeout 30 || { err="tcpbulk sink did not start"; }
		SINK_PID=$BG
	fi
	c0=$(cpu_snap)
	if [[ -z $err ]]; then
		timeout 60 taskset -c $GEN_CPU nsenter --net=/run/netns/"$NS_GEN" "$OUT/tcpbulk" send \
			--dst "$dst" --port "$port" --bytes "$BULK_BYTES" --seconds "$BULK_SECONDS" \
			--timeout 20 >"$TMP/snd.json" 2>"$TMP/snd.err" || rc=$?
		[[ $rc -eq 0 ]] || err="tcpbulk send: exit $rc: $(tr '\n' ' ' <"$TMP/snd.err")"
	fi
	c1=$(cpu_snap)
	if [[ -n $SINK_PID ]]; then
		[[ -n $err ]] && kill -TERM "$SINK_PID" 2>/dev/null
		wait "$SINK_PID" || [[ -n $err ]] || err="tcpbulk sink failed: $(tr '\n' ' ' <"$TMP/sink.err")"
		SINK_PID=
		sink=$(first_json "$TMP/sink.out")
	fi
	local snd
	snd=$(first_json "$TMP/snd.json")
	record bulk "$t" dir='"up"' run="\"$label\"" ok="$([[ -z $err ]] && echo true || echo false)" \
		error="$(jstr "$err")" sender="$snd" sink="$sink" cpu="[$c0]" cpu_end="[$c1]"
	if [[ -n $err ]]; then
		say "tcp bulk up $t $label: FAILED: $err"
	else
		say "tcp bulk up $t $label: $(brief up "$snd")"
	fi
}

# bulk_down TARGET LABEL [BYTES]: to a tcpbulk sink in gen (CPU 0, every byte checked) from
# sluice --send (BYTES) or the kernel's tcpbulk send on CPU 1 (target kernel*).
bulk_down() {
	local t=$1 label=$2 bytes=${3:-$BULK_BYTES} c0 c1 err= rc=0 snd=null
	bg_start sink listening "$NS_GEN" $GEN_CPU "$OUT/tcpbulk" sink --addr "$GEN_IP" --port $SINK_PORT \
		--timeout 60 || err="tcpbulk sink did not start"
	SINK_PID=$BG
	c0=$(cpu_snap)
	if [[ -z $err && $t == sluice ]]; then
		timeout 90 taskset -c $SRV_CPU nsenter --net=/run/netns/"$NS_SRV" "$SLUICE" run "$IF_SRV" \
			--addr "$STACK_IP/$PLEN" --send "$(hostport "$GEN_IP" $SINK_PORT):$bytes" --json \
			>"$TMP/send.out" 2>"$TMP/send.err" &
		SEND_PID=$!
		# The CPU window opens when sluice says it serves: over IPv6 that is after its DAD
		# (about 1 s of waiting that would otherwise dilute the busy shares).
		for _ in $(seq 1000); do
			grep -q serving "$TMP/send.err" 2>/dev/null && break
			kill -0 "$SEND_PID" 2>/dev/null || break
			sleep 0.01
		done
		c0=$(cpu_snap)
		wait "$SEND_PID" || rc=$?
		SEND_PID=
		[[ $rc -eq 0 ]] || err="sluice --send: exit $rc: $(tr '\n' ' ' <"$TMP/send.err")"
		# "sluice: sent N bytes from A to B in S s: R Mbit/s"
		snd=$($PY - "$TMP/send.err" <<'EOF'
import json, re, sys
m = re.search(r"sent (\d+) bytes .* in ([\d.]+) s: ([\d.]+) Mbit/s", open(sys.argv[1]).read())
print(json.dumps({"bytes": int(m.group(1)), "seconds": float(m.group(2)),
                  "bits_per_s": float(m.group(3)) * 1e6}) if m else "null")
EOF
)
		cp "$TMP/send.err" "$TD/send-$label.err"
	elif [[ -z $err ]]; then
		timeout 60 taskset -c $SRV_CPU nsenter --net=/run/netns/"$NS_SRV" "$OUT/tcpbulk" send \
			--dst "$GEN_IP" --port $SINK_PORT --bytes "$bytes" --seconds "$BULK_SECONDS" \
			--timeout 20 >"$TMP/snd.json" 2>"$TMP/snd.err" || rc=$?
		[[ $rc -eq 0 ]] || err="tcpbulk send: exit $rc: $(tr '\n' ' ' <"$TMP/snd.err")"
		snd=$(first_json "$TMP/snd.json")
	fi
	c1=$(cpu_snap)
	# A sender that failed leaves the sink waiting: end it.
	[[ -n $err ]] && kill -TERM "$SINK_PID" 2>/dev/null
	wait "$SINK_PID" || [[ -n $err ]] ||
		err="tcpbulk sink: $(tr '\n' ' ' <"$TMP/sink.err") $(cat "$TMP/sink.out")"
	SINK_PID=
	local sink srvj=null
	sink=$(first_json "$TMP/sink.out")
	[[ $t == sluice ]] && srvj=$(first_json "$TMP/send.out")
	record bulk "$t" dir='"down"' run="\"$label\"" ok="$([[ -z $err ]] && echo true || echo false)" \
		error="$(jstr "$err")" sender="$snd" sink="$sink" server="$srvj" cpu="[$c0]" cpu_end="[$c1]"
	if [[ -n $err ]]; then
		say "tcp bulk down $t $label: FAILED: $err"
	else
		say "tcp bulk down $t $label: $(brief down "$snd" "$sink")"
	fi
}

# --- HTTP --------------------------------------------------------------------------------
# http_check TARGET ADDR: the two benchmark URLs by curl from gen, compared with the page and
# the pattern; writes the full response lengths to $TD/resp-TARGET.json.
http_check() {
	local t=$1 addr=$2 p n=0 lens=
	for p in $HTTP_PATHS; do
		n=$((n + 1))
		in_gen curl -sS -g --max-time 5 -o "$TMP/body-$t-$n" -w '%{http_code} %{size_header}' \
			"http://$(hostport "$addr" $HTTP_PORT)$p" >"$TMP/curl-$t-$n" 2>&1 || {
			cat "$TMP/curl-$t-$n" >&2
			return 1
		}
		lens+="${lens:+,}\"$p\":$(cat "$TMP/curl-$t-$n")"
	done
	$PY - "$t" "$TMP" "$TD/resp-$t.json" "$ROOT/bench/khttp.c" <<'EOF' || return 1
import json, re, sys
t, tmp, out, src = sys.argv[1:]
# The page, as bench/khttp.c (and tools/services.c) spell it.
page = "".join(json.loads('"' + s + '"') for s in
               re.findall(r'"((?:[^"\\]|\\.)*)"', re.search(
                   r"index_page\[\] =(.*?);", open(src).read(), re.S).group(1))).encode()
want = {1: page, 2: bytes(i % 251 for i in range(64))}
res = {}
for n, path in ((1, "/"), (2, "/bytes/64")):
    code, hdr = open(f"{tmp}/curl-{t}-{n}").read().split()
    body = open(f"{tmp}/body-{t}-{n}", "rb").read()
    if code != "200" or body != want[n]:
        sys.exit(f"{t} GET {path}: status {code}, {len(body)} bytes, expected 200 and "
                 f"{len(want[n])} bytes{' (content differs)' if len(body) == len(want[n]) else ''}")
    res[path] = {"status": int(code), "header_bytes": int(hdr), "body_bytes": len(body),
                 "response_bytes": int(hdr) + len(body)}
json.dump(res, open(out, "w"))
EOF
}

# http_run TARGET ADDR PATH CONNS LABEL: one wrk run from gen on CPU 0.
http_run() {
	local t=$1 addr=$2 path=$3 conns=$4 label=$5 c0 c1 rc=0 err=
	c0=$(cpu_snap)
	timeout $((HTTP_SECONDS + 30)) taskset -c $GEN_CPU nsenter --net=/run/netns/"$NS_GEN" \
		wrk -t1 -c"$conns" -d"${HTTP_SECONDS}s" --latency -s "$ROOT/bench/wrk_json.lua" \
		"http://$(hostport "$addr" $HTTP_PORT)$path" >"$TMP/wrk.out" 2>&1 || rc=$?
	c1=$(cpu_snap)
	[[ $rc -eq 0 ]] || err="wrk: exit $rc: $(tr '\n' ' ' <"$TMP/wrk.out")"
	local w
	w=$(grep '^{"requests"' "$TMP/wrk.out" | tail -1)
	[[ -n $w ]] || { w=null; err=${err:-"wrk printed no summary: $(tr '\n' ' ' <"$TMP/wrk.out")"}; }
	cat "$TMP/wrk.out" >>"$TD/wrk.txt"
	record http "$t" path="\"$path\"" conns="$conns" run="\"$label\"" \
		ok="$([[ -z $err ]] && echo true || echo false)" error="$(jstr "$err")" wrk="$w" \
		resp="$(cat "$TD/resp-$t.json" 2>/dev/null || echo null)" cpu="[$c0]" cpu_end="[$c1]"
	if [[ -n $err ]]; then
		say "tcp http $t $path c$conns $label: FAILED: $err"
	else
		say "tcp http $t $path c$conns $label: $(brief http "$w")"
	fi
}

# --- perf --------------------------------------------------------------------------------
perf_ok() {
	local want=${BENCH_PERF:-1}
	[[ $FAM == 6 ]] && want=$PERF6
	[[ $TCP_MTU == 9000 ]] && want=$PERF9000
	[[ $want == 1 ]] && command -v perf >/dev/null &&
		perf record -q -e cpu-clock -o "$TMP/perf.test" -- true >/dev/null 2>&1
}
# perf_during NAME CMD...: a cpu-clock profile (with call graphs) of the server CPU for the
# first 3 s of CMD; summaries in $TD/perf-NAME-{dso,sym,callers}.txt and the shares of
# bench/tcp_report.py's categories in $TD/perf-NAME-classes.json.
perf_during() {
	local name=$1 pp
	shift
	perf record -q -g -e cpu-clock -C $SRV_CPU -o "$TMP/perf-$name.data" -- sleep 3 \
		>/dev/null 2>&1 &
	pp=$!
	sleep 0.1
	"$@"
	wait $pp
	perf report -i "$TMP/perf-$name.data" --no-children --sort comm,dso --stdio 2>/dev/null |
		grep -E '^ +[0-9.]+%' >"$TD/perf-$name-dso.txt"
	perf report -i "$TMP/perf-$name.data" --no-children --sort sym --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -40 >"$TD/perf-$name-sym.txt"
	perf report -i "$TMP/perf-$name.data" --no-children --sort sym --stdio \
		-g caller,0.5,callee,function,percent --percent-limit 3 2>/dev/null |
		grep -v '^$' | grep -v '^#' | head -400 >"$TD/perf-$name-callers.txt"
	perf script -i "$TMP/perf-$name.data" -F comm,tid,ip,sym,dso >"$TMP/perf-$name.script" \
		2>/dev/null
	$PY "$ROOT/bench/tcp_report.py" --classify "$TMP/perf-$name.script" \
		>"$TD/perf-$name-classes.json" || say "tcp perf: cannot classify the $name samples"
	rm -f "$TMP/perf-$name.data" "$TMP/perf-$name.script"
}

# tcp_mtu [MTU]: the MTU of both ends of the pair; without MTU, print the server end's.
tcp_mtu() {
	if [[ -z ${1:-} ]]; then
		in_srv ip -o link show dev "$IF_SRV" | grep -o 'mtu [0-9]*' | cut -d' ' -f2
		return
	fi
	in_gen ip link set dev "$IF_GEN" mtu "$1" && in_srv ip link set dev "$IF_SRV" mtu "$1"
}

# --- the part ----------------------------------------------------------------------------
tcp_part() {
	local r p reps=$TCP_REPEAT paths=$HTTP_PATHS high=$HTTP_CONNS_HIGH
	[[ $FAM == 6 ]] && reps=$TCP_REPEAT6 paths=$HTTP_PATHS6
	[[ $TCP_MTU == 9000 ]] && reps=$TCP_REPEAT9000 paths=$HTTP_PATHS9000 high=$HTTP_CONNS_HIGH9000
	local t0
	t0=$(date +%s.%N)
	rm -rf "$TD"
	mkdir -p "$TD"
	date -Iseconds >"$TD/date.txt"
	# This pass's own knobs: reported with its results, also when a later run reports them again.
	echo "tcp_repeat=$reps bulk_bytes=$BULK_BYTES bulk_seconds=$BULK_SECONDS" \
		"http_seconds=$HTTP_SECONDS http_conns=$HTTP_CONNS http_conns_high=$high" \
		"http_paths=$(echo $paths | tr ' ' ,)" >"$TD/config.txt"
	local mtu0
	mtu0=$(tcp_mtu)
	if [[ $TCP_MTU != "$mtu0" ]]; then
		# A veth refuses an MTU that the XDP program attached to it cannot take: change it
		# with no gate attached (sluice's, built as xdp.frags, is attached again below).
		in_srv "$SLUICE" detach "$IF_SRV" >/dev/null 2>&1
		tcp_mtu "$TCP_MTU" || die "cannot set MTU $TCP_MTU on $IF_GEN and $IF_SRV"
	fi
	tcp_mtu >"$TD/mtu.txt"
	for t in wrk curl; do command -v $t >/dev/null || die "missing $t (make deps installs it)"; done
	say "tcp: bulk (up to $BULK_BYTES bytes or ${BULK_SECONDS} s per kernel-sent run) and HTTP" \
		"(wrk -t1 -c$HTTP_CONNS -d${HTTP_SECONDS}s, GET ${paths:-nothing}), $reps runs per" \
		"target, IPv$FAM, MTU $(cat "$TD/mtu.txt")"

	# Behind the gate: sluice (discard + HTTP in one process) and khttp, side by side.
	in_srv "$SLUICE" attach "$IF_SRV" >"$TMP/attach.out" 2>&1 ||
		{ cat "$TMP/attach.out"; die "attach failed"; }
	in_srv ip -d link show "$IF_SRV" | grep -o 'xdp[a-z]*' | head -1 >"$TD/mode-gate.txt"
	NAPI_FILE=$TD/napi.txt
	echo "kernel default: veth receive runs on the transmitting CPU" >"$NAPI_FILE"
	pin_napi
	bg_start sluice serving "$NS_SRV" $SRV_CPU "$SLUICE" run "$IF_SRV" --addr "$STACK_IP/$PLEN" \
		--discard $DISCARD_PORT --http $HTTP_PORT --json ${BENCH_SLUICE_ARGS:-} ||
		die "sluice run did not start"
	SL_PID=$BG
	grep -o '([a-z]* XDP, [a-z-]* mode[a-zA-Z ,]*)' "$TMP/sluice.err" | head -1 >"$TD/mode-sluice.txt"
	bg_start khttp serving "$NS_SRV" $SRV_CPU "$OUT/khttp" --addr "$KERNEL_IP" --port $HTTP_PORT ||
		die "khttp did not start"
	KH_PID=$BG
	local ok=0
	for _ in 1 2 3 4 5; do # sluice resolves .1 by ARP (::1 by ND) on its first reply
		http_check sluice "$STACK_IP" 2>"$TMP/check.err" && { ok=1; break; }
		sleep 0.2
	done
	if [[ $ok -eq 0 ]]; then # measure the rest, show the failure in the report
		cat "$TMP/check.err" >&2
		say "tcp: FAILED: sluice --http does not answer correctly; no HTTP runs against it"
		record http sluice path='"/"' conns="$HTTP_CONNS" run='"1"' ok=false \
			error="$(jstr "answers wrong: $(tr '\n' ' ' <"$TMP/check.err")")" wrk=null
	fi
	http_check kernel_gate "$KERNEL_IP" || die "khttp does not answer correctly"

	for r in $(seq "$reps"); do
		bulk_up sluice "$STACK_IP" $DISCARD_PORT "$r"
		bulk_up kernel_gate "$KERNEL_IP" $SINK_PORT "$r"
	done
	for p in $paths; do
		for r in $(seq "$reps"); do
			[[ $ok -eq 1 ]] && http_run sluice "$STACK_IP" "$p" "$HTTP_CONNS" "$r"
			http_run kernel_gate "$KERNEL_IP" "$p" "$HTTP_CONNS" "$r"
		done
	done
	if [[ $high -gt 0 ]]; then
		for r in $(seq "$reps"); do
			[[ $ok -eq 1 ]] && http_run sluice "$STACK_IP" /bytes/64 "$high" "$r"
			http_run kernel_gate "$KERNEL_IP" /bytes/64 "$high" "$r"
		done
	fi
	if perf_ok; then
		say "tcp perf: server CPU during sluice HTTP and bulk receive"
		[[ $ok -eq 1 ]] && perf_during http http_run sluice "$STACK_IP" /bytes/64 "$HTTP_CONNS" perf
		BULK_BYTES=$((16 << 30)) BULK_SECONDS=3 \
			perf_during up bulk_up sluice "$STACK_IP" $DISCARD_PORT perf
		perf_during http_kernel http_run kernel_gate "$KERNEL_IP" /bytes/64 "$HTTP_CONNS" perf
	else
		say "tcp perf: perf record does not work here (or BENCH_PERF=0); no profiles"
	fi
	kill -TERM "$SL_PID"
	wait "$SL_PID" || say "tcp: sluice run exited with status $? (see $TD/sluice.err)"
	SL_PID=
	cp "$TMP/sluice.err" "$TD/sluice.err"
	first_json "$TMP/sluice.out" >"$TD/server-sluice.json"
	kill -TERM "$KH_PID"
	wait "$KH_PID"
	KH_PID=
	first_json "$TMP/khttp.out" >"$TD/server-khttp-gate.json"

	# Down: sluice --send needs the queue, so it runs alone. A first transfer sizes the runs
	# (about BULK_SECONDS each, at most BULK_BYTES, at least 64 MiB).
	bulk_down sluice calibrate $((256 << 20))
	local down
	down=$($PY - "$TD/raw.jsonl" "$BULK_BYTES" "$BULK_SECONDS" <<'EOF'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
c = [r for r in runs if r["kind"] == "bulk" and r["target"] == "sluice" and r["run"] == "calibrate"]
rate = c[-1]["sender"]["bits_per_s"] / 8 if c and c[-1]["ok"] and c[-1]["sender"] else 0
n = int(min(int(sys.argv[2]), max(64 << 20, rate * float(sys.argv[3]))))
print(n >> 20 << 20)
EOF
)
	say "tcp bulk down: sluice --send runs of $down bytes"
	for r in $(seq "$reps"); do
		bulk_down sluice "$r" "$down"
		bulk_down kernel_gate "$r"
	done
	if perf_ok; then
		say "tcp perf: server CPU during sluice --send"
		perf_during down bulk_down sluice perf "$down"
	fi

	# Reference: no XDP program on the link, and its offloads as a veth is made (run.sh's
	# link_offloads).
	in_srv "$SLUICE" detach "$IF_SRV" >/dev/null 2>&1
	link_offloads kernel
	bg_start khttp serving "$NS_SRV" $SRV_CPU "$OUT/khttp" --addr "$KERNEL_IP" --port $HTTP_PORT ||
		die "khttp did not start"
	KH_PID=$BG
	http_check kernel "$KERNEL_IP" || die "khttp (no XDP) does not answer correctly"
	for r in $(seq "$reps"); do
		bulk_up kernel "$KERNEL_IP" $SINK_PORT "$r"
		bulk_down kernel "$r"
	done
	for p in $paths; do
		for r in $(seq "$reps"); do
			http_run kernel "$KERNEL_IP" "$p" "$HTTP_CONNS" "$r"
		done
	done
	# The high-concurrency row has its plain-kernel baseline too, not only the same path.
	if [[ $high -gt 0 ]]; then
		for r in $(seq "$reps"); do
			http_run kernel "$KERNEL_IP" /bytes/64 "$high" "$r"
		done
	fi
	kill -TERM "$KH_PID"
	wait "$KH_PID"
	KH_PID=
	first_json "$TMP/khttp.out" >"$TD/server-khttp.json"
	link_offloads sluice
	if [[ $(tcp_mtu) != "$mtu0" ]]; then
		in_srv "$SLUICE" detach "$IF_SRV" >/dev/null 2>&1
		tcp_mtu "$mtu0" || say "tcp: cannot put the MTU back to $mtu0"
	fi
	$PY -c "import sys; print(round($(date +%s.%N) - $t0, 1))" >"$TD/elapsed.txt"
}
