// SPDX-License-Identifier: MIT
/*
 * text.c - parsing the numbers the commands take and formatting what they
 * print (modes, sizes, times), plus the path and buffer helpers they share.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools.h"

/* ---- parsing ---- */

/* Numbers on the command line: decimal only, no sign, no junk. */
int tool_parse_u64(const char *str, uint64_t *value)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*str))
		return -EINVAL;
	errno = 0;
	v = strtoull(str, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	*value = v;
	return 0;
}

/* Sizes on the command line, as mke2fs and truncate(1) take them. */
int tool_parse_size(const char *str, uint64_t *bytes)
{
	static const char units[] = "KMGTPE";
	unsigned long long v;
	const char *unit;
	char *end;
	int shift = 0;

	if (!isdigit((unsigned char)*str))
		return -EINVAL;
	errno = 0;
	v = strtoull(str, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0') {
		unit = strchr(units, toupper((unsigned char)*end));
		if (!unit)
			return -EINVAL;
		shift = 10 * (int)(unit - units + 1);
		end++;
		if (strcmp(end, "iB") != 0 && strcmp(end, "B") != 0 &&
		    *end != '\0')
			return -EINVAL;
		if (v > (UINT64_MAX >> shift))
			return -ERANGE;
	}
	*bytes = (uint64_t)v << shift;
	return 0;
}

/* ---- formatting ---- */

/* The file types: ls -l's letter, stat(1)'s name, --json's key. */
static const struct tool_type {
	mode_t fmt;
	char letter;
	const char *name, *key;
} tool_types[] = {
	{S_IFREG, '-', "regular file", "regular"},
	{S_IFDIR, 'd', "directory", "directory"},
	{S_IFLNK, 'l', "symbolic link", "symlink"},
	{S_IFCHR, 'c', "character special file", "char"},
	{S_IFBLK, 'b', "block special file", "block"},
	{S_IFIFO, 'p', "fifo", "fifo"},
	{S_IFSOCK, 's', "socket", "socket"},
};

/* The row of a mode's file type, or a row for an unknown type. */
static const struct tool_type *tool_type_of(mode_t mode)
{
	static const struct tool_type unknown = {0, '?', "weird file",
						 "unknown"};
	size_t i;

	for (i = 0; i < sizeof(tool_types) / sizeof(tool_types[0]); i++)
		if ((mode & S_IFMT) == tool_types[i].fmt)
			return &tool_types[i];
	return &unknown;
}

/* ls -l's first column. */
void tool_mode_string(mode_t mode, char *buf)
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	buf[0] = tool_type_of(mode)->letter;
	for (i = 0; i < 9; i++)
		buf[i + 1] = (mode & (0400 >> i)) ? rwx[i] : '-';
	if (mode & S_ISUID)
		buf[3] = (mode & S_IXUSR) ? 's' : 'S';
	if (mode & S_ISGID)
		buf[6] = (mode & S_IXGRP) ? 's' : 'S';
	if (mode & S_ISVTX)
		buf[9] = (mode & S_IXOTH) ? 't' : 'T';
	buf[10] = '\0';
}

/* stat's file type line. */
const char *tool_type_name(mode_t mode)
{
	return tool_type_of(mode)->name;
}

/* The file type as --json names it. */
const char *tool_type_key(mode_t mode)
{
	return tool_type_of(mode)->key;
}

/* Round a non-negative double up, without needing libm. */
static double tool_ceil(double v)
{
	double i = (double)(uint64_t)v;

	return i < v ? i + 1.0 : i;
}

/* df -h's sizes: powers of 1024, rounded up, one decimal below 10. */
void tool_human_size(uint64_t bytes, char *buf)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes, tenths;
	int unit = -1;

	while (v >= 1024.0 && unit < 5) {
		v /= 1024.0;
		unit++;
	}
	if (unit < 0) {
		snprintf(buf, 16, "%" PRIu64, bytes);
		return;
	}
	if (v < 10.0) {
		tenths = tool_ceil(v * 10.0);
		if (tenths < 100.0) {
			snprintf(buf, 16, "%.1f%c", tenths / 10.0, units[unit]);
			return;
		}
	}
	v = tool_ceil(v);
	if (v >= 1024.0 && unit < 5) {
		snprintf(buf, 16, "1.0%c", units[unit + 1]);
		return;
	}
	snprintf(buf, 16, "%.0f%c", v, units[unit]);
}

/* ls -l's time column (long-iso, so it sorts and does not depend on the
 * age of the file). */
void tool_time_short(const struct timespec *ts, char *buf)
{
	struct tm tm;
	time_t t = ts->tv_sec;

	if (!localtime_r(&t, &tm) || !strftime(buf, 32, "%Y-%m-%d %H:%M", &tm))
		snprintf(buf, 32, "%lld", (long long)t);
}

/* stat's time lines, with nanoseconds and the zone. */
void tool_time_full(const struct timespec *ts, char *buf)
{
	char date[32], zone[8];
	struct tm tm;
	time_t t = ts->tv_sec;

	if (!localtime_r(&t, &tm) ||
	    !strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm) ||
	    !strftime(zone, sizeof(zone), "%z", &tm)) {
		snprintf(buf, 64, "%lld.%09ld", (long long)t, ts->tv_nsec);
		return;
	}
	snprintf(buf, 64, "%s.%09ld %s", date, ts->tv_nsec, zone);
}

/* The name cp and mv give a source inside a target directory. */
const char *tool_path_base(const char *path, size_t *len)
{
	size_t end = strlen(path), start;

	while (end > 0 && path[end - 1] == '/')
		end--;
	if (end == 0) {
		*len = 1;
		return path[0] == '/' ? "/" : ".";
	}
	start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	*len = end - start;
	return path + start;
}

/* Paths of entries below a directory, for the recursive commands. */
char *tool_path_join(const char *dir, const char *name, size_t name_len)
{
	size_t dir_len = strlen(dir);
	int slash = dir_len > 0 && dir[dir_len - 1] != '/';
	char *path = malloc(dir_len + slash + name_len + 1);

	if (!path)
		return NULL;
	memcpy(path, dir, dir_len);
	if (slash)
		path[dir_len] = '/';
	memcpy(path + dir_len + slash, name, name_len);
	path[dir_len + slash + name_len] = '\0';
	return path;
}

/* cp leaves zero-filled chunks as holes; this finds them. */
int tool_is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* write(2) may be short on pipes and interrupted; cat and cp need all. */
int tool_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
