// SPDX-License-Identifier: MIT
/*
 * cmd_serve.c - `udax serve IMAGE`: a small HTTP/1.1 file server over an
 * image, for real clients (curl, browsers, wget).
 *
 * An epoll loop over non-blocking sockets. Each connection is a small
 * state machine:
 *
 *   HEAD     reading the request head (at most SERVE_HEAD_MAX bytes, in
 *            at most SERVE_HEAD_SECONDS: a slow or endless head gets 408
 *            or 431 and the connection closes);
 *   BODY     a PUT's body going into a hidden temporary file through
 *            udax_recvfile (space for the whole Content-Length, or for
 *            each chunk of a chunked body, reserved by its first call:
 *            507 before a byte of it is read); renamed over the target
 *            when complete, unlinked when the peer goes away or a chunk
 *            is malformed;
 *   DISCARD  reading a body that will not be stored (an error answered
 *            before it, so that the connection can stay open);
 *   SEND     the response head, then a GET's body through udax_sendfile
 *            (from the device's memory, no copy where the kernel can
 *            splice), resumed at EPOLLOUT.
 *
 * Requests on a connection are answered one at a time in order; bytes of
 * the next request read with the head of this one stay in its buffer
 * (pipelining). Paths are percent-decoded, then refused (400) if they hold
 * a NUL, an encoded '/', a ".." component, a component longer than 255
 * bytes or more than SERVE_PATH_MAX bytes; "." and empty components go.
 * Every request gets one access-log line on stdout in the common log
 * format. SIGTERM or SIGINT stops accepting, lets responses in flight
 * finish (at most SERVE_DRAIN_SECONDS) and closes the image.
 *
 * One such loop runs per thread (--threads, one per CPU by default),
 * each with its own listening socket on the port (SO_REUSEPORT), so
 * connections spread over the cores and a loop blocked in a long commit
 * or a layout break holds up only its own connections. The main thread
 * only waits for the signal and tells each loop to stop (its eventfd).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"

#define SERVE_HEAD_MAX 8192	  /* bytes of a request head */
#define SERVE_HEAD_SECONDS 10	  /* to send a whole head (--timeout) */
#define SERVE_IDLE_SECONDS 60	  /* keep-alive, or a body that stalls */
#define SERVE_DRAIN_SECONDS 10	  /* after SIGTERM */
#define SERVE_PATH_MAX 4096	  /* bytes of a decoded path */
#define SERVE_MAX_CONNS 256	  /* connections at once, a loop; more wait */
#define SERVE_MAX_LOOPS 64	  /* --threads */
#define SERVE_RECV_STEP (8 << 20) /* bytes a later udax_recvfile asks for */

#define SERVE_LINGER_SECONDS 2 /* a closing connection's input drained */
#define SERVE_LINGER_BYTES (1 << 20)

enum conn_state { C_HEAD, C_BODY, C_DISCARD, C_SEND, C_LINGER };

/*
 * One client connection. Owned by the loop's thread alone (no locks).
 * Lifecycle: accepted (C_HEAD) -> a request parsed -> C_BODY/C_DISCARD ->
 * C_SEND -> back to C_HEAD (keep-alive), or C_LINGER -> closed: the
 * answer sent, the write side is shut and what the client still sends is
 * read and dropped until it closes too (at most SERVE_LINGER_SECONDS and
 * SERVE_LINGER_BYTES): closing with unread input would make the kernel
 * reset the connection, and the reset can destroy the answer before the
 * client reads it (an error answered before its request was all read:
 * 431, 413, 400, 507).
 */
struct conn {
	int fd;
	char peer[64]; /* address, for the log */
	enum conn_state state;
	char in[SERVE_HEAD_MAX]; /* head bytes, and what follows them */
	size_t in_len;
	time_t deadline; /* of the current state (monotonic seconds) */
	int keep;	 /* keep-alive after this response */
	/* the request, for the log */
	char line[256];
	int status;
	uint64_t sent_bytes;
	/* the response: head (out), then file bytes (body, from body_off) */
	char out[1024];
	size_t out_len, out_done;
	struct udax_file *body;
	off_t body_off;
	uint64_t body_left;
	char *page; /* or a generated page (listing, error), malloc'd */
	size_t page_len, page_done;
	/* a PUT: the temporary file, its name, the target, bytes to come */
	struct udax_file *put;
	char *put_tmp, *put_path;
	uint64_t put_left;
	off_t put_off;
	int put_existed;
	int put_asked; /* a udax_recvfile asked for the whole rest */
	/* chunked transfer coding: put_left is the rest of the chunk */
	int chunked;
	int expect;	      /* Expect: 100-continue (the client waits) */
	int chunk_crlf;	      /* the CRLF after a chunk's data comes next */
	int chunk_trailer;    /* the last chunk was read: trailer lines */
	uint64_t linger_left; /* C_LINGER: bytes still read and dropped */
	struct conn *next;    /* every live connection */
};

/* Temporary names of PUTs, counted over every loop. */
static _Atomic uint64_t serve_tmp_seq;

/*
 * One event loop (one per core, --threads): its own listening socket on
 * the shared port (SO_REUSEPORT: the kernel spreads new connections over
 * them), epoll set and connections. Owned by its thread alone; the
 * configuration is copied in before the thread starts, and the only
 * thing another thread does to a loop is write its eventfd (stop).
 */
struct server {
	struct udax_fs *fs;
	int read_only;
	const char *token; /* the bearer token, or NULL */
	uint64_t max_body;
	int head_seconds;   /* --timeout: to send a whole head */
	int epfd, lfd, sfd; /* sfd: an eventfd, written to stop the loop */
	int nconns, stopping;
	int paused; /* lfd out of the epoll set: SERVE_MAX_CONNS reached */
	time_t stop_at;
	struct conn *conns;
	pthread_t thread;
	int ret; /* what serve_loop returned */
};

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- paths ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode and normalize the path of a request target (without its query)
 * into out (SERVE_PATH_MAX + 1 bytes): "/a/b", "/" for the root; empty
 * and "." components go. Returns 0, or -EINVAL for a path udax serve
 * refuses (400): not starting with '/', a bad or encoded '/' or NUL, a
 * ".." component, a component over 255 bytes, too long a path. */
static int path_normalize(const char *t, size_t len, char *out)
{
	char comp[255];
	size_t cl = 0, o = 0;

	if (!len || t[0] != '/')
		return -EINVAL;
	for (size_t i = 0; i <= len; i++) {
		int c;

		if (i == len || t[i] == '/') {
			/* the end of a component */
			if (!cl || (cl == 1 && comp[0] == '.')) {
				cl = 0;
				continue;
			}
			if (cl == 2 && comp[0] == '.' && comp[1] == '.')
				return -EINVAL;
			if (o + 1 + cl > SERVE_PATH_MAX)
				return -EINVAL;
			out[o++] = '/';
			memcpy(out + o, comp, cl);
			o += cl;
			cl = 0;
			continue;
		}
		c = (unsigned char)t[i];
		if (c == '%') {
			int hi = i + 2 < len ? hexval(t[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(t[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = hi * 16 + lo;
			i += 2;
			if (c == '/')
				return -EINVAL; /* an encoded slash */
		}
		if (!c || cl == sizeof(comp))
			return -EINVAL;
		comp[cl++] = (char)c;
	}
	if (!o)
		out[o++] = '/';
	out[o] = 0;
	return 0;
}

/* ---- responses ---- */

/* The reason phrase of each status udax serve answers with. */
static const struct {
	int status;
	const char *text;
} status_texts[] = {
	{200, "OK"},
	{201, "Created"},
	{204, "No Content"},
	{206, "Partial Content"},
	{304, "Not Modified"},
	{400, "Bad Request"},
	{401, "Unauthorized"},
	{403, "Forbidden"},
	{404, "Not Found"},
	{405, "Method Not Allowed"},
	{408, "Request Timeout"},
	{409, "Conflict"},
	{411, "Length Required"},
	{413, "Content Too Large"},
	{416, "Range Not Satisfiable"},
	{417, "Expectation Failed"},
	{431, "Request Header Fields Too Large"},
	{500, "Internal Server Error"},
	{501, "Not Implemented"},
	{507, "Insufficient Storage"},
};

static const char *status_text(int status)
{
	for (size_t i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]);
	     i++)
		if (status_texts[i].status == status)
			return status_texts[i].text;
	return "Internal Server Error";
}

/* The status for a udax error. */
static int errno_status(int err)
{
	switch (-err) {
	case ENOENT:
	case ENOTDIR:
		return 404;
	case EACCES:
	case EPERM:
		return 403;
	case EEXIST:
	case ENOTEMPTY:
	case EISDIR:
		return 409;
	case ENOSPC:
		return 507;
	case EFBIG:
		return 413;
	case ENAMETOOLONG:
	case EINVAL:
		return 400;
	case EROFS:
		return 405;
	default:
		return 500;
	}
}

/* Start a response: the status line and common headers into c->out;
 * extra: more header lines (each ending in \r\n), or "". */
static void respond_head(struct conn *c, int status, uint64_t length,
			 const char *extra)
{
	char date[64], clen[48] = "";
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	/* a 304 has no body, and a Content-Length there would have to be
	 * the 200's (RFC 9110, 8.6): none */
	if (status != 304)
		snprintf(clen, sizeof(clen), "Content-Length: %" PRIu64 "\r\n",
			 length);
	c->status = status;
	c->out_len = (size_t)snprintf(
		c->out, sizeof(c->out),
		"HTTP/1.1 %d %s\r\nServer: udax\r\nDate: %s\r\n%s%s%s\r\n",
		status, status_text(status), date, clen,
		c->keep ? "" : "Connection: close\r\n", extra);
	if (c->out_len >= sizeof(c->out))
		c->out_len = sizeof(c->out) - 1;
	c->out_done = 0;
	c->state = C_SEND;
}

/* A response whose body is a generated page (taken over: freed later). */
static void respond_page(struct conn *c, int status, char *page, size_t len,
			 const char *type, int head_only)
{
	char extra[128];

	snprintf(extra, sizeof(extra), "Content-Type: %s\r\n", type);
	respond_head(c, status, len, extra);
	if (head_only) {
		free(page);
		page = NULL;
		len = 0;
	}
	c->page = page;
	c->page_len = len;
	c->page_done = 0;
}

/* An error response with a one-line text body. */
static void respond_error(struct conn *c, int status, int head_only)
{
	char *msg = NULL;
	int n = asprintf(&msg, "%d %s\n", status, status_text(status));

	respond_page(c, status, n < 0 ? NULL : msg, n < 0 ? 0 : (size_t)n,
		     "text/plain; charset=utf-8", head_only);
}

/* ---- listings ---- */

/* A growing string. */
struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->err = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_add(b, tmp,
		       (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* The length of the well-formed UTF-8 sequence at s (1 to 4), or 0. */
static int utf8_len(const unsigned char *s)
{
	int n = s[0] < 0x80 ? 1 :
		s[0] < 0xc2 ? 0 :
		s[0] < 0xe0 ? 2 :
		s[0] < 0xf0 ? 3 :
		s[0] < 0xf5 ? 4 :
			      0;

	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* no overlong forms, surrogates or code points past U+10FFFF */
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) ||
	    (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) ||
	    (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/* A name as a JSON string (escaped, control bytes as \u00XX) or as HTML
 * text (json 0). A byte that is not part of well-formed UTF-8 shows as
 * U+FFFD (JSON and the page are UTF-8): the href gives the exact name. */
static void sb_name(struct sbuf *b, const char *s, int json)
{
	while (*s) {
		unsigned char ch = (unsigned char)*s;
		int n = utf8_len((const unsigned char *)s);
		if (!n) {
			sb_printf(b, json ? "\\ufffd" : "&#xfffd;");
			n = 1;
		} else if (json && (ch == '"' || ch == '\\'))
			sb_printf(b, "\\%c", ch);
		else if (json && ch < 0x20)
			sb_printf(b, "\\u%04x", ch);
		else if (!json && strchr("<>&\"'", ch))
			sb_printf(b, "&#%d;", ch);
		else
			sb_add(b, s, (size_t)n);
		s += n;
	}
}

/* A name percent-encoded for a link. */
static void sb_href(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
			sb_add(b, s, 1);
		else
			sb_printf(b, "%%%02X", ch);
	}
}

/* The listing of directory path: JSON (json) or an HTML page. Returns 0
 * and the page, or a negative errno. */
static int list_dir(struct udax_fs *fs, const char *path, int json,
		    struct sbuf *b)
{
	struct udax_dir *d;
	struct udax_dirent e;
	struct stat st;
	int ret, first = 1;

	ret = udax_dir_open(fs, path, &d);
	if (ret)
		return ret;
	if (json) {
		sb_add(b, "[", 1);
	} else {
		sb_add(b,
		       "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		       "<title>",
		       strlen("<!DOCTYPE html>\n<html><head><meta "
			      "charset=\"utf-8\"><title>"));
		sb_name(b, path, 0);
		sb_printf(b, "</title></head><body><h1>");
		sb_name(b, path, 0);
		sb_printf(b, "</h1><ul>\n");
	}
	while ((ret = udax_dir_read_stat(d, &e, &st)) == 1) {
		if (!strcmp(e.name, ".") || !strcmp(e.name, ".."))
			continue;
		if (json) {
			sb_printf(b, "%s\n {\"name\": \"", first ? "" : ",");
			sb_name(b, e.name, 1);
			sb_printf(b, "\", \"href\": \"");
			sb_href(b, e.name);
			sb_printf(b,
				  "\", \"type\": \"%s\", \"size\": %lld, "
				  "\"mtime\": %lld}",
				  tool_type_key(st.st_mode),
				  (long long)st.st_size,
				  (long long)st.st_mtim.tv_sec);
		} else {
			sb_printf(b, "<li><a href=\"");
			sb_href(b, e.name);
			sb_printf(b, "%s\">", S_ISDIR(st.st_mode) ? "/" : "");
			sb_name(b, e.name, 0);
			sb_printf(b, "%s</a> %lld</li>\n",
				  S_ISDIR(st.st_mode) ? "/" : "",
				  (long long)st.st_size);
		}
		first = 0;
	}
	udax_dir_close(&d);
	if (ret < 0)
		return ret;
	if (json)
		sb_printf(b, "\n]\n");
	else
		sb_printf(b, "</ul></body></html>\n");
	return b->err ? -ENOMEM : 0;
}

/* ---- requests ---- */

/* The value of header name in the head [h, h+len) (after the request
 * line), or NULL; *vlen its length. */
static const char *header(const char *h, size_t len, const char *name,
			  size_t *vlen)
{
	size_t nl = strlen(name);
	const char *end = h + len;

	while (h < end) {
		const char *eol = memchr(h, '\n', (size_t)(end - h));
		const char *le = eol ? eol : end;
		if ((size_t)(le - h) > nl && h[nl] == ':' &&
		    !strncasecmp(h, name, nl)) {
			const char *v = h + nl + 1;
			while (v < le && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = le;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' ||
					  ve[-1] == '\t'))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		h = le + 1;
	}
	return NULL;
}

static int header_is(const char *v, size_t vlen, const char *want)
{
	return v && vlen == strlen(want) && !strncasecmp(v, want, vlen);
}

/* A single "bytes=a-b" range of a file of size bytes: 1 and [*lo, *hi]
 * if satisfiable, 0 if the header is to be ignored (none, several
 * ranges, or not bytes), -1 if unsatisfiable (416). */
static int parse_range(const char *v, size_t vlen, uint64_t size, uint64_t *lo,
		       uint64_t *hi)
{
	char buf[64], *end;
	unsigned long long a, b;

	if (!v || vlen >= sizeof(buf) || vlen < 7 || strncmp(v, "bytes=", 6))
		return 0;
	memcpy(buf, v + 6, vlen - 6);
	buf[vlen - 6] = 0;
	if (strchr(buf, ','))
		return 0; /* several: the whole file, as RFC 9110 allows */
	if (buf[0] == '-') {
		b = strtoull(buf + 1, &end, 10);
		if (*end || end == buf + 1)
			return 0;
		if (!b || !size)
			return -1;
		*lo = b >= size ? 0 : size - b;
		*hi = size - 1;
		return 1;
	}
	a = strtoull(buf, &end, 10);
	if (end == buf || *end != '-')
		return 0;
	if (end[1]) {
		char *e2;
		b = strtoull(end + 1, &e2, 10);
		if (*e2 || b < a)
			return 0;
	} else {
		b = UINT64_MAX;
	}
	if (a >= size)
		return -1;
	*lo = a;
	*hi = b >= size ? size - 1 : b;
	return 1;
}

/* An If-Modified-Since header (an IMF-fixdate) at or after mtime; a
 * date in another form or in the future is ignored (RFC 9110, 13.1.3). */
static int not_modified_since(const char *h, size_t hlen, time_t mtime)
{
	const char *v;
	char date[64];
	size_t vlen;
	struct tm tm = {0};
	char *end;

	v = header(h, hlen, "If-Modified-Since", &vlen);
	if (!v || vlen >= sizeof(date))
		return 0;
	memcpy(date, v, vlen);
	date[vlen] = 0;
	end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return 0;
	time_t since = timegm(&tm);
	return since >= mtime && since <= time(NULL);
}

/* GET and HEAD of path. */
static void do_get(struct server *s, struct conn *c, const char *path,
		   const char *query, const char *h, size_t hlen, int head_only)
{
	struct udax_file *f;
	struct stat st;
	char extra[512], etag[64], lm[64];
	const char *v;
	size_t vlen;
	uint64_t lo = 0, hi = 0;
	struct tm tm;
	int ret, r;

	ret = udax_stat(s->fs, path, &st);
	if (ret) {
		respond_error(c, errno_status(ret), head_only);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		struct sbuf b = {0};
		int json = query && !strcmp(query, "list");
		ret = list_dir(s->fs, path, json, &b);
		if (ret) {
			free(b.p);
			respond_error(c, errno_status(ret), head_only);
			return;
		}
		respond_page(c, 200, b.p, b.len,
			     json ? "application/json" :
				    "text/html; charset=utf-8",
			     head_only);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		respond_error(c, 403, head_only);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%llx-%llx-%llx\"",
		 (unsigned long long)st.st_ino, (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
			 (unsigned long long)st.st_mtim.tv_nsec);
	gmtime_r(&st.st_mtim.tv_sec, &tm);
	strftime(lm, sizeof(lm), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	/* If-None-Match, or without it If-Modified-Since (RFC 9110,
	 * 13.1.3): unchanged, 304 */
	v = header(h, hlen, "If-None-Match", &vlen);
	if (v ? (vlen == strlen(etag) && !memcmp(v, etag, vlen)) ||
			    header_is(v, vlen, "*") :
		not_modified_since(h, hlen, st.st_mtim.tv_sec)) {
		snprintf(extra, sizeof(extra),
			 "ETag: %s\r\nLast-Modified: %s\r\n", etag, lm);
		respond_head(c, 304, 0, extra);
		return;
	}
	v = header(h, hlen, "Range", &vlen);
	r = parse_range(v, vlen, (uint64_t)st.st_size, &lo, &hi);
	if (r < 0) {
		snprintf(extra, sizeof(extra),
			 "Content-Range: bytes */%lld\r\n",
			 (long long)st.st_size);
		respond_head(c, 416, 0, extra);
		return;
	}
	ret = udax_file_open(s->fs, path, O_RDONLY, 0, &f);
	if (ret) {
		respond_error(c, errno_status(ret), head_only);
		return;
	}
	if (r > 0)
		snprintf(extra, sizeof(extra),
			 "Content-Type: application/octet-stream\r\n"
			 "ETag: %s\r\nLast-Modified: %s\r\n"
			 "Accept-Ranges: bytes\r\n"
			 "Content-Range: bytes %" PRIu64 "-%" PRIu64
			 "/%lld\r\n",
			 etag, lm, lo, hi, (long long)st.st_size);
	else
		snprintf(extra, sizeof(extra),
			 "Content-Type: application/octet-stream\r\n"
			 "ETag: %s\r\nLast-Modified: %s\r\n"
			 "Accept-Ranges: bytes\r\n",
			 etag, lm);
	if (r <= 0) {
		lo = 0;
		hi = (uint64_t)st.st_size - 1; /* size 0: left = 0 below */
	}
	respond_head(c, r > 0 ? 206 : 200, st.st_size ? hi - lo + 1 : 0, extra);
	if (head_only || !st.st_size) {
		udax_file_close(&f);
		return;
	}
	c->body = f;
	c->body_off = (off_t)lo;
	c->body_left = hi - lo + 1;
}

/* mkdir -p of path's parent directories. */
static int make_parents(struct udax_fs *fs, const char *path)
{
	char buf[SERVE_PATH_MAX + 1];
	size_t n = strlen(path);

	memcpy(buf, path, n + 1);
	for (size_t i = 1; i < n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = 0;
		int ret = udax_mkdir(fs, buf, 0755);
		buf[i] = '/';
		if (ret && ret != -EEXIST)
			return ret;
	}
	return 0;
}

/* PUT of path with length bytes: a hidden temporary name beside it,
 * which the body goes into (BODY state) and which is renamed over path
 * at the end. */
static void do_put(struct server *s, struct conn *c, const char *path,
		   const char *h, size_t hlen, uint64_t length)
{
	const char *slash = strrchr(path, '/'), *v;
	struct stat st;
	size_t vlen;
	int ret;

	if (!strcmp(path, "/")) {
		respond_error(c, 405, 0);
		return;
	}
	v = header(h, hlen, "X-Create-Dirs", &vlen);
	if (v && header_is(v, vlen, "1")) {
		ret = make_parents(s->fs, path);
		if (ret) {
			respond_error(c, errno_status(ret), 0);
			return;
		}
	}
	c->put_existed = udax_stat(s->fs, path, &st) == 0;
	if (c->put_existed && S_ISDIR(st.st_mode)) {
		respond_error(c, 409, 0);
		return;
	}
	if (asprintf(&c->put_tmp, "%.*s/.udax-put.%d.%" PRIu64 "",
		     (int)(slash - path), path, (int)getpid(),
		     atomic_fetch_add(&serve_tmp_seq, 1) + 1) < 0 ||
	    !(c->put_path = strdup(path))) {
		respond_error(c, 500, 0);
		return;
	}
	ret = udax_file_open(s->fs, c->put_tmp, O_CREAT | O_EXCL | O_WRONLY,
			     0644, &c->put);
	if (ret) {
		respond_error(c, errno_status(ret), 0);
		return;
	}
	c->put_left = c->chunked ? 0 : length;
	c->put_off = 0;
	c->put_asked = 0;
	c->chunk_crlf = c->chunk_trailer = 0;
	c->state = C_BODY;
}

static void put_abandon(struct server *s, struct conn *c)
{
	if (c->put) {
		udax_file_close(&c->put);
		udax_unlink(s->fs, c->put_tmp);
	}
	free(c->put_tmp);
	free(c->put_path);
	c->put_tmp = c->put_path = NULL;
}

/* The whole body is in the temporary file: make it the target. */
static void put_finish(struct server *s, struct conn *c)
{
	int ret = udax_file_close(&c->put);

	if (!ret)
		ret = udax_rename(s->fs, c->put_tmp, c->put_path, 0);
	if (ret) {
		put_abandon(s, c);
		respond_error(c, errno_status(ret), 0);
		return;
	}
	free(c->put_tmp);
	free(c->put_path);
	c->put_tmp = c->put_path = NULL;
	respond_head(c, c->put_existed ? 204 : 201, 0, "");
}

static void do_delete(struct server *s, struct conn *c, const char *path)
{
	struct stat st;
	int ret = udax_lstat(s->fs, path, &st);

	if (!ret && !strcmp(path, "/"))
		ret = -EACCES;
	if (!ret)
		ret = S_ISDIR(st.st_mode) ? udax_rmdir(s->fs, path) :
					    udax_unlink(s->fs, path);
	if (ret)
		respond_error(c, errno_status(ret), 0);
	else
		respond_head(c, 204, 0, "");
}

/* One request head, c->in[0, hend) (hend past its blank line). Sets up
 * the response, or the body to come first. */
/* "100 Continue" before a body is read (RFC 9110, 10.1.1): one send on
 * a connection whose earlier answers are all sent; if the socket cannot
 * take it now, the client sends the body after its own wait anyway. */
static void send_continue(struct conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	/* 25 bytes into an empty send buffer: all or, with the peer gone,
	 * nothing (the body's read fails next) */
	if (send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(cont) - 1)
		c->keep = 0;
}

static void request(struct server *s, struct conn *c, size_t hend)
{
	char *h = c->in, *sp1, *sp2, *eol, *q;
	char path[SERVE_PATH_MAX + 1];
	const char *v, *query = NULL;
	size_t vlen, hlen;
	uint64_t length = 0;
	int has_length = 0, head_only = 0, http10;

	c->status = 0;
	c->sent_bytes = 0;
	eol = memchr(h, '\n', hend);
	snprintf(c->line, sizeof(c->line), "%.*s",
		 (int)(eol - h - (eol > h && eol[-1] == '\r')), h);
	*eol = 0;
	hlen = hend - (size_t)(eol + 1 - h);
	h = eol + 1;
	sp1 = strchr(c->in, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	c->keep = 0;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
		respond_error(c, 400, 0);
		return;
	}
	http10 = sp2[8] == '0';
	v = header(h, hlen, "Connection", &vlen);
	c->keep = http10 ? header_is(v, vlen, "keep-alive") :
			   !header_is(v, vlen, "close");
	if (s->stopping)
		c->keep = 0;
	*sp1 = *sp2 = 0;
	head_only = !strcmp(c->in, "HEAD");
	/* the body's length: Content-Length only (chunked: 411 below) */
	v = header(h, hlen, "Content-Length", &vlen);
	if (v) {
		char num[32], *end;
		if (!vlen || vlen >= sizeof(num)) {
			c->keep = 0;
			respond_error(c, 400, 0);
			return;
		}
		memcpy(num, v, vlen);
		num[vlen] = 0;
		length = strtoull(num, &end, 10);
		if (*end || num[0] == '-') {
			c->keep = 0;
			respond_error(c, 400, 0);
			return;
		}
		has_length = 1;
	}
	v = header(h, hlen, "Transfer-Encoding", &vlen);
	c->chunked = 0;
	if (v) {
		/* only a PUT's chunked body is read; any other body sent so
		 * cannot be skipped: the connection ends after the answer */
		if (!header_is(v, vlen, "chunked") || has_length ||
		    strcmp(c->in, "PUT")) {
			c->keep = 0;
			respond_error(c,
				      header_is(v, vlen, "chunked") ? 501 : 400,
				      head_only);
			return;
		}
		c->chunked = 1;
	}
	/* Expect: 100-continue: the client sends the body after "100
	 * Continue" (or a second's wait); no other expectation is known */
	v = header(h, hlen, "Expect", &vlen);
	c->expect = 0;
	if (v) {
		if (!header_is(v, vlen, "100-continue") || http10) {
			c->keep = 0;
			respond_error(c, 417, head_only);
			return;
		}
		c->expect = 1;
	}
	/* a body that will not be stored is read and dropped, so that the
	 * connection can go on: set up now, answered after */
	q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
	if (q) {
		*q = 0;
		query = q + 1;
	}
	if (s->token) {
		v = header(h, hlen, "Authorization", &vlen);
		if (!v || vlen != 7 + strlen(s->token) ||
		    strncmp(v, "Bearer ", 7) ||
		    memcmp(v + 7, s->token, vlen - 7)) {
			respond_head(c, 401, 0, "WWW-Authenticate: Bearer\r\n");
			goto body;
		}
	}
	if (path_normalize(sp1 + 1, strlen(sp1 + 1), path)) {
		respond_error(c, 400, head_only);
		goto body;
	}
	if (!strcmp(c->in, "GET") || head_only) {
		do_get(s, c, path, query, h, hlen, head_only);
	} else if (!strcmp(c->in, "PUT")) {
		if (s->read_only)
			respond_error(c, 405, 0);
		else if (!has_length && !c->chunked)
			respond_error(c, 411, 0);
		else if (length > s->max_body)
			respond_error(c, 413, 0);
		else
			do_put(s, c, path, h, hlen, length);
		if (c->state == C_BODY) {
			if (c->expect && c->in_len == hend)
				send_continue(c);
			return;
		}
	} else if (!strcmp(c->in, "DELETE")) {
		if (s->read_only)
			respond_error(c, 405, 0);
		else
			do_delete(s, c, path);
	} else {
		respond_error(c, 501, head_only);
	}
body:
	if (c->expect) {
		/* answered without the body, which may never come */
		c->keep = 0;
		return;
	}
	if (c->chunked) {
		c->keep = 0; /* its body is not skipped */
		return;
	}
	if (has_length && length) {
		/* drop a body not stored; a large one ends the connection */
		if (length > (1 << 20))
			c->keep = 0;
		c->put_left = c->keep ? length : 0;
		if (c->put_left)
			c->state = C_DISCARD;
	}
}

/* ---- the loop ---- */

static void log_request(struct conn *c)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%d/%b/%Y:%H:%M:%S %z", &tm);
	printf("%s - - [%s] \"%s\" %d %" PRIu64 "\n", c->peer, date, c->line,
	       c->status, c->sent_bytes);
	fflush(stdout);
}

static void conn_close(struct server *s, struct conn *c)
{
	struct conn **pp = &s->conns;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	put_abandon(s, c);
	if (c->body)
		udax_file_close(&c->body);
	free(c->page);
	close(c->fd);
	free(c);
	s->nconns--;
	if (s->paused && !s->stopping) {
		/* room again: accept (level-triggered: what waits) */
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.ptr = &s->lfd};
		if (!epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev))
			s->paused = 0;
	}
}

static int conn_want(struct server *s, struct conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	return epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Read what the socket has into c->in. Returns 1 (bytes came), 0 (none
 * now: wait for EPOLLIN) or -1 (the peer is gone, or the buffer is full
 * without what the caller looks for). */
static int conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->in_len == sizeof(c->in))
		return -1;
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		return -1;
	c->in_len += (size_t)n;
	return 1;
}

/* Drop the first n bytes of c->in. */
static void conn_consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/*
 * Between a chunked body's data: the CRLF after a chunk, the next
 * chunk-size line (extensions ignored), and after the last chunk the
 * trailer lines up to an empty one, from c->in. Returns 1 with
 * put_left set to the next chunk's size, 2 at the end of the body, 0 if
 * more bytes are needed, or -1 for a malformed body (400) or one past
 * the largest size (413, *status).
 */
static int chunk_next(struct server *s, struct conn *c, int *status)
{
	for (;;) {
		char *eol;
		uint64_t size;

		if (c->chunk_crlf) {
			if (c->in_len < 2)
				return 0;
			if (memcmp(c->in, "\r\n", 2)) {
				*status = 400;
				return -1;
			}
			conn_consume(c, 2);
			c->chunk_crlf = 0;
		}
		eol = memmem(c->in, c->in_len, "\r\n", 2);
		if (!eol)
			return 0;
		if (c->chunk_trailer) {
			int last = eol == c->in;
			conn_consume(c, (size_t)(eol + 2 - c->in));
			if (last)
				return 2;
			continue; /* a trailer field: ignored */
		}
		*eol = 0;
		char *end;
		errno = 0;
		size = strtoull(c->in, &end, 16);
		if (end == c->in || errno ||
		    (*end && *end != ';' && *end != ' ' && *end != '\t')) {
			*status = 400;
			return -1;
		}
		if (size > s->max_body - (uint64_t)c->put_off ||
		    (uint64_t)c->put_off > s->max_body) {
			*status = 413;
			return -1;
		}
		conn_consume(c, (size_t)(eol + 2 - c->in));
		if (!size) {
			c->chunk_trailer = 1;
			continue;
		}
		/* each chunk reserves its own space: the first udax_recvfile
		 * of it asks for all of it */
		c->put_left = size;
		c->put_asked = 0;
		c->chunk_crlf = 1;
		return 1;
	}
}

/* Move bytes of the state the connection is in. Returns 0 to go on
 * (waiting for *events), 1 to close. */
static int conn_step(struct server *s, struct conn *c, uint32_t *events)
{
	ssize_t n;

	for (;;) {
		switch (c->state) {
		case C_HEAD: {
			char *end = c->in_len >= 4 ? memmem(c->in, c->in_len,
							    "\r\n\r\n", 4) :
						     NULL;
			if (end) {
				size_t hend = (size_t)(end + 4 - c->in);
				request(s, c, hend);
				/* the rest of the buffer is the body's or the
				 * next request's */
				memmove(c->in, c->in + hend, c->in_len - hend);
				c->in_len -= hend;
				c->deadline = mono_now() + SERVE_IDLE_SECONDS;
				continue;
			}
			if (c->in_len == sizeof(c->in)) {
				c->keep = 0;
				snprintf(c->line, sizeof(c->line), "-");
				respond_error(c, 431, 0);
				continue;
			}
			n = recv(c->fd, c->in + c->in_len,
				 sizeof(c->in) - c->in_len, 0);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				return 1;
			if (n < 0) {
				*events = EPOLLIN;
				return 0;
			}
			if (!c->in_len)
				c->deadline = mono_now() + s->head_seconds;
			c->in_len += (size_t)n;
			continue;
		}
		case C_BODY:
		case C_DISCARD: {
			/* bytes read with the head first */
			size_t have = c->in_len < c->put_left ?
					      c->in_len :
					      (size_t)c->put_left;
			if (have) {
				if (c->state == C_BODY &&
				    udax_pwrite(c->put, c->in, have,
						c->put_off) != (ssize_t)have) {
					put_abandon(s, c);
					c->keep = 0;
					respond_error(c, 507, 0);
					continue;
				}
				c->put_off += (off_t)have;
				c->put_left -= have;
				memmove(c->in, c->in + have, c->in_len - have);
				c->in_len -= have;
			}
			if (!c->put_left && c->state == C_BODY && c->chunked) {
				int status = 0, r = chunk_next(s, c, &status);
				if (r < 0) {
					put_abandon(s, c);
					c->keep = 0;
					respond_error(c, status, 0);
					continue;
				}
				if (r == 0) {
					r = conn_fill(c);
					if (r < 0)
						return 1;
					if (!r) {
						*events = EPOLLIN;
						return 0;
					}
					c->deadline =
						mono_now() + SERVE_IDLE_SECONDS;
					continue;
				}
				if (r == 1)
					continue; /* a chunk's data */
			}
			if (!c->put_left) {
				if (c->state == C_BODY)
					put_finish(s, c);
				else
					c->state = C_SEND;
				continue;
			}
			if (c->state == C_DISCARD) {
				char junk[16384];
				size_t want = c->put_left < sizeof(junk) ?
						      (size_t)c->put_left :
						      sizeof(junk);
				n = recv(c->fd, junk, want, 0);
			} else {
				/* the first call asks for the whole body, so
				 * that one too large for the free space gets
				 * 507 before a byte of it is read; the space
				 * is not held between calls, so later ones
				 * ask for a step (what a non-blocking socket
				 * has queued is less anyway) */
				size_t want = c->put_left < SERVE_RECV_STEP ||
							      !c->put_asked ?
						      (size_t)c->put_left :
						      SERVE_RECV_STEP;
				c->put_asked = 1;
				n = udax_recvfile(c->put, c->fd, &c->put_off,
						  want, 0);
				if (n < 0)
					errno = (int)-n;
				if (n < 0 && n != -EAGAIN) {
					/* ENOSPC before a byte was read */
					put_abandon(s, c);
					c->keep = 0;
					respond_error(c, errno_status((int)n),
						      0);
					continue;
				}
			}
			if (n == 0)
				return 1; /* the peer went away mid-body */
			if (n < 0 && errno != EAGAIN)
				return 1;
			if (n < 0) {
				*events = EPOLLIN;
				return 0;
			}
			c->put_left -= (uint64_t)n;
			c->deadline = mono_now() + SERVE_IDLE_SECONDS;
			continue;
		}
		case C_LINGER: {
			char junk[16384];
			n = recv(c->fd, junk, sizeof(junk), 0);
			if (n < 0 && errno == EAGAIN) {
				*events = EPOLLIN;
				return 0;
			}
			/* the client's end, an error, or enough */
			if (n <= 0 || (uint64_t)n >= c->linger_left)
				return 1;
			c->linger_left -= (uint64_t)n;
			continue;
		}
		case C_SEND:
			if (c->out_done < c->out_len) {
				n = send(c->fd, c->out + c->out_done,
					 c->out_len - c->out_done,
					 MSG_NOSIGNAL | (c->body || c->page ?
								 MSG_MORE :
								 0));
			} else if (c->page && c->page_done < c->page_len) {
				n = send(c->fd, c->page + c->page_done,
					 c->page_len - c->page_done,
					 MSG_NOSIGNAL);
			} else if (c->body && c->body_left) {
				n = udax_sendfile(c->fd, c->body, &c->body_off,
						  c->body_left);
				if (n < 0)
					errno = (int)-n;
				if (n == 0)
					return 1; /* the file shrank */
			} else {
				/* the response is out */
				log_request(c);
				if (c->body)
					udax_file_close(&c->body);
				free(c->page);
				c->page = NULL;
				if (!c->keep) {
					shutdown(c->fd, SHUT_WR);
					c->state = C_LINGER;
					c->linger_left = SERVE_LINGER_BYTES;
					c->deadline = mono_now() +
						      SERVE_LINGER_SECONDS;
					continue;
				}
				c->state = C_HEAD;
				c->deadline = mono_now() + SERVE_IDLE_SECONDS;
				continue;
			}
			if (n < 0 && errno != EAGAIN)
				return 1;
			if (n < 0) {
				*events = EPOLLOUT;
				return 0;
			}
			if (c->out_done < c->out_len) {
				c->out_done += (size_t)n;
			} else {
				c->sent_bytes += (uint64_t)n;
				if (c->page && c->page_done < c->page_len)
					c->page_done += (size_t)n;
				else
					c->body_left -= (uint64_t)n;
			}
			c->deadline = mono_now() + SERVE_IDLE_SECONDS;
			continue;
		}
	}
}

static void conn_run(struct server *s, struct conn *c)
{
	uint32_t events = EPOLLIN;

	if (conn_step(s, c, &events) || conn_want(s, c, events))
		conn_close(s, c);
}

static void accept_all(struct server *s)
{
	if (s->nconns >= SERVE_MAX_CONNS && !s->paused) {
		/* full: the kernel's accept queue holds the rest; without
		 * this the listening socket would wake the loop at once */
		s->paused = !epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
		return;
	}
	while (s->nconns < SERVE_MAX_CONNS && !s->stopping) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(s->lfd, (struct sockaddr *)&sa, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct conn *c = calloc(1, sizeof(*c));
		struct epoll_event ev = {.events = EPOLLIN};
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->state = C_HEAD;
		c->deadline = mono_now() + SERVE_IDLE_SECONDS;
		if (sa.ss_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((struct sockaddr_in6 *)&sa)->sin6_addr,
				  c->peer, sizeof(c->peer));
		else
			inet_ntop(AF_INET,
				  &((struct sockaddr_in *)&sa)->sin_addr,
				  c->peer, sizeof(c->peer));
		ev.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
		s->nconns++;
	}
}

/* Connections past their deadline: a head too slow gets 408, an idle
 * keep-alive or a stalled body is closed. */
static void expire(struct server *s)
{
	time_t now = mono_now();

	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (now < c->deadline)
			continue;
		if (c->state == C_HEAD && c->in_len) {
			c->keep = 0;
			snprintf(c->line, sizeof(c->line), "-");
			respond_error(c, 408, 0);
			c->deadline = now + s->head_seconds;
			conn_run(s, c);
		} else {
			conn_close(s, c);
		}
	}
}

/* "ADDR:PORT", "[V6]:PORT" or "PORT" into a listening socket, one of
 * several on the port (SO_REUSEPORT). Returns the fd or a negative
 * errno. */
static int listen_on(const char *spec)
{
	struct sockaddr_storage sa = {0};
	char host[128] = "127.0.0.1";
	const char *colon = strrchr(spec, ':'), *port = spec;
	socklen_t sl;
	int fd, one = 1;

	if (colon) {
		size_t hl = (size_t)(colon - spec);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec, hl);
		host[hl] = 0;
		port = colon + 1;
		if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
			memmove(host, host + 1, hl - 2);
			host[hl - 2] = 0;
		}
	}
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (*end || !*port || p > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&sa)->sin_addr) ==
	    1) {
		sa.ss_family = AF_INET;
		((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)p);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host,
			     &((struct sockaddr_in6 *)&sa)->sin6_addr) == 1) {
		sa.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)p);
		sl = sizeof(struct sockaddr_in6);
	} else {
		return -EINVAL;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sl) || listen(fd, 128)) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int serve_loop(struct server *s)
{
	struct epoll_event evs[64];

	for (;;) {
		int n = epoll_wait(s->epfd, evs, 64, 1000);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &s->lfd) {
				accept_all(s);
			} else if (p == &s->sfd) {
				uint64_t one;
				if (read(s->sfd, &one, sizeof(one)) > 0 &&
				    !s->stopping) {
					s->stopping = 1;
					s->stop_at = mono_now() +
						     SERVE_DRAIN_SECONDS;
					epoll_ctl(s->epfd, EPOLL_CTL_DEL,
						  s->lfd, NULL);
				}
			} else {
				conn_run(s, p);
			}
		}
		/* after the batch (its events may name any connection):
		 * stopping, the idle connections go now */
		for (struct conn *c = s->conns, *nx; s->stopping && c; c = nx) {
			nx = c->next;
			if (c->state == C_HEAD && !c->in_len)
				conn_close(s, c);
		}
		expire(s);
		if (s->stopping && (!s->conns || mono_now() >= s->stop_at)) {
			while (s->conns)
				conn_close(s, s->conns);
			return 0;
		}
	}
}

static void *serve_thread(void *arg)
{
	struct server *s = arg;

	s->ret = serve_loop(s);
	return NULL;
}

/* Set up loop s (its configuration already copied in): socket, eventfd,
 * epoll set. Returns 0 or a negative errno (what is made is closed by
 * serve_loop_fini). */
static int serve_loop_init(struct server *s, const char *listen_spec)
{
	struct epoll_event ev = {.events = EPOLLIN};

	s->lfd = listen_on(listen_spec);
	if (s->lfd < 0)
		return s->lfd;
	s->sfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->sfd < 0 || s->epfd < 0)
		return -errno;
	ev.data.ptr = &s->lfd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev))
		return -errno;
	ev.data.ptr = &s->sfd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sfd, &ev))
		return -errno;
	return 0;
}

static void serve_loop_fini(struct server *s)
{
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->lfd >= 0)
		close(s->lfd);
}

static void serve_usage(void)
{
	printf("Usage: udax serve [OPTION]... IMAGE\n"
	       "Serve the files of IMAGE over HTTP/1.1: GET (with a single "
	       "Range), HEAD,\n"
	       "PUT (Content-Length or chunked; X-Create-Dirs: 1 makes "
	       "parent directories),\nDELETE, "
	       "a directory as an HTML page, or as JSON with ?list.\n\n"
	       "  -l, --listen=ADDR:PORT  where to listen (default "
	       "127.0.0.1:8080; a port\n"
	       "                          alone listens on loopback)\n"
	       "  -r, --read-only         open the image read-only; PUT and "
	       "DELETE get 405\n"
	       "  -t, --token=FILE        require \"Authorization: Bearer "
	       "TOKEN\", TOKEN being\n"
	       "                          the first line of FILE (plain "
	       "HTTP: use TLS in a\n"
	       "                          reverse proxy off loopback)\n"
	       "  -m, --max-body=SIZE     largest PUT body (default 1G)\n"
	       "      --timeout=SECONDS   to send a request head (default "
	       "10): then 408\n"
	       "      --threads=N         event loops, one a thread (default: "
	       "one per CPU)\n"
	       "      --help              display this help and exit\n\n"
	       "An access-log line per request goes to standard output. "
	       "SIGTERM or SIGINT\n"
	       "finishes the responses in flight and closes the image "
	       "cleanly.\n");
	tool_exit_help();
}

/* The first line of a token file. Returns 0 or a negative errno. */
static int read_token(const char *file, char **token)
{
	FILE *f = fopen(file, "r");
	char line[512];

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = 0;
	if (!line[0])
		return -EINVAL;
	*token = strdup(line);
	return *token ? 0 : -ENOMEM;
}

int udax_tool_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"read-only", no_argument, NULL, 'r'},
		{"token", required_argument, NULL, 't'},
		{"max-body", required_argument, NULL, 'm'},
		{"timeout", required_argument, NULL, TOOL_OPT_LOCAL},
		{"threads", required_argument, NULL, TOOL_OPT_LOCAL + 1},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0}};
	struct server s = {.max_body = 1ull << 30,
			   .lfd = -1,
			   .sfd = -1,
			   .head_seconds = SERVE_HEAD_SECONDS};
	uint64_t secs;
	struct udax_open_opts oo = {0};
	const char *listen_spec = "127.0.0.1:8080";
	struct server *loops = NULL;
	char *token = NULL;
	sigset_t sigs;
	int opt, ret, status = TOOL_EXIT_FAILURE, nloops = 0, started = 0;

	while ((opt = getopt_long(argc, argv, "l:rt:m:", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen_spec = optarg;
			break;
		case 'r':
			s.read_only = 1;
			break;
		case 't':
			free(token);
			token = NULL;
			ret = read_token(optarg, &token);
			s.token = token;
			if (ret) {
				tool_error("%s: cannot read a token: %s",
					   optarg, udax_strerror(ret));
				return TOOL_EXIT_FAILURE;
			}
			break;
		case 'm':
			if (tool_parse_size(optarg, &s.max_body))
				return tool_usage_error("invalid size '%s'",
							optarg);
			break;
		case TOOL_OPT_LOCAL:
			if (tool_parse_u64(optarg, &secs) || !secs ||
			    secs > 3600)
				return tool_usage_error("invalid timeout '%s'",
							optarg);
			s.head_seconds = (int)secs;
			break;
		case TOOL_OPT_LOCAL + 1:
			if (tool_parse_u64(optarg, &secs) || !secs ||
			    secs > SERVE_MAX_LOOPS)
				return tool_usage_error("invalid thread count "
							"'%s'",
							optarg);
			nloops = (int)secs;
			break;
		case TOOL_OPT_HELP:
			serve_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_hint();
		}
	}
	ret = tool_one_operand(argc, argv);
	if (ret)
		return ret;
	oo.read_only = s.read_only;
	ret = udax_open(&s.fs, argv[optind], &oo);
	if (ret) {
		tool_error("%s: %s", argv[optind], udax_strerror(ret));
		goto free_token;
	}
	if (!nloops) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		nloops = cpus < 1		? 1 :
			 cpus > SERVE_MAX_LOOPS ? SERVE_MAX_LOOPS :
						  (int)cpus;
	}
	loops = calloc((size_t)nloops, sizeof(*loops));
	if (!loops) {
		tool_error("%s", strerror(ENOMEM));
		goto close_image;
	}
	/* SIGTERM and SIGINT for this thread's sigwaitinfo only: blocked
	 * before the loops start, so that they inherit the mask */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < nloops; i++) {
		loops[i] = s;
		loops[i].lfd = loops[i].sfd = loops[i].epfd = -1;
		ret = serve_loop_init(&loops[i], listen_spec);
		if (ret) {
			tool_error("%s: cannot listen: %s", listen_spec,
				   udax_strerror(ret));
			goto fini_loops;
		}
	}
	for (started = 0; started < nloops; started++)
		if (pthread_create(&loops[started].thread, NULL, serve_thread,
				   &loops[started])) {
			tool_error("pthread_create: %s", strerror(errno));
			break;
		}
	if (started == nloops) {
		fprintf(stderr, "%s: serving %s on %s%s, %d thread%s\n",
			tool_prog, argv[optind], listen_spec,
			s.read_only ? " (read-only)" : "", nloops,
			nloops > 1 ? "s" : "");
		while (sigwaitinfo(&sigs, NULL) < 0 && errno == EINTR)
			;
		status = TOOL_EXIT_OK;
	}
	/* stop: each loop drains its connections and returns */
	for (int i = 0; i < started; i++) {
		uint64_t one = 1;
		if (write(loops[i].sfd, &one, sizeof(one)) < 0)
			tool_error("stopping a loop: %s", strerror(errno));
	}
	for (int i = 0; i < started; i++) {
		pthread_join(loops[i].thread, NULL);
		if (loops[i].ret) {
			tool_error("%s", udax_strerror(loops[i].ret));
			status = TOOL_EXIT_FAILURE;
		}
	}
fini_loops:
	for (int i = 0; i < nloops; i++)
		serve_loop_fini(&loops[i]);
	free(loops);
close_image:
	ret = udax_close(&s.fs);
	if (ret) {
		tool_error("%s: closing: %s", argv[optind], udax_strerror(ret));
		status = TOOL_EXIT_FAILURE;
	}
free_token:
	free(token);
	return status;
}
