// SPDX-License-Identifier: MIT
/*
 * progress.c - the progress bar of long commands (mkfs of a large
 * device, fsck, cp), on standard error, as e2fsck -C and rsync draw one.
 *
 * Drawn only when standard error is a terminal and the command was not
 * asked for --quiet or --json: never into a file or a pipe, where it
 * would be noise in a log. One line, redrawn in place (carriage return,
 * the line, ESC [K) at most ten times a second, and erased when the work
 * ends and before any message: tool_error() erases it, and output that
 * the library prints goes through tool_progress_stream(), which does too.
 * A command that forgets to end it is covered by main, which ends it
 * after every command.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"

/* Redraw at most this often (ns). */
#define PROGRESS_INTERVAL_NS 100000000ll

/* The one bar of the process: a command is one operation. */
static struct {
	int on;	      /* drawing */
	int drawn;    /* a bar is on the line now */
	int64_t last; /* when it was last drawn, ns; 0: never */
} progress;

/* Monotonic nanoseconds. */
static int64_t progress_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Columns of the terminal, 80 if it does not say. */
static int progress_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

/* Decide once per command whether a bar is drawn at all. */
void tool_progress_start(int wanted)
{
	progress.on = wanted && isatty(STDERR_FILENO);
	progress.drawn = 0;
	progress.last = 0;
}

/* For work done only for the bar (cp's walk for the totals). */
int tool_progress_on(void)
{
	return progress.on;
}

/* The throttle: at most ten frames a second. */
int tool_progress_due(void)
{
	if (!progress.on)
		return 0;
	return !progress.last ||
	       progress_now() - progress.last >= PROGRESS_INTERVAL_NS;
}

/* "LABEL [######....]  45% DETAIL", cut to the terminal's width. */
void tool_progress_draw(const char *label, uint64_t done, uint64_t total,
			const char *detail)
{
	char line[512], bar[64];
	int width = progress_width() - 1, pct, fill, bar_len, len;

	if (!progress.on)
		return;
	if (width > (int)sizeof(line) - 1)
		width = (int)sizeof(line) - 1;
	if (done > total)
		done = total;
	pct = total ? (int)(done * 100 / total) : 0;
	/* the bar gets what label, percentage and detail leave, 10..40 */
	bar_len = width - (int)strlen(label) - 8 -
		  (detail ? (int)strlen(detail) + 1 : 0);
	bar_len = bar_len < 10 ? 10 : bar_len > 40 ? 40 : bar_len;
	fill = total ? (int)(done * (uint64_t)bar_len / total) : 0;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(bar_len - fill));
	bar[bar_len] = '\0';
	len = snprintf(line, sizeof(line), "\r%s [%s] %3d%%%s%s", label, bar,
		       pct, detail ? " " : "", detail ? detail : "");
	if (len > width + 1)
		len = width + 1; /* the \r does not take a column */
	fflush(stdout);
	if (write(STDERR_FILENO, line, (size_t)len) < 0 ||
	    write(STDERR_FILENO, "\033[K", 3) < 0)
		progress.on = 0;
	progress.drawn = 1;
	progress.last = progress_now();
}

/* The bar of a counter with nothing more to say (fsck's passes). */
void tool_progress_update(const char *label, uint64_t done, uint64_t total)
{
	char detail[48];

	if (!tool_progress_due())
		return;
	snprintf(detail, sizeof(detail), "%llu/%llu", (unsigned long long)done,
		 (unsigned long long)total);
	tool_progress_draw(label, done, total, total ? detail : NULL);
}

/* Make the line free for other output; the next frame draws it again. */
void tool_progress_clear(void)
{
	if (!progress.drawn)
		return;
	if (write(STDERR_FILENO, "\r\033[K", 4) < 0)
		progress.on = 0;
	progress.drawn = 0;
}

/* Erase for good at the end of the work. */
void tool_progress_end(void)
{
	tool_progress_clear();
	progress.on = 0;
}

/* fopencookie write: erase the bar, then pass the bytes on. */
static ssize_t progress_stream_write(void *cookie, const char *buf, size_t size)
{
	FILE *under = cookie;

	tool_progress_clear();
	if (fwrite(buf, 1, size, under) != size || fflush(under))
		return -1;
	return (ssize_t)size;
}

/* For a report printed by the library, line by line, while a bar runs. */
FILE *tool_progress_stream(FILE *under)
{
	static const cookie_io_functions_t io = {
		.write = progress_stream_write,
	};
	FILE *f;

	if (!progress.on)
		return under;
	f = fopencookie(under, "w", io);
	if (!f)
		return under;
	setvbuf(f, NULL, _IOLBF, 0);
	return f;
}
