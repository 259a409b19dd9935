#!/bin/sh
# SPDX-License-Identifier: MIT
#
# t_serve.sh - `udax serve` driven by curl: a source tree uploaded file
# by file (PUT through udax_recvfile) and downloaded again (GET through
# udax_sendfile), compared with diff; Range requests compared with slices
# of the file; HEAD, ETag and If-None-Match, DELETE, the ?list JSON and
# the HTML listing; keep-alive and pipelining; the token and read-only
# modes; and hostile requests (path escapes, encoded slashes and NULs,
# overlong names, a header flood, a head that never ends, a body shorter
# than its Content-Length, a body larger than the image), after which
# no partial file is visible. SIGTERM closes the image cleanly: fsck
# finds it clean.
#
# Run from the repository root:  sh tests/t_serve.sh
# The tool is $UDAX (default build/udax). Prints one line per check ("ok
# ..." or "FAIL ..."); exits 0 if all passed, 1 if any failed, and 77
# after "SKIP serve: <reason>" when curl or python3 is missing.

set -u

repo=$(pwd)

for t in curl python3 diff; do
	command -v $t >/dev/null || {
		echo "SKIP serve: $t is not installed (scripts/install-deps.sh)"
		exit 77
	}
done
# $UDAX, $work (removed at exit), result and cli_summary
. "$repo/tests/cli-lib.sh"

pid=""
stop_server() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		pid=""
	fi
}
check() {
	: >"$work/err"
	result "$@"
}
is() { # is GOT WANT DESC
	if [ "$1" = "$2" ]; then
		result 0 "$3"
	else
		echo "     got '$1', wanted '$2'" >"$work/err"
		result 1 "$3"
	fi
}

# start IMAGE [OPTION...]: a server on a free loopback port ($port), its
# access log in $work/access.log
start() {
	simg=$1
	shift
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + ($$ * 7 + try * 131) % 40000))
		: >"$work/serve.err"
		"$UDAX" serve --listen "127.0.0.1:$port" "$@" "$simg" \
			>"$work/access.log" 2>"$work/serve.err" &
		pid=$!
		for i in $(seq 600); do
			grep -q serving "$work/serve.err" && return 0
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		wait "$pid" 2>/dev/null
		pid=""
	done
	echo "t_serve: the server did not start:" >&2
	cat "$work/serve.err" >&2
	exit 1
}

url() { echo "http://127.0.0.1:$port$1"; }
code() { # code CURL-ARGS...: the status curl got
	curl -s -o /dev/null -w '%{http_code}' "$@"
}
code_to() { # code_to FILE CURL-ARGS...: the same, the body into FILE
	out=$1
	shift
	curl -s -o "$out" -w '%{http_code}' "$@"
}

# raw REQUEST-BYTES-AS-PYTHON-EXPR [WAIT]: send bytes as they are on one
# connection and end it (SHUT_WR), or a list of parts WAIT seconds
# apart, keeping it open; print the statuses of the responses (or
# "closed")
raw() {
	python3 - "$port" "$1" "${2:-0}" <<'EOF'
import socket, sys, time
port, data, wait = int(sys.argv[1]), eval(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(30)
try:
    if isinstance(data, list):
        for part in data:
            s.sendall(part)
            time.sleep(wait)
    else:
        # all sent: the write side ends (a client that goes away, or
        # one that waits for the answer alone)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
        if b"Connection: close" in got and got.endswith(b"\n"):
            pass
except OSError:
    # a reset (the server closed with input unread), a pipe, a timeout:
    # what was received so far counts
    pass
import re
codes = [c.decode() for c in re.findall(rb"HTTP/1\.1 (\d\d\d) ", got)]
print(" ".join(codes) if codes else "closed")
EOF
}

img="$work/serve.img"
trap 'stop_server; rm -rf "$work"' EXIT
"$UDAX" mkfs -s 256M "$img" >/dev/null || exit 1
start "$img" --max-body 64M --timeout 2 --threads 3

# ---- a source tree up and down ----
tree="$repo/src"
fail=0
(cd "$tree" && find . -type f | sort) >"$work/files"
while read -r f; do
	c=$(code -T "$tree/$f" -H 'X-Create-Dirs: 1' "$(url "/tree/${f#./}")")
	[ "$c" = 201 ] || { echo "  PUT $f: $c"; fail=1; }
done <"$work/files"
check $fail "PUT $(wc -l <"$work/files") files of src/ (201 each)"
mkdir "$work/down"
fail=0
while read -r f; do
	mkdir -p "$work/down/$(dirname "$f")"
	c=$(code_to "$work/down/$f" "$(url "/tree/${f#./}")")
	[ "$c" = 200 ] || { echo "  GET $f: $c"; fail=1; }
done <"$work/files"
check $fail "GET them back (200 each)"
diff -r "$tree" "$work/down" >/dev/null
check $? "the downloaded tree is the source tree (diff -r)"

# ---- a large file, ranges ----
head -c 5000000 /dev/urandom >"$work/big"
is "$(code -T "$work/big" "$(url /big)")" 201 "PUT 5 MB"
is "$(code -T "$work/big" "$(url /big)")" 204 "PUT over it: 204"
curl -s "$(url /big)" | cmp -s - "$work/big"
check $? "GET 5 MB: the same bytes"
fail=0
for r in 0-0 100-4195 4096-8191 4999990-4999999 4999000- -777 123456-9999999; do
	curl -s -r "$r" -D "$work/h" -o "$work/part" "$(url /big)"
	python3 - "$work/big" "$work/part" "$r" <<'EOF' || fail=1
import sys
data = open(sys.argv[1], "rb").read()
part = open(sys.argv[2], "rb").read()
a, b = sys.argv[3].split("-")
if a == "":
    want = data[-int(b):]
else:
    want = data[int(a):(int(b) + 1 if b else len(data))]
if part != want:
    print("  range", sys.argv[3], "differs:", len(part), "bytes, want", len(want))
    sys.exit(1)
EOF
	grep -q '^HTTP/1.1 206' "$work/h" || { echo "  range $r: not 206"; fail=1; }
done
check $fail "7 Range requests: 206 and the slices of the file"
pids=""
for i in 1 2 3 4 5 6; do
	curl -s -o "$work/par$i" "$(url /big)" &
	pids="$pids $!"
done
wait $pids
fail=0
for i in 1 2 3 4 5 6; do
	cmp -s "$work/par$i" "$work/big" || fail=1
done
check $fail "six GETs at once over three loops: the same bytes"
is "$(code -r 5000000-5000001 "$(url /big)")" 416 "a range past the end: 416"
is "$(code -r 0-1,5-6 "$(url /big)")" 200 "two ranges: the whole file, 200"

# ---- Expect: 100-continue (curl asks it of uploads over 1 MiB, older
# versions of any over 1 KiB, and waits a second for the answer) ----
python3 - "$port" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(30)
s.sendall(b"PUT /expect HTTP/1.1\r\nContent-Length: 5\r\n"
          b"Expect: 100-continue\r\n\r\n")
first = s.recv(4096)
if not first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"):
    print("  before the body:", first[:40])
    sys.exit(1)
s.sendall(b"hello")
got = s.recv(4096)
sys.exit(0 if got.startswith(b"HTTP/1.1 201 ") else 1)
EOF
check $? "Expect: 100-continue: 100 before the body is sent, then 201"
is "$(curl -s "$(url /expect)")" hello "the body sent after 100 Continue"
is "$(raw '[b"PUT /huge HTTP/1.1\r\nContent-Length: 99999999999\r\nExpect: 100-continue\r\n\r\n"]')" \
	413 "Expect with a body refused: 413, the connection closed"
is "$(raw 'b"PUT /e HTTP/1.1\r\nContent-Length: 1\r\nExpect: 200-ok\r\n\r\nx"')" \
	417 "an unknown expectation: 417"
head -c 2000000 /dev/urandom >"$work/up"
is "$(code -T "$work/up" "$(url /up)")" 201 "curl -T of 2 MB (with Expect): 201"
curl -s "$(url /up)" | cmp -s - "$work/up"
check $? "and it reads back"

# ---- HEAD, ETag, listing, DELETE ----
len=$(curl -sI "$(url /big)" | tr -d '\r' | sed -n 's/^Content-Length: //p')
is "$len" 5000000 "HEAD: Content-Length"
etag=$(curl -sI "$(url /big)" | tr -d '\r' | sed -n 's/^ETag: //p')
is "$(code -H "If-None-Match: $etag" "$(url /big)")" 304 "If-None-Match: 304"
curl -s -D - -o /dev/null -H "If-None-Match: $etag" "$(url /big)" |
	grep -qi '^Content-Length'
check $((!$?)) "a 304 has no Content-Length (RFC 9110, 8.6)"
curl -s "$(url '/tree?list')" | python3 -c '
import json, sys
names = {e["name"]: e["type"] for e in json.load(sys.stdin)}
sys.exit(0 if names.get("api") == "directory" and names.get("fs.c") == "regular" else 1)'
check $? "?list: JSON with names and types"
curl -s "$(url /tree/api/)" | grep -q 'href="recvfile.c"'
check $? "a directory: an HTML listing with links"
lm=$(curl -sI "$(url /big)" | tr -d '\r' | sed -n 's/^Last-Modified: //p')
is "$(code -H "If-Modified-Since: $lm" "$(url /big)")" 304 \
	"If-Modified-Since its Last-Modified: 304"
is "$(code -H "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT" "$(url /big)")" \
	200 "If-Modified-Since an older date: 200"
is "$(code -H "If-Modified-Since: yesterday" "$(url /big)")" 200 \
	"If-Modified-Since not a date: ignored, 200"
is "$(code -H "If-None-Match: \"other\"" -H "If-Modified-Since: $lm" "$(url /big)")" \
	200 "If-None-Match decides over If-Modified-Since: 200"
is "$(code -T "$work/files" "$(url '/names/a%FFb%C3%A9')" -H 'X-Create-Dirs: 1')" 201 \
	"a name that is not UTF-8: 201"
curl -s "$(url '/names?list')" | python3 -c '
import json, sys
d = json.loads(sys.stdin.buffer.read().decode("utf-8"))
sys.exit(0 if d[0]["name"] == "a\ufffdb\u00e9" and d[0]["href"] == "a%FFb%C3%A9" else 1)'
check $? "?list of it: UTF-8 JSON, U+FFFD for the byte, the exact name in href"
is "$(code -X DELETE "$(url /big)")" 204 "DELETE: 204"
is "$(code "$(url /big)")" 404 "then GET: 404"
is "$(code -X DELETE "$(url /tree)")" 409 "DELETE of a directory not empty: 409"

# ---- keep-alive, pipelining ----
curl -sv "$(url /tree/fs.c)" "$(url /tree/fs.h)" -o /dev/null -o /dev/null \
	2>&1 | grep -q -i 're-using existing connection'
check $? "keep-alive: curl reuses the connection"
is "$(raw 'b"GET /tree/fs.c HTTP/1.1\r\nHost: x\r\n\r\nHEAD /tree/fs.h HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"')" \
	"200 200 404" "pipelining: three requests in one packet, three answers"

# ---- hostile requests ----
is "$(code --path-as-is "$(url /tree/../../etc/passwd)")" 400 "'..' in the path: 400"
is "$(code "$(url /tree/%2e%2e/x)")" 400 "'..' encoded: 400"
is "$(code "$(url /tree%2Ffs.c)")" 400 "an encoded slash: 400"
is "$(code "$(url /tree/fs.c%00.txt)")" 400 "an encoded NUL: 400"
is "$(code "$(url /tree/%zz)")" 400 "a bad escape: 400"
long=$(python3 -c 'print("n" * 300)')
is "$(code "$(url "/$long")")" 400 "a 300-byte name: 400"
is "$(code "$(url /tree/./api//recvfile.c)")" 200 "'.' and '//' are normalized"
is "$(raw 'b"GET / HTTP/1.1\r\n" + b"X-Flood: " + b"a" * 9000 + b"\r\n\r\n"')" \
	431 "a header flood: 431"
python3 - "$port" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(30)
s.sendall(b"GET / HTTP/1.1\r\nX-Flood: " + b"a" * 20000 + b"\r\n\r\n")
time.sleep(0.5)  # answered by now: a server that closed has reset it
got = b""
try:
    s.shutdown(socket.SHUT_WR)
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
except OSError as e:
    print("  after the 431:", e)
    sys.exit(1)
sys.exit(0 if b" 431 " in got else 1)
EOF
check $? "an error answered before the request was read: the connection ends without a reset"
is "$(raw '[b"GET / HTTP/1.1\r\n", b"X-Slow: 1\r\n"]' 1)" 408 \
	"a head that never ends (--timeout 2): 408"
is "$(raw 'b"BREW /pot HTTP/1.1\r\n\r\n"')" 501 "an unknown method: 501"
is "$(raw 'b"GET /\r\n\r\n"')" 400 "no HTTP version: 400"
raw 'b"PUT /cut HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000' >/dev/null
is "$(code "$(url /cut)")" 404 "a body shorter than its length: no file"
is "$(raw 'b"PUT /huge HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"')" \
	413 "a body past --max-body: 413"
head -c 3000000 /dev/urandom >"$work/piped"
c=$(curl -s -o /dev/null -w '%{http_code}' -T - "$(url /piped)" <"$work/piped")
is "$c" 201 "a chunked body (curl -T -): 201"
curl -s "$(url /piped)" | cmp -s - "$work/piped"
check $? "the chunked body reads back"
is "$(raw 'b"PUT /ch HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nGET /ch HTTP/1.1\r\nConnection: close\r\n\r\n"')" \
	"201 200" "chunks with an extension and a trailer, then a pipelined GET"
is "$(curl -s "$(url /ch)")" "hello world" "the chunks joined"
is "$(raw 'b"PUT /bad HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX"')" \
	400 "a chunk without its CRLF: 400"
is "$(code "$(url /bad)")" 404 "and no file"
curl -s "$(url '/?list')" | grep -q 'udax-put'
check $((!$?)) "no temporary file is left visible"

# ---- SIGTERM, fsck ----
lines=$(wc -l <"$work/access.log")
[ "$lines" -gt $((2 * $(wc -l <"$work/files"))) ]
check $? "an access-log line per request ($lines)"
kill -TERM "$pid"
wait "$pid"
is $? 0 "SIGTERM: exit 0"
pid=""
"$UDAX" fsck -n "$img" >"$work/fsck" 2>&1
check $? "fsck -n: clean"

# ---- an image too small, a token, read-only ----
"$UDAX" mkfs -s 8M "$img.small" >/dev/null || exit 1
start "$img.small"
is "$(raw 'b"PUT /f HTTP/1.1\r\nContent-Length: 20000000\r\n\r\n" + b"y" * 1000')" \
	507 "a body larger than the free space: 507 before it is read"
stop_server
# ---- 256 connections a loop: the next one waits in the accept queue
# until one of them ends ----
start "$img" --threads 1
python3 - "$port" <<'EOF'
import select, socket, sys
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(256)]
late = socket.create_connection(("127.0.0.1", port))
late.sendall(b"GET /tree/fs.h HTTP/1.1\r\nConnection: close\r\n\r\n")
if select.select([late], [], [], 1.0)[0]:
    print("  the 257th connection was served while 256 were open")
    sys.exit(1)
idle.pop().close()
late.settimeout(30)
got = late.recv(4096)
sys.exit(0 if got.startswith(b"HTTP/1.1 200 ") else 1)
EOF
check $? "--threads 1 with 256 connections open: the next waits, served once one closes"
is "$(code "$(url /tree/fs.h)")" 200 "and the server goes on"
stop_server
echo "s3cret" >"$work/token"
start "$img" --token "$work/token" --read-only
is "$(code "$(url /tree/fs.c)")" 401 "--token: no Authorization: 401"
is "$(code -H 'Authorization: Bearer wrong' "$(url /tree/fs.c)")" 401 \
	"--token: a wrong token: 401"
is "$(code -H 'Authorization: Bearer s3cret' "$(url /tree/fs.c)")" 200 \
	"--token: the token: 200"
is "$(code -H 'Authorization: Bearer s3cret' -T "$work/token" "$(url /t)")" \
	405 "--read-only: PUT 405"
stop_server

cli_summary
