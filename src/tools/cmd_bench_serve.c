// SPDX-License-Identifier: MIT
/*
 * cmd_bench_serve.c - `udax bench serve`: `udax serve` beside nginx, the
 * same files, the same client (wrk) on loopback, in one run (issue 16).
 *
 *   GET   one file of 1 KiB, 64 KiB, 1 MiB and 64 MiB, over and over
 *   PUT   bodies of 64 KiB, 1 MiB and 64 MiB to one path, over and over
 *
 * udax serves an image file on tmpfs (/dev/shm), made for each run and
 * holding only what the case needs. nginx serves the same files from a
 * tmpfs folder with the configuration nginx_conf() writes: sendfile on,
 * the dav module for PUT, its body temp folder on the same tmpfs (a body
 * is written once and renamed: its best case), an access log on tmpfs as
 * udax serve writes one. Both run one worker (event loop) per CPU; wrk
 * runs one thread per CPU. Each case is run --reps times for each
 * server, the two alternately first; the figures are medians.
 *
 * Device state: udax's image file has every page written before mkfs
 * ("touched", a device in use) unless --fresh leaves it sparse, so that
 * the first store to each page pays tmpfs's allocation, as a new memory
 * device does. nginx's tmpfs allocates the pages of every body it
 * writes, in either state.
 *
 * Needs nginx with its dav module (Debian's nginx-core) and wrk:
 * `scripts/install-deps.sh --bench` installs both.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"

#define SV_KIB 1024ull
#define SV_MIB (1024ull * 1024)
#define SV_IMAGE (512 * SV_MIB) /* udax's image file */

enum { SV_UDAX, SV_NGINX, SV_SERVERS };
static const char *const sv_server[SV_SERVERS] = {"udax serve", "nginx"};

static const struct sv_case {
	const char *id;
	const char *what;
	int put;
	uint64_t size;
	int conns; /* wrk -c */
} sv_cases[] = {
	{"get_1k", "GET 1 KiB", 0, SV_KIB, 16},
	{"get_64k", "GET 64 KiB", 0, 64 * SV_KIB, 16},
	{"get_1m", "GET 1 MiB", 0, SV_MIB, 8},
	{"get_64m", "GET 64 MiB", 0, 64 * SV_MIB, 2},
	{"put_64k", "PUT 64 KiB", 1, 64 * SV_KIB, 8},
	{"put_1m", "PUT 1 MiB", 1, SV_MIB, 4},
	{"put_64m", "PUT 64 MiB", 1, 64 * SV_MIB, 2},
};
#define SV_CASES (sizeof(sv_cases) / sizeof(sv_cases[0]))

/* Throughput and median latency of each case on each server. */
struct sv_result {
	struct bench_meas thr[SV_CASES][SV_SERVERS]; /* MiB/s */
	struct bench_meas lat[SV_CASES][SV_SERVERS]; /* ms, wrk's 50% */
	struct bench_row thr_row[SV_CASES][SV_SERVERS];
	struct bench_row lat_row[SV_CASES][SV_SERVERS];
	char ids[SV_CASES][SV_SERVERS][2][48];
};

struct sv_opts {
	int json;
	int reps;
	int seconds; /* wrk -d */
	int fresh;
	long cpus;
	char dir[64]; /* the work folder on tmpfs */
};

/* ---- processes ---- */

/* Start argv with stdout and stderr into files (NULL: /dev/null). */
static int sv_spawn(char *const argv[], const char *out, const char *err,
		    pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	int ret;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err ? err : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	ret = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return -ret;
}

static void sv_stop(pid_t pid, int sig)
{
	kill(pid, sig);
	waitpid(pid, NULL, 0);
}

/* A loopback port nobody listens on now. Returns it, or 0. */
static int sv_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;

	if (s < 0)
		return 0;
	if (!bind(s, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(s, (struct sockaddr *)&a, &al))
		port = ntohs(a.sin_port);
	close(s);
	return port;
}

/* Wait until the server answers on port, or it exits, or 60 s pass (a
 * start, not a measurement). Returns 0 or a negative errno. */
static int sv_wait_port(pid_t pid, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timespec ms10 = {0, 10 * 1000000};

	for (int i = 0; i < 6000; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return -errno;
		int ok = !connect(s, (struct sockaddr *)&a, sizeof(a));
		close(s);
		if (ok)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -ECHILD;
		nanosleep(&ms10, NULL);
	}
	return -ETIMEDOUT;
}

/* ---- files ---- */

static int sv_write_file(const char *path, const void *s, size_t n)
{
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (n && fwrite(s, 1, n, f) != n)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/* A file of size bytes of 'g' on the host. */
static int sv_host_file(const char *path, uint64_t size)
{
	static char buf[SV_MIB];
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	int ret = 0;

	if (fd < 0)
		return -errno;
	memset(buf, 'g', sizeof(buf));
	for (uint64_t o = 0; o < size && !ret; o += sizeof(buf)) {
		size_t n = size - o < sizeof(buf) ? size - o : sizeof(buf);
		if (pwrite(fd, buf, n, (off_t)o) != (ssize_t)n)
			ret = -errno;
	}
	close(fd);
	return ret;
}

/* udax's image for one run of c: every page written first unless fresh;
 * the GET file or the PUT folder in it. Returns 0 or a negative errno. */
static int sv_image(const struct sv_opts *o, const struct sv_case *c,
		    const char *img)
{
	static char buf[SV_MIB];
	struct udax_mkfs_opts mo = {.size = SV_IMAGE};
	struct udax_fs *fs;
	struct udax_file *f = NULL;
	int fd, ret = 0;

	unlink(img);
	fd = open(img, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, SV_IMAGE))
		ret = -errno;
	memset(buf, 0, sizeof(buf));
	for (uint64_t off = 0; !ret && !o->fresh && off < SV_IMAGE;
	     off += sizeof(buf))
		if (pwrite(fd, buf, sizeof(buf), (off_t)off) != sizeof(buf))
			ret = -errno;
	close(fd);
	if (!ret)
		ret = udax_mkfs(img, &mo);
	if (!ret)
		ret = udax_open(&fs, img, NULL);
	if (ret)
		return ret;
	if (c->put) {
		ret = udax_mkdir(fs, "/put", 0755);
	} else {
		ret = udax_file_open(fs, "/get", O_CREAT | O_RDWR, 0644, &f);
		memset(buf, 'g', sizeof(buf));
		for (uint64_t off = 0; !ret && off < c->size;
		     off += sizeof(buf)) {
			size_t n = c->size - off < sizeof(buf) ? c->size - off :
								 sizeof(buf);
			ssize_t w = udax_pwrite(f, buf, n, (off_t)off);
			ret = w < 0 ? (int)w : 0;
		}
		if (f)
			udax_file_close(&f);
	}
	int cret = udax_close(&fs);
	return ret ? ret : cret;
}

/* The nginx configuration: written here, so it is part of the
 * benchmark's source. */
static int nginx_conf(const struct sv_opts *o, int port, const char *path)
{
	char conf[4096];
	int n = snprintf(conf, sizeof(conf),
			 "# udax bench serve: nginx beside udax serve\n"
			 "%s"
			 "worker_processes %ld;\n"
			 "pid %s/nginx.pid;\n"
			 "error_log %s/nginx-error.log;\n"
			 "events { worker_connections 1024; }\n"
			 "http {\n"
			 "  access_log %s/nginx-access.log;\n"
			 "  sendfile on;\n"
			 "  tcp_nopush on;\n"
			 "  keepalive_requests 1000000;\n"
			 "  keepalive_timeout 60s;\n"
			 "  default_type application/octet-stream;\n"
			 "  client_max_body_size 0;\n"
			 "  client_body_temp_path %s/www-tmp;\n"
			 "  proxy_temp_path %s/tmp-proxy;\n"
			 "  fastcgi_temp_path %s/tmp-fastcgi;\n"
			 "  uwsgi_temp_path %s/tmp-uwsgi;\n"
			 "  scgi_temp_path %s/tmp-scgi;\n"
			 "  server {\n"
			 "    listen 127.0.0.1:%d;\n"
			 "    root %s/www;\n"
			 "    location / { dav_methods PUT DELETE; }\n"
			 "  }\n"
			 "}\n",
			 geteuid() == 0 ? "user root;\n" : "", o->cpus, o->dir,
			 o->dir, o->dir, o->dir, o->dir, o->dir, o->dir, o->dir,
			 port, o->dir);

	if (n < 0 || (size_t)n >= sizeof(conf))
		return -ENAMETOOLONG;
	return sv_write_file(path, conf, (size_t)n);
}

/* ---- wrk ---- */

/* A wrk figure: "1.23ms" and the like, in ms. */
static double sv_ms(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (!strncmp(end, "us", 2))
		return v / 1000;
	if (!strncmp(end, "ms", 2))
		return v;
	if (*end == 's')
		return v * 1000;
	if (!strncmp(end, "m", 1))
		return v * 60000;
	return -1;
}

/* Run wrk on url for c; its requests a second and 50% latency. Returns 0
 * or a negative errno, with why in *why. */
static int sv_wrk(const struct sv_opts *o, const struct sv_case *c,
		  const char *url, double *rps, double *p50, const char **why)
{
	char threads[24], conns[16], dur[16], script[96], out[96], line[512];
	int ret;
	pid_t pid;
	long t = o->cpus < c->conns ? o->cpus : c->conns;
	char *argv[14] = {"wrk", "-t",	      threads,	   "-c",  conns, "-d",
			  dur,	 "--latency", "--timeout", "60s", NULL};
	int a = 10;

	snprintf(threads, sizeof(threads), "%ld", t);
	snprintf(conns, sizeof(conns), "%d", c->conns);
	snprintf(dur, sizeof(dur), "%ds", o->seconds);
	snprintf(out, sizeof(out), "%s/wrk.out", o->dir);
	if (c->put) {
		snprintf(script, sizeof(script), "%s/put-%llu.lua", o->dir,
			 (unsigned long long)c->size);
		argv[a++] = "-s";
		argv[a++] = script;
	}
	argv[a++] = (char *)url;
	argv[a] = NULL;
	unlink(out);
	*why = "wrk could not be started";
	ret = sv_spawn(argv, out, NULL, &pid);
	if (ret)
		return ret;
	int st;
	waitpid(pid, &st, 0);
	*why = "wrk failed";
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return -EIO;
	FILE *f = fopen(out, "r");
	if (!f)
		return -errno;
	*rps = *p50 = -1;
	ret = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *s = line + strspn(line, " \t");
		unsigned long long bad = 0;
		if (!strncmp(s, "Requests/sec:", 13))
			*rps = strtod(s + 13, NULL);
		else if (!strncmp(s, "50%", 3))
			*p50 = sv_ms(s + 3 + strspn(s + 3, " \t"));
		else if (sscanf(s, "Non-2xx or 3xx responses: %llu", &bad) ==
				 1 &&
			 bad) {
			*why = "the server answered with errors";
			ret = -EIO;
		} else if (!strncmp(s, "Socket errors:", 14) &&
			   (strstr(s, "read 0,") == NULL ||
			    strstr(s, "write 0,") == NULL)) {
			*why = "socket errors (wrk: Socket errors)";
			ret = -EIO;
		}
	}
	fclose(f);
	if (!ret && (*rps <= 0 || *p50 < 0)) {
		*why = "no request completed";
		ret = -EIO;
	}
	return ret;
}

/* ---- one run ---- */

static void sv_run(const struct sv_opts *o, int ci, int server,
		   struct sv_result *r)
{
	const struct sv_case *c = &sv_cases[ci];
	struct bench_meas *thr = &r->thr[ci][server];
	char img[96], conf[96], log[96], err[96], url[128], portarg[32];
	char threads[24];
	const char *why = NULL;
	double rps = -1, p50 = -1;
	int port = sv_free_port(), ret;
	pid_t pid;

	if (!port) {
		bench_fail(thr, "no free port", -EADDRINUSE);
		return;
	}
	snprintf(img, sizeof(img), "%s/image", o->dir);
	snprintf(portarg, sizeof(portarg), "127.0.0.1:%d", port);
	snprintf(threads, sizeof(threads), "%ld", o->cpus);
	if (server == SV_UDAX) {
		char *argv[] = {"/proc/self/exe", "serve", "--listen", portarg,
				"--threads",	  threads, img,	       NULL};
		ret = sv_image(o, c, img);
		if (ret) {
			bench_fail(thr, "making the image", ret);
			return;
		}
		snprintf(log, sizeof(log), "%s/udax-access.log", o->dir);
		snprintf(err, sizeof(err), "%s/udax-error.log", o->dir);
		ret = sv_spawn(argv, log, err, &pid);
	} else {
		snprintf(conf, sizeof(conf), "%s/nginx.conf", o->dir);
		char *argv[] = {"nginx",	"-q",	       "-p",
				(char *)o->dir, "-c",	       conf,
				"-g",		"daemon off;", NULL};
		ret = nginx_conf(o, port, conf);
		if (!ret)
			ret = sv_spawn(argv, NULL, NULL, &pid);
	}
	if (ret) {
		bench_fail(thr, sv_server[server], ret);
		return;
	}
	ret = sv_wait_port(pid, port);
	if (ret) {
		bench_fail(thr,
			   server == SV_UDAX ? "udax serve did not start" :
					       "nginx did not start",
			   ret);
		sv_stop(pid, SIGKILL);
		return;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s", port,
		 c->put ? "put/body" : "get");
	ret = sv_wrk(o, c, url, &rps, &p50, &why);
	sv_stop(pid, server == SV_UDAX ? SIGTERM : SIGQUIT);
	if (server == SV_UDAX)
		unlink(img);
	if (ret) {
		bench_fail(thr, why, ret);
		return;
	}
	bench_add(thr, rps * (double)c->size / (double)SV_MIB);
	bench_add(&r->lat[ci][server], p50);
}

/* The work folder: nginx's root with the GET files and the PUT folder,
 * its temp folders, wrk's PUT scripts. Returns 0 or a negative errno. */
static int sv_setup(struct sv_opts *o)
{
	static const char *const dirs[] = {
		"www",	       "www/put",   "www-tmp",	"tmp-proxy",
		"tmp-fastcgi", "tmp-uwsgi", "tmp-scgi", "logs"};
	char path[160];
	int ret = 0;

	strcpy(o->dir, "/dev/shm/udax-bench-serve-XXXXXX");
	if (!mkdtemp(o->dir))
		return -errno;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !ret; i++) {
		snprintf(path, sizeof(path), "%s/%s", o->dir, dirs[i]);
		if (mkdir(path, 0755))
			ret = -errno;
	}
	for (size_t i = 0; i < SV_CASES && !ret; i++) {
		const struct sv_case *c = &sv_cases[i];
		if (!c->put) {
			snprintf(path, sizeof(path), "%s/www/get-%s", o->dir,
				 c->id);
			ret = sv_host_file(path, c->size);
			continue;
		}
		char lua[256];
		int n = snprintf(lua, sizeof(lua),
				 "wrk.method = \"PUT\"\n"
				 "wrk.body = string.rep(\"p\", %llu)\n",
				 (unsigned long long)c->size);
		snprintf(path, sizeof(path), "%s/put-%llu.lua", o->dir,
			 (unsigned long long)c->size);
		ret = sv_write_file(path, lua, (size_t)n);
	}
	return ret;
}

/* nginx serves www/get-ID as /get: one name for both servers. */
static int sv_nginx_get(const struct sv_opts *o, const struct sv_case *c)
{
	char from[160], to[160];

	snprintf(from, sizeof(from), "get-%s", c->id);
	snprintf(to, sizeof(to), "%s/www/get", o->dir);
	unlink(to);
	return symlink(from, to) ? -errno : 0;
}

static void sv_cleanup(const struct sv_opts *o)
{
	char cmd[128];

	/* the folder is ours alone, made by mkdtemp above */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", o->dir);
	if (system(cmd))
		fprintf(stderr, "udax bench serve: could not remove %s\n",
			o->dir);
}

/* ---- output ---- */

static void sv_rows(struct sv_result *r)
{
	for (size_t i = 0; i < SV_CASES; i++)
		for (int s = 0; s < SV_SERVERS; s++) {
			const char *sid = s == SV_UDAX ? "udax" : "nginx";
			snprintf(r->ids[i][s][0], sizeof(r->ids[i][s][0]),
				 "%s_%s_mib_s", sv_cases[i].id, sid);
			snprintf(r->ids[i][s][1], sizeof(r->ids[i][s][1]),
				 "%s_%s_p50_ms", sv_cases[i].id, sid);
			r->thr_row[i][s] = (struct bench_row){
				r->ids[i][s][0], sv_server[s], "MiB/s"};
			r->lat_row[i][s] = (struct bench_row){
				r->ids[i][s][1],
				s == SV_UDAX ? "udax serve, median latency" :
					       "nginx, median latency",
				"ms"};
		}
}

/* The goals of issue 16: throughput at least nginx's for 1 MiB and 64
 * MiB, GET and PUT; PUT latency for 64 KiB bodies at most nginx's. */
static void sv_goals(const struct sv_result *r, struct tool_json *j)
{
	for (size_t i = 0; i < SV_CASES; i++) {
		const struct sv_case *c = &sv_cases[i];
		double q;
		int met;
		char key[64];
		if (c->size >= SV_MIB) {
			q = bench_ratio(&r->thr[i][SV_UDAX],
					&r->thr[i][SV_NGINX]);
			met = q >= 1;
			snprintf(key, sizeof(key), "%s_throughput_over_nginx",
				 c->id);
		} else if (c->put) {
			q = bench_ratio(&r->lat[i][SV_UDAX],
					&r->lat[i][SV_NGINX]);
			met = q >= 0 && q <= 1;
			snprintf(key, sizeof(key), "%s_latency_over_nginx",
				 c->id);
		} else {
			continue;
		}
		if (j) {
			tool_json_double(j, key, q);
			continue;
		}
		if (q < 0)
			printf("goal: %s: not measured\n", c->what);
		else
			printf("goal: %s %s nginx's: %.2f -> %s\n", c->what,
			       c->size >= SV_MIB ? "throughput >=" :
						   "median latency <=",
			       q, bench_goal(met));
	}
}

static void sv_print(const struct sv_opts *o, const struct sv_result *r,
		     double load0, double load1)
{
	printf("udax bench serve: %ld CPUs, load average %.2f at start, %.2f "
	       "at the end; median of %d runs (min .. max), wrk %d s a run\n",
	       o->cpus, load0, load1, o->reps, o->seconds);
	printf("udax serve: %ld event loops over a %llu MiB image file on "
	       "tmpfs, %s; nginx: %ld workers, its files on tmpfs, sendfile "
	       "on, PUT by its dav module\n",
	       o->cpus, (unsigned long long)(SV_IMAGE / SV_MIB),
	       o->fresh ? "fresh (sparse: first touch in the runs)" :
			  "touched (every page written before mkfs)",
	       o->cpus);
	for (size_t i = 0; i < SV_CASES; i++) {
		printf("%s, %d connections\n", sv_cases[i].what,
		       sv_cases[i].conns);
		for (int s = 0; s < SV_SERVERS; s++)
			bench_print_row(&r->thr_row[i][s], &r->thr[i][s]);
		for (int s = 0; s < SV_SERVERS; s++)
			bench_print_row(&r->lat_row[i][s], &r->lat[i][s]);
		printf("  ratio udax / nginx, throughput %31.2f\n",
		       bench_ratio(&r->thr[i][SV_UDAX], &r->thr[i][SV_NGINX]));
	}
	sv_goals(r, NULL);
}

static void sv_print_json(const struct sv_opts *o, const struct sv_result *r,
			  double load0, double load1)
{
	struct tool_json j;

	tool_json_begin(&j, stdout);
	tool_json_str(&j, "benchmark", "serve");
	tool_json_i64(&j, "cpus", o->cpus);
	tool_json_double(&j, "loadavg_1min_start", load0);
	tool_json_double(&j, "loadavg_1min_end", load1);
	tool_json_i64(&j, "reps", o->reps);
	tool_json_i64(&j, "seconds", o->seconds);
	tool_json_str(&j, "device_state", o->fresh ? "fresh" : "touched");
	tool_json_u64(&j, "image_bytes", SV_IMAGE);
	tool_json_object(&j, "measurements");
	for (size_t i = 0; i < SV_CASES; i++)
		for (int s = 0; s < SV_SERVERS; s++) {
			bench_json_row(&j, &r->thr_row[i][s], &r->thr[i][s]);
			bench_json_row(&j, &r->lat_row[i][s], &r->lat[i][s]);
		}
	tool_json_close(&j);
	tool_json_object(&j, "ratios");
	sv_goals(r, &j);
	tool_json_close(&j);
	tool_json_end(&j);
}

/* ---- udax bench serve ---- */

static void serve_bench_usage(void)
{
	printf("Usage: udax bench serve [--json] [--reps N] [--seconds N] "
	       "[--fresh]\n"
	       "udax serve beside nginx on loopback, both driven by wrk: GET "
	       "of 1 KiB to\n"
	       "64 MiB files, PUT of 64 KiB to 64 MiB bodies; throughput and "
	       "median latency.\n"
	       "Needs nginx (with its dav module) and wrk: "
	       "scripts/install-deps.sh --bench.\n\n"
	       "      --json          one JSON object on stdout\n"
	       "      --reps=N        runs per figure (1-15, default 3)\n"
	       "      --seconds=N     wrk's duration of a run (1-600, "
	       "default 5)\n"
	       "      --fresh         a sparse image: udax pays the first "
	       "touch of each page\n"
	       "      --help          display this help and exit\n");
	tool_exit_help();
}

/* Is prog on PATH? */
static int sv_have(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

int udax_bench_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"reps", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 's'},
		{"fresh", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct sv_opts o = {.reps = 3, .seconds = 5};
	static struct sv_result r;
	double load0, load1;
	uint64_t v;
	int c, ret;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = 1;
			break;
		case 'r':
			if ((c = bench_reps_arg(optarg, BENCH_TABLE_REPS,
						&o.reps)))
				return c;
			break;
		case 's':
			if (tool_parse_u64(optarg, &v) || v < 1 || v > 600)
				return tool_usage_error("invalid duration '%s'",
							optarg);
			o.seconds = (int)v;
			break;
		case 'f':
			o.fresh = 1;
			break;
		case TOOL_OPT_HELP:
			serve_bench_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	if (optind != argc)
		return tool_usage_error("unexpected operand '%s'",
					argv[optind]);
	if (!sv_have("nginx") || !sv_have("wrk")) {
		tool_error("needs nginx and wrk (scripts/install-deps.sh "
			   "--bench installs Debian's nginx-core and wrk)");
		return TOOL_EXIT_FAILURE;
	}
	o.cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (o.cpus < 1)
		o.cpus = 1;
	ret = sv_setup(&o);
	if (ret) {
		tool_error("work folder in /dev/shm: %s", udax_strerror(ret));
		if (o.dir[0] != '/')
			return TOOL_EXIT_FAILURE;
		sv_cleanup(&o);
		return TOOL_EXIT_FAILURE;
	}
	memset(&r, 0, sizeof(r));
	sv_rows(&r);
	load0 = bench_load();
	/* interleaved: drift hits both servers alike */
	for (int rep = 0; rep < o.reps; rep++)
		for (size_t i = 0; i < SV_CASES; i++) {
			if (!sv_cases[i].put)
				sv_nginx_get(&o, &sv_cases[i]);
			for (int k = 0; k < SV_SERVERS; k++)
				sv_run(&o, (int)i, (k + rep + (int)i) % 2, &r);
		}
	load1 = bench_load();
	sv_cleanup(&o);
	if (o.json)
		sv_print_json(&o, &r, load0, load1);
	else
		sv_print(&o, &r, load0, load1);
	return TOOL_EXIT_OK;
}
