/* SPDX-License-Identifier: MIT */
/*
 * iter.c - the extent-map iterator every data path loops over.
 */
#include <errno.h>
#include <string.h>

#include "iomap.h"

int iomap_iter(struct iomap_iter *it, const struct iomap_ops *ops)
{
	int ret;

	if (it->started) {
		int64_t p = it->processed;
		uint64_t done = p > 0 ? (uint64_t)p : 0;

		if (done > it->iomap.length)
			done = it->iomap.length;
		ret = ops->end(it->ip, it->pos, it->iomap.length, done,
			       it->flags, &it->iomap);
		if (p < 0)
			return (int)p;
		if (ret < 0)
			return ret;
		it->pos += done;
		it->len -= done;
		it->done += done;
		if (!done)
			return 0; /* no progress: stop rather than spin */
	}
	if (!it->len)
		return 0;
	it->started = 1;
	it->processed = 0;
	memset(&it->iomap, 0, sizeof(it->iomap));
	ret = ops->begin(it->ip, it->pos, it->len, it->flags, &it->iomap);
	if (ret < 0) {
		it->started = 0;
		return ret;
	}
	return 1;
}
