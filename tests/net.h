/* SPDX-License-Identifier: MIT */
/* net.h - sockets, clocks and patterns for the tests of udax_sendfile and
 * udax_recvfile. */
#ifndef UDAX_TEST_NET_H
#define UDAX_TEST_NET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* A connected loopback TCP pair: *snd sends, *rcv is the peer. buf > 0
 * sets both buffers that small, so that a send blocks early. Returns 0
 * or -1. */
static inline int tcp_pair(int *snd, int *rcv, int buf)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*snd = *rcv = -1;
	if (l < 0)
		return -1;
	if (buf)
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &al))
		goto close_listener;
	*snd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*snd < 0)
		goto close_listener;
	if (buf)
		setsockopt(*snd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (connect(*snd, (struct sockaddr *)&a, sizeof(a)))
		goto close_sender;
	*rcv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (*rcv < 0)
		goto close_sender;
	close(l);
	return 0;

close_sender:
	close(*snd);
	*snd = -1;
close_listener:
	close(l);
	return -1;
}

/* xorshift: the file's bytes, from the seed. */
static inline void fill_random(uint8_t *p, size_t n, unsigned s)
{
	uint64_t x = s * 0x9E3779B97F4A7C15ull + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

#endif /* UDAX_TEST_NET_H */
