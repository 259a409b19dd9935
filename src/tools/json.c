// SPDX-License-Identifier: MIT
/*
 * json.c - the JSON that --json prints: a small streaming writer.
 *
 * Output is one document, indented two spaces a level, members in the
 * order they are written. Strings are UTF-8. Escaped: '"', '\\', every
 * control character (below 0x20, and DEL) as \b \f \n \r \t or \u00XX.
 *
 * Names on a udax image or a host are bytes, not text, and need not be
 * UTF-8. A JSON string cannot hold such bytes, so tool_json_bytes() writes
 * the string with each byte that is not part of a valid UTF-8 sequence
 * replaced by U+FFFD, and then, only for such a string, a second member
 * KEY_hex with every byte of the name in hex: a script that must have the
 * exact name takes KEY_hex when it is there and KEY otherwise. (Lone
 * surrogates, Python's surrogateescape, would keep one member but are not
 * valid Unicode, and strict parsers reject them.)
 *
 * A library was not worth it: cJSON would save the few lines of the
 * writer but not the byte-string rule, and it builds a tree in memory
 * where ls -R of a large image wants a stream.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"

/* Start a line for the next member or element of the current level and
 * write its key (NULL inside an array). */
static void json_member(struct tool_json *j, const char *key)
{
	if (j->count[j->depth]++)
		fputc(',', j->out);
	fprintf(j->out, "\n%*s", 2 * j->depth, "");
	if (key) {
		tool_json_write_string(j->out, key, strlen(key));
		fputs(": ", j->out);
	}
}

/* Open an object or array as the next member. Nesting deeper than
 * TOOL_JSON_DEPTH is a bug of the caller. */
static void json_open(struct tool_json *j, const char *key, char open,
		      char close)
{
	json_member(j, key);
	fputc(open, j->out);
	if (j->depth + 1 >= TOOL_JSON_DEPTH)
		abort();
	j->depth++;
	j->count[j->depth] = 0;
	j->closer[j->depth] = close;
}

/* Close the innermost level: its closer on a line of its own, unless it
 * is empty ({} or []). */
static void json_close(struct tool_json *j)
{
	if (j->count[j->depth])
		fprintf(j->out, "\n%*s", 2 * (j->depth - 1), "");
	fputc(j->closer[j->depth], j->out);
	j->depth--;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 if the
 * byte at p does not start one: no overlong forms, no surrogates, nothing
 * above U+10FFFF (RFC 3629). */
static size_t json_utf8_len(const unsigned char *p, size_t n)
{
	uint32_t c;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return len;
}

/* Whether bytes are valid UTF-8 throughout. */
static int json_is_utf8(const unsigned char *p, size_t n)
{
	size_t k;

	while (n > 0) {
		k = json_utf8_len(p, n);
		if (!k)
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

/* The escape of a control character: 'n' for \n, or 0 for \u00XX. */
static char json_short_escape(unsigned char c)
{
	switch (c) {
	case '\b':
		return 'b';
	case '\f':
		return 'f';
	case '\n':
		return 'n';
	case '\r':
		return 'r';
	case '\t':
		return 't';
	}
	return 0;
}

/* A quoted JSON string of len bytes (see the top of the file). */
void tool_json_write_string(FILE *out, const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t k;

	fputc('"', out);
	while (len > 0) {
		k = json_utf8_len(p, len);
		if (k == 0) {
			fputs("\\ufffd", out);
			k = 1;
		} else if (*p == '"' || *p == '\\') {
			fputc('\\', out);
			fputc(*p, out);
		} else if (*p < 0x20 || *p == 0x7f) {
			if (json_short_escape(*p))
				fprintf(out, "\\%c", json_short_escape(*p));
			else
				fprintf(out, "\\u%04x", *p);
		} else {
			fwrite(p, 1, k, out);
		}
		p += k;
		len -= k;
	}
	fputc('"', out);
}

/* Start the document: its top level is an object (level 1). */
void tool_json_begin(struct tool_json *j, FILE *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
	fputc('{', out);
	j->depth = 1;
	j->closer[1] = '}';
}

/* Close the open levels and end the line. Returns 0, or -EIO if writing
 * failed (a full disk, a closed pipe). */
int tool_json_end(struct tool_json *j)
{
	while (j->depth > 0)
		json_close(j);
	fputc('\n', j->out);
	return fflush(j->out) || ferror(j->out) ? -EIO : 0;
}

/* A nested object: the status of a file, a time. */
void tool_json_object(struct tool_json *j, const char *key)
{
	json_open(j, key, '{', '}');
}

/* A list: directory entries, images, passes, problems. */
void tool_json_array(struct tool_json *j, const char *key)
{
	json_open(j, key, '[', ']');
}

/* Close the innermost object or array (not the document: see
 * tool_json_end). */
void tool_json_close(struct tool_json *j)
{
	if (j->depth > 1)
		json_close(j);
}

/* Text the tool made (a type, a state, a message), always UTF-8. */
void tool_json_str(struct tool_json *j, const char *key, const char *s)
{
	json_member(j, key);
	tool_json_write_string(j->out, s, strlen(s));
}

/* A name that may not be UTF-8: KEY, and KEY_hex when it is not (so
 * only as a member of an object, never as an array element). */
void tool_json_bytes(struct tool_json *j, const char *key, const void *s,
		     size_t len)
{
	const unsigned char *p = s;
	char hex_key[64];
	size_t i;

	json_member(j, key);
	tool_json_write_string(j->out, s, len);
	if (json_is_utf8(p, len))
		return;
	snprintf(hex_key, sizeof(hex_key), "%s_hex", key);
	json_member(j, hex_key);
	fputc('"', j->out);
	for (i = 0; i < len; i++)
		fprintf(j->out, "%02x", p[i]);
	fputc('"', j->out);
}

/* Counts and sizes; exact in parsers that read integers as integers. */
void tool_json_u64(struct tool_json *j, const char *key, uint64_t v)
{
	json_member(j, key);
	fprintf(j->out, "%" PRIu64, v);
}

/* Measurements (benchmarks): %.6g, or null if not finite. */
void tool_json_double(struct tool_json *j, const char *key, double v)
{
	json_member(j, key);
	if (v - v == 0)
		fprintf(j->out, "%.6g", v);
	else
		fputs("null", j->out);
}

/* Times (seconds may be negative) and pids. */
void tool_json_i64(struct tool_json *j, const char *key, int64_t v)
{
	json_member(j, key);
	fprintf(j->out, "%" PRId64, v);
}

/* Flags: fixed, modified. */
void tool_json_bool(struct tool_json *j, const char *key, int v)
{
	json_member(j, key);
	fputs(v ? "true" : "false", j->out);
}

/* A member that has no value here, kept so that its key is always there
 * (no writer, no damage, no error). */
void tool_json_null(struct tool_json *j, const char *key)
{
	json_member(j, key);
	fputs("null", j->out);
}
