# Shared by bench/apps.sh and bench/apps_cost.sh: the page and the nginx configuration both
# serve, so the two measure the same server.

# apps_page OUT: the page bench/khttp.c and `sluice run --http` serve at / (the tcp part's
# page), extracted from khttp.c's source into OUT. Needs $ROOT; python3 as ${PY:-/usr/bin/python3}.
apps_page() {
	"${PY:-/usr/bin/python3}" - "$ROOT/bench/khttp.c" "$1" <<'PY'
import json, re, sys
src = open(sys.argv[1]).read()
page = "".join(json.loads('"' + s + '"') for s in re.findall(r'"((?:[^"\\]|\\.)*)"',
               re.search(r"index_page\[\] =(.*?);", src, re.S).group(1)))
open(sys.argv[2], "w").write(page)
PY
}

# apps_nginx_conf DIR ADDR PORT CONNS: DIR/nginx.conf for one nginx process in the foreground
# (master_process off, one worker, CONNS worker_connections, no access log, sendfile off,
# keep-alive without limit) serving DIR/www on ADDR:PORT, with every path under DIR.
apps_nginx_conf() {
	local d=$1
	cat >"$d/nginx.conf" <<CONF
master_process off;
daemon off;
worker_processes 1;
error_log $d/err.log;
pid $d/nginx.pid;
events { worker_connections $4; }
http {
	access_log off;
	sendfile off;
	keepalive_requests 1000000;
	default_type text/html;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	server {
		listen $2:$3;
		root $d/www;
	}
}
CONF
}
