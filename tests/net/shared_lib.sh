# shellcheck shell=bash
# Helpers for the shared-address tests (test_shared.sh, test_shared6.sh: issue 11,
# `sluice run DEV --shared`); source after lib.sh and tcp_lib.sh. In shared mode sluice owns
# no address: it serves ports of the kernel's own addresses on $IF_SL ($KERNEL_IP, and
# $KERNEL6 / $KERNEL_LL with lib6.sh).
SHARED_UTIL=$ROOT/tests/net/shared_util.py

# start_sluice_shared ARGS...: `sluice run $IF_SL --shared ARGS...` in the background ($! is
# sluice itself: nsenter execs it), waiting up to 10 s for "serving" on stderr; fails with
# sluice's stderr and exit status when it ends instead.
start_sluice_shared() {
	nsenter --net=/run/netns/"$NS_SL" "$SLUICE" run "$IF_SL" --shared "$@" \
		>"$TMP/run.out" 2>"$TMP/run.err" &
	SLUICE_PID=$!
	for _ in $(seq 100); do
		grep -q 'serving' "$TMP/run.err" 2>/dev/null && return 0
		kill -0 "$SLUICE_PID" 2>/dev/null || break
		sleep 0.1
	done
	local rc=running
	if ! kill -0 "$SLUICE_PID" 2>/dev/null; then
		rc=0
		wait "$SLUICE_PID" || rc=$?
		SLUICE_PID=
	fi
	cat "$TMP/run.err" >&2
	fail "sluice run $IF_SL --shared $* did not start serving within 10 s (exit status $rc)"
}

# kill9_sluice: SIGKILL the running stack and reap it.
kill9_sluice() {
	kill -KILL "$SLUICE_PID"
	wait "$SLUICE_PID" 2>/dev/null
	SLUICE_PID=
}

# gate_counter NAME: a counter of the gate (`sluice stats --json`, key gate.NAME); fails when
# the gate has no such counter.
gate_counter() {
	local v
	v=$(in_sl "$SLUICE" stats "$IF_SL" --json | $PY -c "
import json,sys
g=json.load(sys.stdin)['gate']
print(g['$1'] if '$1' in g else 'missing: ' + ' '.join(sorted(g)))") || fail "sluice stats $IF_SL --json failed"
	[[ $v =~ ^[0-9]+$ ]] || fail "no gate counter $1 in sluice stats --json ($v)"
	echo "$v"
}

# stack_json: the running stack's counters as one JSON object; fails when `sluice stats`
# shows no stack (shared mode must publish its counters like a normal run).
stack_json() {
	local out
	out=$(in_sl "$SLUICE" stats "$IF_SL" --json 2>&1) || fail "sluice stats $IF_SL --json failed: $out"
	$PY -c "
import json,sys
d=json.loads(sys.argv[1])
if not d.get('stacks'):
    sys.exit('no stack in sluice stats --json')
print(json.dumps(d['stacks'][0]['counters']))" "$out" || fail "sluice stats shows no running stack"
}

# counter JSON NAME: one counter of a stack_json snapshot; fails when there is no such counter.
counter() {
	$PY -c "
import json,sys
d=json.loads(sys.argv[1])
print(d[sys.argv[2]] if sys.argv[2] in d else 'missing')" "$1" "$2"
}
# need_counter JSON NAME: fails (naming the counter) when a snapshot lacks it.
need_counter() {
	[[ $(counter "$1" "$2") =~ ^[0-9]+$ ]] || fail "no stack counter '$2' in sluice stats --json"
}

# flows_json: `sluice flow list $IF_SL --json`.
flows_json() { in_sl "$SLUICE" flow list "$IF_SL" --json || fail "sluice flow list $IF_SL --json failed"; }

# check_port_rules ADDRS PORTS: the gate's rules are exactly a port rule for every
# (ADDR, PORT) pair, no owned-address rule and nothing else; ADDRS and PORTS are
# space-separated lists, a PORT is N (tcp) or udp:N.
check_port_rules() {
	flows_json | $PY -c '
import ipaddress, json, sys
def ip(a):  # a link-local may be printed with its zone (fe80::1%eth0)
    return ipaddress.ip_address(a.split("%")[0])
addrs = [ip(a) for a in sys.argv[1].split()]
ports = [(p.split(":")[0], int(p.split(":")[1])) if ":" in p else ("tcp", int(p))
         for p in sys.argv[2].split()]
flows = json.load(sys.stdin)["flows"]
owned = [f for f in flows if f["kind"] == "owned"]
if owned:
    sys.exit("owned-address rules in shared mode: %s" % owned)
def key(f):
    return (ip(f["addr"]), f["proto"], f["port"]) if f["kind"] == "port" and f["addr"] else None
have = {key(f) for f in flows}
want = {(a, pr, p) for a in addrs for pr, p in ports}
missing = want - have
extra = [f for f in flows if key(f) not in want]
if missing:
    sys.exit("no port rule for %s; rules: %s" % (sorted("%s %s/%d" % m for m in missing), flows))
if extra:
    sys.exit("rules other than the port rules expected: %s" % extra)
' "$1" "$2" || fail "sluice flow list: wrong rules for --shared"
}

# rules_mention ADDR_OR_PORT...: the number of rules whose addr or port is one of the
# arguments.
rules_mention() {
	flows_json | $PY -c '
import ipaddress, json, sys
def ip(a):
    return ipaddress.ip_address(a.split("%")[0])
keys = set()
for a in sys.argv[1:]:
    keys.add(int(a) if a.isdigit() else ip(a))
n = 0
for f in json.load(sys.stdin)["flows"]:
    a = ip(f["addr"]) if f.get("addr") else None
    if a in keys or f.get("port") in keys:
        n += 1
print(n)' "$@"
}

# kbind PORT FAMILY [udp]: "free" or "inuse" for a kernel bind() of a TCP (or UDP) socket to
# PORT in the host namespace (FAMILY 4: 0.0.0.0, 6: [::] with IPV6_V6ONLY).
kbind() {
	local out
	out=$(in_sl $PY "$SHARED_UTIL" bind "$1" "$2" "${3:-tcp}" 2>&1) || fail "kernel bind test for port $1: $out"
	echo "$out"
}

# expect_bind PORT STATE WHY [udp]: a kernel bind of PORT (TCP, or UDP) in the host
# namespace, both families, is STATE (free or inuse).
expect_bind() {
	local f got
	for f in 4 6; do
		got=$(kbind "$1" $f "${4:-tcp}")
		[[ $got == "$2" ]] || fail "$3: a kernel bind() of a ${4:-tcp} socket to $([[ $f == 4 ]] && echo 0.0.0.0 || echo '[::]'):$1 is $got, expected $2"
	done
}

# snmp NS_CMD PROTO FIELD: one counter of /proc/net/snmp (IPv4: Icmp InDestUnreachs) or
# /proc/net/snmp6 (Icmp6InPktTooBigs; PROTO "-") in that namespace.
snmp() {
	if [[ $2 == - ]]; then
		$1 awk -v f="$3" '$1 == f { print $2 }' /proc/net/snmp6
	else
		$1 awk -v p="$2:" -v f="$3" '$1 == p && !n { for (i = 2; i <= NF; i++) h[$i] = i; n = 1; next }
			$1 == p && n { print $h[f]; exit }' /proc/net/snmp
	fi
}

# --- a kernel connection that must outlive every sluice run ------------------------------
# keeper_start IP PORT: a kernel client in the peer namespace on a connection to the kernel's
# echo server in the host namespace, a line every 0.2 s (shared_util.py keeper).
KEEPER_PID=
KEEPER_SEEN=0
keeper_start() {
	nsenter --net=/run/netns/"$NS_PEER" $PY "$SHARED_UTIL" keeper "$1" "$2" 85 \
		>"$TMP/keeper.out" 2>&1 &
	KEEPER_PID=$!
	for _ in $(seq 50); do
		grep -q '^alive' "$TMP/keeper.out" && return 0
		kill -0 "$KEEPER_PID" 2>/dev/null || break
		sleep 0.1
	done
	fail "the kernel keeper connection to $1 port $2 did not start: $(cat "$TMP/keeper.out")"
}
# keeper_check WHAT: the keeper's connection is still alive and has echoed more lines since
# the last check (waits up to 3 s for one more).
keeper_check() {
	local n
	for _ in $(seq 30); do
		grep -q '^dead' "$TMP/keeper.out" && break
		n=$(grep '^alive' "$TMP/keeper.out" | tail -1 | cut -d' ' -f2)
		[[ ${n:-0} -gt $KEEPER_SEEN ]] && {
			KEEPER_SEEN=$n
			return 0
		}
		kill -0 "$KEEPER_PID" 2>/dev/null || break
		sleep 0.1
	done
	fail "the kernel TCP connection opened before sluice started did not survive $1: $(grep -v '^alive' "$TMP/keeper.out" | tail -3) (last: $(grep '^alive' "$TMP/keeper.out" | tail -1))"
}
# keeper_stop: end the keeper cleanly; it must report no fault.
keeper_stop() {
	kill -TERM "$KEEPER_PID" 2>/dev/null
	local rc=0
	wait "$KEEPER_PID" || rc=$?
	KEEPER_PID=
	[[ $rc -eq 0 ]] && grep -q '^done' "$TMP/keeper.out" ||
		fail "the kernel keeper connection ended badly (rc $rc): $(grep -v '^alive' "$TMP/keeper.out" | tail -3)"
	KEEPER_SEEN=$(grep '^alive' "$TMP/keeper.out" | tail -1 | cut -d' ' -f2)
}

# bg_in NS PROG ARGS...: PROG in namespace NS in the background ($! is PROG itself).
bg_in() {
	local ns=$1
	shift
	nsenter --net=/run/netns/"$ns" "$@" &
}
