#!/usr/bin/env bash
# Unmodified servers under `sluice exec` (issue 12 items 3 and 4): Debian's redis-server and
# nginx binaries (make deps installs them) served to kernel clients in the peer namespace, and
# the very same assertions against the same binaries on the kernel (bound to KERNEL_IP, no
# sluice exec) first, to show that the test itself is right.
#
#   redis-server --port 6379 --bind ADDR --save '' --appendonly no --daemonize no
#                --io-threads 1 --protected-mode no
#     PING; SET/GET of a small value; SET/GET of 1 MiB (redis-cli -x, compared byte for byte,
#     STRLEN); INCR three times; a pipeline of 10000 SETs (redis-cli --pipe: 10000 replies, 0
#     errors; DBSIZE, the last key); redis-benchmark -n 10000 -c 20 -t set,get (both lines);
#     SIGTERM: redis logs its shutdown and exits 0, which sluice exec passes on; with sluice
#     exec the owned-address rule, listed while it ran, is gone (`sluice flow list`) and so is the
#     child.
#   nginx (master_process off, daemon off, one worker), config generated in $TMP, twice: with
#     sendfile off and with sendfile on (the shim copies)
#     a small page; a 16 MiB file by SHA-256; keep-alive: three URLs in one curl, one connection
#     (num_connects 1 0 0); 50 concurrent curls of a 1 MiB file, every body checked; SIGTERM:
#     exit 0, rule removed.
# Every wait is bounded; background processes are stopped by their own PID; nothing outside the
# two namespaces is touched (Debian's own redis/nginx services, if any, are left alone: they
# live in the root namespace and bind nothing here). Takes about 10 s.
source "$(dirname "$0")/lib.sh"
setup_net
need redis-server redis-cli redis-benchmark nginx curl sha256sum timeout cmp base64

source "$(dirname "$0")/exec_lib.sh"

# --- redis ---------------------------------------------------------------------------------
rcli() { in_peer timeout 20 redis-cli -h "$ADDR" "$@"; }
expect() { # expect WHAT WANT GOT
	[[ $3 == "$2" ]] || fail "$APP_WHAT: $1: got '${3:0:200}', want '$2'"
}

redis_suite() {
	local mode=$1 out
	ADDR=$KERNEL_IP
	[[ $mode == sluice ]] && ADDR=$STACK_IP
	app_start "$mode" redis-$mode redis-server --port 6379 --bind "$ADDR" --save '' \
		--appendonly no --daemonize no --io-threads 1 --protected-mode no
	APP_WHAT="redis-server on $mode"
	local up=0 t0=$SECONDS
	while ((SECONDS - t0 < 10)); do
		app_alive || app_died redis-$mode
		grep -q 'Ready to accept connections' "$TMP/redis-$mode.out" &&
			[[ $(in_peer timeout 1 redis-cli -h "$ADDR" PING 2>/dev/null) == PONG ]] && { up=1; break; }
		sleep 0.1
	done
	[[ $up == 1 ]] || { tail -n 20 "$TMP/redis-$mode.out" "$TMP/redis-$mode.err" >&2; fail "$APP_WHAT: no PONG within 10 s"; }
	ok "$APP_WHAT: PING -> PONG"

	expect "SET small" OK "$(rcli SET small hello-sluice)"
	expect "GET small" hello-sluice "$(rcli GET small)"
	# 1 MiB of text (base64, no newline) through redis-cli -x (the value from stdin).
	[[ -s $TMP/big.val ]] || head -c 786432 /dev/urandom | base64 -w0 >"$TMP/big.val"
	[[ $(stat -c %s "$TMP/big.val") -eq 1048576 ]] || fail "cannot make the 1 MiB value"
	expect "SET 1 MiB" OK "$(rcli -x SET big <"$TMP/big.val")"
	expect "STRLEN big" 1048576 "$(rcli STRLEN big)"
	rcli GET big >"$TMP/big.got" || fail "$APP_WHAT: GET big failed"
	# redis-cli ends the value with a newline.
	[[ $(stat -c %s "$TMP/big.got") -eq 1048577 ]] ||
		fail "$APP_WHAT: GET big returned $(stat -c %s "$TMP/big.got") bytes, want 1048576 + newline"
	head -c 1048576 "$TMP/big.got" | cmp -s - "$TMP/big.val" || fail "$APP_WHAT: GET big: content differs"
	ok "$APP_WHAT: SET/GET small and 1 MiB values"
	expect "INCR 1" 1 "$(rcli INCR ctr)"
	expect "INCR 2" 2 "$(rcli INCR ctr)"
	expect "INCR 3" 3 "$(rcli INCR ctr)"
	ok "$APP_WHAT: INCR 1 2 3"

	# 10000 SETs in one pipelined stream (RESP), replies counted by redis-cli --pipe.
	if [[ ! -s $TMP/pipe.resp ]]; then
		$PY - "$TMP/pipe.resp" <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    for i in range(10000):
        k, v = b"key:%d" % i, b"%d" % i
        f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
EOF
	fi
	out=$(rcli --pipe <"$TMP/pipe.resp" 2>&1) || fail "$APP_WHAT: redis-cli --pipe failed: $out"
	[[ $out == *"errors: 0, replies: 10000"* ]] || fail "$APP_WHAT: redis-cli --pipe: $out"
	expect "DBSIZE" 10003 "$(rcli DBSIZE)"
	expect "GET key:9999" 9999 "$(rcli GET key:9999)"
	ok "$APP_WHAT: pipeline of 10000 SETs (errors: 0, replies: 10000)"
	out=$(in_peer timeout 60 redis-benchmark -h "$ADDR" -n 10000 -c 20 -t set,get -q 2>&1) ||
		fail "$APP_WHAT: redis-benchmark failed: $out"
	out=$(tr '\r' '\n' <<<"$out" | grep 'requests per second')
	grep -q '^SET: ' <<<"$out" && grep -q '^GET: ' <<<"$out" ||
		fail "$APP_WHAT: redis-benchmark printed no SET and GET rates: $out"
	ok "$APP_WHAT: redis-benchmark -n 10000 -c 20: $(echo $out)"

	app_stop "$mode" redis-$mode
	grep -q 'ready to exit' "$TMP/redis-$mode.out" ||
		fail "$APP_WHAT: redis did not log its shutdown ('ready to exit')"
}

# --- nginx ---------------------------------------------------------------------------------
WWW=$TMP/www
mkdir -p "$WWW"
printf '<html><body>hello from nginx over sluice</body></html>\n' >"$WWW/index.html"
head -c $((16 << 20)) /dev/urandom >"$WWW/big.bin"
head -c $((1 << 20)) /dev/urandom >"$WWW/mid.bin"
SUM_BIG=$(sha256sum <"$WWW/big.bin" | cut -d' ' -f1)

nginx_conf() { # nginx_conf ADDR SENDFILE
	local d=$TMP/nginx-$2
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
master_process off;
daemon off;
worker_processes 1;
error_log $d/err.log;
pid $d/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile $2;
	default_type application/octet-stream;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	server {
		listen $1:8080;
		root $WWW;
	}
}
EOF
}

nginx_suite() {
	local mode=$1 sf=$2 name=nginx-$1-sendfile-$2 addr=$KERNEL_IP d=$TMP/nginx-$2 url
	[[ $mode == sluice ]] && addr=$STACK_IP
	nginx_conf "$addr" "$sf"
	url=http://$addr:8080
	app_start "$mode" "$name" nginx -p "$d" -e "$d/err.log" -c "$d/nginx.conf"
	APP_WHAT="nginx (sendfile $sf) on $mode"
	local up=0 t0=$SECONDS
	while ((SECONDS - t0 < 10)); do
		app_alive || app_died "$name"
		in_peer curl -s --max-time 1 -o /dev/null "$url/" && { up=1; break; }
		sleep 0.1
	done
	[[ $up == 1 ]] || { tail -n 20 "$d/err.log" "$TMP/$name.err" >&2; fail "$APP_WHAT: no answer within 10 s"; }

	in_peer curl -sS --max-time 10 -o "$TMP/page" "$url/" || fail "$APP_WHAT: GET / failed"
	cmp -s "$TMP/page" "$WWW/index.html" || fail "$APP_WHAT: GET /: wrong page: $(head -c 200 "$TMP/page")"
	ok "$APP_WHAT: small page"
	in_peer curl -sS --max-time 30 -o "$TMP/big" "$url/big.bin" || fail "$APP_WHAT: GET /big.bin failed"
	local sum
	sum=$(sha256sum <"$TMP/big" | cut -d' ' -f1)
	[[ $sum == "$SUM_BIG" ]] ||
		fail "$APP_WHAT: /big.bin: $(stat -c %s "$TMP/big") bytes, sha256 $sum, want 16777216 bytes $SUM_BIG"
	ok "$APP_WHAT: 16 MiB file, sha256 matches"
	# Keep-alive: three requests, one connection.
	local conns
	conns=$(in_peer curl -sS --max-time 10 -o /dev/null -o /dev/null -o /dev/null \
		-w '%{http_code}:%{num_connects} ' "$url/" "$url/mid.bin" "$url/") ||
		fail "$APP_WHAT: keep-alive curl failed"
	[[ $conns == "200:1 200:0 200:0 " ]] ||
		fail "$APP_WHAT: keep-alive: got '$conns', want '200:1 200:0 200:0' (one connection)"
	ok "$APP_WHAT: keep-alive, 3 requests on one connection"
	# 50 concurrent curls of 1 MiB.
	local pids=() i bad=0
	for i in $(seq 50); do
		in_peer curl -sS --max-time 30 -o "$TMP/c$i" "$url/mid.bin" 2>"$TMP/c$i.err" &
		pids+=($!)
	done
	for i in $(seq 50); do
		wait "${pids[$((i - 1))]}" || { bad=$((bad + 1)); echo "curl $i: $(cat "$TMP/c$i.err")" >&2; continue; }
		cmp -s "$TMP/c$i" "$WWW/mid.bin" || { bad=$((bad + 1)); echo "curl $i: body differs ($(stat -c %s "$TMP/c$i") bytes)" >&2; }
	done
	rm -f "$TMP"/c[0-9]*
	[[ $bad -eq 0 ]] || fail "$APP_WHAT: $bad of 50 concurrent curls failed"
	ok "$APP_WHAT: 50 concurrent curls of 1 MiB, every body intact"

	app_stop "$mode" "$name"
	if grep -E '\[(alert|crit|emerg)\]' "$d/err.log" >&2; then
		fail "$APP_WHAT: alerts in nginx's error log"
	fi
	rm -f "$d/err.log"
}

# redis-server with its default bind ("* -::*": 0.0.0.0 and [::] with IPV6_V6ONLY, two
# listeners on one port), the issue's own command line: sluice's stack has one listener per
# port, shared by the socket layer (it failed listen with EADDRINUSE before).
redis_default_bind() {
	local mode=$1 t0=$SECONDS up=0
	ADDR=$KERNEL_IP
	[[ $mode == sluice ]] && ADDR=$STACK_IP
	app_start "$mode" redis-any-$mode redis-server --port 6380 --save '' --appendonly no \
		--daemonize no --protected-mode no
	while ((SECONDS - t0 < 10)); do
		app_alive || app_died redis-any-$mode
		[[ $(in_peer timeout 1 redis-cli -h "$ADDR" -p 6380 PING 2>/dev/null) == PONG ]] && { up=1; break; }
		sleep 0.1
	done
	[[ $up -eq 1 ]] || { tail -n 20 "$TMP/redis-any-$mode.out" >&2; fail "$APP_WHAT: no PONG within 10 s"; }
	ok "$APP_WHAT: default bind (* -::*, two listeners on 6380) answers PING"
	app_stop "$mode" redis-any-$mode
}

# The kernel first (no XDP program on the link yet), then the same under sluice exec.
redis_suite kernel
redis_suite sluice
redis_default_bind kernel
redis_default_bind sluice
nginx_suite kernel off
nginx_suite kernel on
nginx_suite sluice off
nginx_suite sluice on
echo "PASS: redis-server and nginx under sluice exec, as on the kernel"
