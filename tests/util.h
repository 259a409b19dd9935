/* SPDX-License-Identifier: MIT */
/* util.h - helpers several test programs share. */
#ifndef UDAX_TEST_UTIL_H
#define UDAX_TEST_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <udax.h>

/* Give a directory its name-tree leaf (kept while it exists, even when
 * empty) so that free-space baselines taken now are not off by it. */
static inline int warm_dir(struct udax_fs *wfs, const char *dir)
{
	char p[256];
	struct udax_file *f;
	int ret;

	snprintf(p, sizeof(p), "%s/.warm", strcmp(dir, "/") ? dir : "");
	ret = udax_file_open(wfs, p, O_CREAT | O_WRONLY, 0600, &f);
	if (!ret)
		ret = udax_file_close(&f);
	return ret ? ret : udax_unlink(wfs, p);
}

#endif /* UDAX_TEST_UTIL_H */
