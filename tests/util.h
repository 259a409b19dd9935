/* SPDX-License-Identifier: MIT */
/* util.h - helpers several test programs share. */
#ifndef UDAX_TEST_UTIL_H
#define UDAX_TEST_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
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

/* Can this process map udax files (userfaultfd permitted)? Tries once on
 * a memory file system of its own. */
static inline int mapping_permitted(void)
{
	struct udax_fs *pfs;
	struct udax_file *f;
	void *p;
	int works = 0;

	if (udax_open_memory(&pfs, 16 << 20))
		return 0;
	if (!udax_file_open(pfs, "/probe", O_CREAT | O_RDWR, 0644, &f)) {
		udax_ftruncate(f, 4096);
		works = udax_mmap(f, 0, 4096, PROT_READ, UDAX_MAP_SHARED, &p) ==
			0;
		if (works)
			udax_munmap(p, 4096);
		udax_file_close(&f);
	}
	udax_close(&pfs);
	return works;
}

#endif /* UDAX_TEST_UTIL_H */
