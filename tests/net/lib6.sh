# shellcheck shell=bash
# IPv6 on the test link, for the IPv6 root veth tests. Source after lib.sh (which makes the
# namespaces and the veth pair, and switches IPv6 off on it: setup_net6 switches it back on).
#
#   peer namespace  $NS_PEER: $IF_PEER  $PEER6/64   + its link-local $PEER_LL   (kernel)
#   stack namespace $NS_SL:   $IF_SL    $KERNEL6/64 + its link-local $KERNEL_LL (kernel)
#                             sluice owns $STACK6 (a /64 on the same link)
#
# The prefix is a ULA (RFC 4193) made from the test's PID, so two runs never share one; it
# exists only inside the two namespaces. Every address is kept in its canonical text form
# (RFC 5952), the form `ip`, `ping` and sluice print, so that output can be grepped for it.
# The kernel addresses skip DAD (accept_dad 0, nodad): the tests do not wait the kernel's
# 1-2 s, and wait_addr6 still checks that nothing is left tentative. Router solicitations
# and RA processing are off: their chatter is noise, and no test wants a default route.

# v6_canon ADDR: the canonical text form of an IPv6 address.
v6_canon() { $PY -c 'import ipaddress,sys; print(ipaddress.IPv6Address(sys.argv[1]))' "$1"; }

# v6_solicited ADDR: the solicited-node multicast address of ADDR (RFC 4291 §2.7.1).
v6_solicited() {
	$PY -c 'import ipaddress,sys
a=ipaddress.IPv6Address(sys.argv[1]).packed
print(ipaddress.IPv6Address(bytes.fromhex("ff0200000000000000000001ff") + a[13:]))' "$1"
}

PFX6=$(v6_canon "fd5c:$(printf %x $(((ID >> 16) + 1))):$(printf %x $((ID & 0xffff)))::")
PFX6=${PFX6%::} # fd5c:H:L (the remaining 16 bits of the /64 are 0)
PEER6=$(v6_canon "$PFX6::1")
KERNEL6=$(v6_canon "$PFX6::2")
STACK6=$(v6_canon "$PFX6::3")
PEER_LL=
KERNEL_LL=
MAC_SL=
MAC_PEER=

# v6_if_conf NS_CMD IF: the sysctls that make IPv6 on IF quiet and immediate.
v6_if_conf() {
	local run=$1 dev=$2 k
	for k in accept_dad=0 accept_ra=0 router_solicitations=0 disable_ipv6=0; do
		$run sysctl -qw "net.ipv6.conf.$dev.${k%%=*}=${k#*=}" ||
			fail "cannot set net.ipv6.conf.$dev.$k"
	done
}

# setup_net6 [QUEUES]: setup_net, then IPv6 on both ends of the veth pair, with the kernel's
# global addresses and link-locals usable (not tentative) before it returns.
setup_net6() {
	setup_net "$@"
	$PY -c 'import scapy' 2>/dev/null || fail "python3-scapy missing for $PY (make deps installs it)"
	v6_if_conf in_peer "$IF_PEER"
	v6_if_conf in_sl "$IF_SL"
	in_peer ip -6 addr add "$PEER6/64" dev "$IF_PEER" nodad || fail "cannot add $PEER6 to $IF_PEER"
	in_sl ip -6 addr add "$KERNEL6/64" dev "$IF_SL" nodad || fail "cannot add $KERNEL6 to $IF_SL"
	wait_addr6 in_peer "$IF_PEER" "$PEER6"
	wait_addr6 in_sl "$IF_SL" "$KERNEL6"
	PEER_LL=$(link_local6 in_peer "$IF_PEER")
	KERNEL_LL=$(link_local6 in_sl "$IF_SL")
	wait_addr6 in_peer "$IF_PEER" "$PEER_LL"
	wait_addr6 in_sl "$IF_SL" "$KERNEL_LL"
	MAC_SL=$(mac_of in_sl "$IF_SL")
	MAC_PEER=$(mac_of in_peer "$IF_PEER")
	[[ -n $MAC_SL && -n $MAC_PEER ]] || fail "cannot read the MACs of the veth pair"
	# The kernels reach each other over IPv6 before sluice is involved: else nothing below
	# says anything about sluice.
	in_peer ping -6 -c 1 -W 2 "$KERNEL6" >/dev/null ||
		fail "harness: the peer's kernel cannot ping the stack namespace's kernel at $KERNEL6"
}

# mac_of NS_CMD IF: the MAC address of IF (lower case). (in_sl keeps the root's /sys.)
mac_of() { $1 ip -o link show dev "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }

# link_local6 NS_CMD IF: the kernel's link-local address on IF (waits up to 5 s for it).
link_local6() {
	local a
	for _ in $(seq 50); do
		a=$($1 ip -6 -o addr show dev "$2" scope link | sed -n 's/.* inet6 \(fe80[^/]*\)\/.*/\1/p' | head -1)
		[[ -n $a ]] && {
			echo "$a"
			return 0
		}
		sleep 0.1
	done
	fail "no IPv6 link-local address on $2 after 5 s"
}

# wait_addr6 NS_CMD IF ADDR: wait (up to 5 s) until ADDR is on IF and usable: neither
# tentative nor dadfailed.
wait_addr6() {
	local out
	for _ in $(seq 50); do
		out=$($1 ip -6 -o addr show dev "$2" to "$3/128" 2>/dev/null)
		if [[ -n $out && $out != *tentative* && $out != *dadfailed* ]]; then
			return 0
		fi
		sleep 0.1
	done
	fail "address $3 on $2 not usable after 5 s: '${out:-absent}'"
}

# start_sluice_args ARGS...: `sluice run $IF_SL ARGS...` in the background (exactly these
# arguments: no implicit IPv4 address, unlike lib.sh's start_sluice), waiting up to 10 s for
# "serving" (DAD alone takes a second or two, RFC 4862 §5.4). On failure the message quotes
# the command and sluice's own first error line.
start_sluice_args() {
	nsenter --net=/run/netns/"$NS_SL" "$SLUICE" run "$IF_SL" "$@" \
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
	[[ $(grep -c . "$TMP/run.err") -gt 1 ]] && cat "$TMP/run.err" >&2
	fail "sluice run $IF_SL $* did not start serving within 10 s (exit status $rc): $(grep -m1 -v '^sluice: stopped' "$TMP/run.err")"
}

# stats6_json: the stack's counters as one JSON object ({} when no stack publishes any).
stats6_json() {
	in_sl "$SLUICE" stats "$IF_SL" --json 2>/dev/null | $PY -c "
import json,sys
try:
    d=json.load(sys.stdin)
    print(json.dumps(d['stacks'][0]['counters'] if d['stacks'] else {}))
except Exception:
    print('{}')"
}

# v6_keys JSON: the counter names of one family (ipv6_, icmp6_, nd_, *6_*) in a snapshot.
v6_keys() {
	$PY -c "
import json,sys
ks=[k for k in json.loads(sys.argv[1]) if k.startswith(('ipv6_','icmp6_','nd_','ndp_')) or '6_' in k]
print(' '.join(sorted(ks)) or '(none)')" "$1"
}

# counter6 JSON NAME: sets C6 to the value of counter NAME in a stats6_json snapshot; fails,
# listing the IPv6 counters that do exist, when there is no such counter. (The names are the
# stack's; each test keeps the names it expects in one list at its top, easy to align.) Not
# for $(...): a failure there would end only the subshell.
counter6() {
	C6=$($PY -c "import json,sys; d=json.loads(sys.argv[1]); print(d[sys.argv[2]] if sys.argv[2] in d else '')" "$1" "$2")
	[[ -n $C6 ]] || fail "no counter '$2' in sluice stats --json (IPv6 counters present: $(v6_keys "$1"))"
}

# grew6 S0 S1 NAME MIN: counter NAME grew by at least MIN from snapshot S0 to S1 (it must
# exist in S1; absent from S0 counts as 0); sets G6 to the growth.
grew6() {
	counter6 "$2" "$3"
	local a
	a=$($PY -c "import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2],0))" "$1" "$3")
	G6=$((C6 - a))
	((G6 >= $4)) || fail "counter $3 grew by $G6, expected at least $4"
}
