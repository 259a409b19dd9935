/* SPDX-License-Identifier: MIT */
/*
 * device.c - opening devices by name and the ops of each backing.
 *
 * Memory devices (memfd, tmpfs files) map the file themselves and use the
 * cache-line primitives of persist_cl.c. Files and devdax are mapped
 * through libpmem2, which reports the store granularity of the mapping:
 * for cache-line and byte granularity its functions are fetched once
 * here; for page granularity (an ordinary file) udax calls msync itself,
 * because libpmem2's page flush returns nothing and a failed msync must
 * not go unseen (dev->error).
 */
#include <errno.h>
#include <fcntl.h>
#ifndef UDAX_NO_PMEM2
#include <libpmem2.h>
#endif
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "device.h"
#include "sys/sys.h"

#define DEV_MIN_SIZE 4096u
#define DEV_HUGE_SIZE (2u << 20)
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21u << 26) /* log2(2 MiB) << MFD_HUGE_SHIFT */
#endif

int dev_parse_size(const char *s, uint64_t *bytes)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (shift && v > (~0ull >> shift)))
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	return 0;
}

/* ---- memory devices: cache-line path ---- */

static void mem_flush(struct dev *dev, const void *addr, size_t len)
{
	(void)dev;
	cl_flush(addr, len);
}

static void mem_drain(struct dev *dev)
{
	(void)dev;
	cl_drain();
}

static void mem_memcpy_nt(struct dev *dev, void *dst, const void *src,
			  size_t len)
{
	(void)dev;
	cl_memcpy_nt(dst, src, len);
}

static void mem_memzero_nt(struct dev *dev, void *dst, size_t len)
{
	(void)dev;
	cl_memzero_nt(dst, len);
}

static void mem_close(struct dev *dev)
{
	if (dev->base)
		sys_munmap(dev->base, dev->size);
	if (dev->fd >= 0)
		close(dev->fd);
}

static const struct dev_ops mem_ops = {
	.flush = mem_flush,
	.drain = mem_drain,
	.memcpy_nt = mem_memcpy_nt,
	.memzero_nt = mem_memzero_nt,
	.close = mem_close,
};

/* ---- libpmem2 devices: files and devdax ---- */

#ifndef UDAX_NO_PMEM2
struct pm_priv {
	struct pmem2_config *cfg;
	struct pmem2_source *src;
	struct pmem2_map *map;
	pmem2_flush_fn flush;
	pmem2_drain_fn drain;
	pmem2_memcpy_fn memcpy;
	pmem2_memset_fn memset;
};

static void pm_flush(struct dev *dev, const void *addr, size_t len)
{
	struct pm_priv *pm = dev->priv;
	pm->flush(addr, len);
}

static void pm_drain(struct dev *dev)
{
	struct pm_priv *pm = dev->priv;
	pm->drain();
}

static void pm_memcpy_nt(struct dev *dev, void *dst, const void *src,
			 size_t len)
{
	struct pm_priv *pm = dev->priv;
	pm->memcpy(dst, src, len,
		   PMEM2_F_MEM_NONTEMPORAL | PMEM2_F_MEM_NODRAIN);
}

static void pm_memzero_nt(struct dev *dev, void *dst, size_t len)
{
	struct pm_priv *pm = dev->priv;
	pm->memset(dst, 0, len, PMEM2_F_MEM_NONTEMPORAL | PMEM2_F_MEM_NODRAIN);
}

static void pm_close(struct dev *dev)
{
	struct pm_priv *pm = dev->priv;

	if (pm->map)
		pmem2_map_delete(&pm->map);
	if (pm->src)
		pmem2_source_delete(&pm->src);
	if (pm->cfg)
		pmem2_config_delete(&pm->cfg);
	free(pm);
	if (dev->fd >= 0)
		close(dev->fd);
}

static const struct dev_ops pm_ops = {
	.flush = pm_flush,
	.drain = pm_drain,
	.memcpy_nt = pm_memcpy_nt,
	.memzero_nt = pm_memzero_nt,
	.close = pm_close,
};

#endif /* UDAX_NO_PMEM2 */

/* ---- page-granular files: msync ---- */

static void page_flush(struct dev *dev, const void *addr, size_t len)
{
	uintptr_t start = (uintptr_t)addr & ~(uintptr_t)(DEV_MIN_SIZE - 1);

	if (!len)
		return;
	if (sys_msync((void *)start, (uintptr_t)addr + len - start, MS_SYNC)) {
		/* what reached the file is unknown now: keep the first error
		 * for the journal, which stops committing (dev_error) */
		int expected = 0;
		atomic_compare_exchange_strong(&dev->error, &expected, -errno);
	}
}

/* msync returns once the pages are written: nothing is left to wait for. */
static void page_drain(struct dev *dev)
{
	(void)dev;
}

void dev_memcpy_flush(struct dev *dev, void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
	dev->ops->flush(dev, dst, len);
}

void dev_memzero_flush(struct dev *dev, void *dst, size_t len)
{
	memset(dst, 0, len);
	dev->ops->flush(dev, dst, len);
}

static const struct dev_ops page_ops = {
	.flush = page_flush,
	.drain = page_drain,
	.memcpy_nt = dev_memcpy_flush,
	.memzero_nt = dev_memzero_flush,
#ifndef UDAX_NO_PMEM2
	.close = pm_close,
#else
	.close = mem_close,
#endif
};

#ifndef UDAX_NO_PMEM2
/* A libpmem2 call that the system-call table can make fail (sys.h,
 * SYS_PMEM2), with a negative errno as libpmem2 returns its errors. */
#define PM_CALL(call)                                                          \
	({                                                                     \
		int pm_err_ = sys_inject(SYS_PMEM2);                           \
		pm_err_ ? -pm_err_ : (call);                                   \
	})

/* Map `dev->fd` through libpmem2 and take its persistence functions. */
static int pm_map(struct dev *dev, int read_only)
{
	struct pm_priv *pm;
	int ret;

	pm = sys_calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	ret = PM_CALL(pmem2_config_new(&pm->cfg));
	if (ret)
		goto free_pm;
	ret = PM_CALL(pmem2_source_from_fd(&pm->src, dev->fd));
	if (ret)
		goto delete_cfg;
	ret = PM_CALL(pmem2_config_set_required_store_granularity(
		pm->cfg, PMEM2_GRANULARITY_PAGE));
	if (ret)
		goto delete_src;
	if (read_only)
		pmem2_config_set_protection(pm->cfg, PMEM2_PROT_READ);
	ret = PM_CALL(pmem2_map_new(&pm->map, pm->cfg, pm->src));
	if (ret)
		goto delete_src;
	dev->base = pmem2_map_get_address(pm->map);
	dev->size = pmem2_map_get_size(pm->map) & ~(uint64_t)4095;
	/* a devdax device maps only in units of its alignment (the kernel
	 * refuses a mapping or a fault that is not aligned to it) */
	size_t align = 0;
	if (pmem2_source_alignment(pm->src, &align) || align < DEV_MIN_SIZE ||
	    (align & (align - 1)))
		align = DEV_MIN_SIZE;
	dev->map_unit = align;
	switch (pmem2_map_get_store_granularity(pm->map)) {
	case PMEM2_GRANULARITY_BYTE:
		dev->gran = DEV_GRAN_BYTE;
		dev->kind = DEV_DAX;
		break;
	case PMEM2_GRANULARITY_CACHE_LINE:
		dev->gran = DEV_GRAN_CACHELINE;
		dev->kind = DEV_DAX;
		break;
	default:
		dev->gran = DEV_GRAN_PAGE;
		dev->kind = DEV_FILE;
		break;
	}
	pm->flush = pmem2_get_flush_fn(pm->map);
	pm->drain = pmem2_get_drain_fn(pm->map);
	pm->memcpy = pmem2_get_memcpy_fn(pm->map);
	pm->memset = pmem2_get_memset_fn(pm->map);
	dev->priv = pm;
	dev->ops = dev->gran == DEV_GRAN_PAGE ? &page_ops : &pm_ops;
	return 0;

delete_src:
	pmem2_source_delete(&pm->src);
delete_cfg:
	pmem2_config_delete(&pm->cfg);
free_pm:
	free(pm);
	/* libpmem2 returns negative errno values or its own codes */
	return ret < 0 && ret > -4096 ? ret : -EIO;
}
#else  /* UDAX_NO_PMEM2 */

/*
 * Without libpmem2 (the static build: Debian's static libpmem2 needs
 * libndctl and libdaxctl, which it ships only as shared libraries), files
 * and devdax are mapped here and flushed with the cache-line primitives
 * of persist_cl.c, as memory devices are. A file whose mapping takes
 * MAP_SYNC is on a DAX mount (cache-line granularity); any other file is
 * page-granular (msync). Byte granularity (eADR) is never assumed: it
 * takes libndctl to know.
 */

/* A number from the sysfs directory of a character device. 0 or -errno. */
static int sysfs_u64(const struct stat *st, const char *leaf, uint64_t *v)
{
	char path[96], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/%s",
		 major(st->st_rdev), minor(st->st_rdev), leaf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	*v = strtoull(buf, NULL, 0);
	return 0;
}

static int pm_map(struct dev *dev, int read_only)
{
	int prot = PROT_READ | (read_only ? 0 : PROT_WRITE);
	uint64_t align = DEV_MIN_SIZE, size;
	struct stat st;

	if (sys_fstat(dev->fd, &st))
		return -errno;
	dev->ops = &mem_ops;
	dev->gran = DEV_GRAN_CACHELINE;
	dev->kind = DEV_DAX;
	if (S_ISCHR(st.st_mode)) {
		/* devdax: its size and alignment are in sysfs */
		if (sysfs_u64(&st, "size", &size) || size < DEV_MIN_SIZE)
			return -ENODEV;
		if (sysfs_u64(&st, "device/align", &align) &&
		    sysfs_u64(&st, "align", &align))
			align = DEV_HUGE_SIZE;
		if (align < DEV_MIN_SIZE || (align & (align - 1)))
			align = DEV_MIN_SIZE;
		dev->size = size & ~(align - 1);
		dev->base =
			sys_mmap(NULL, dev->size, prot, MAP_SHARED, dev->fd, 0);
	} else {
		dev->size =
			(uint64_t)st.st_size & ~(uint64_t)(DEV_MIN_SIZE - 1);
		dev->base =
			sys_mmap(NULL, dev->size, prot,
				 MAP_SHARED_VALIDATE | MAP_SYNC, dev->fd, 0);
		if (dev->base == MAP_FAILED) {
			/* not a DAX mount: msync */
			dev->ops = &page_ops;
			dev->gran = DEV_GRAN_PAGE;
			dev->kind = DEV_FILE;
			dev->base = sys_mmap(NULL, dev->size, prot, MAP_SHARED,
					     dev->fd, 0);
		}
	}
	if (dev->base == MAP_FAILED) {
		dev->base = NULL;
		return -errno;
	}
	dev->map_unit = align;
	return 0;
}
#endif /* UDAX_NO_PMEM2 */

static int mem_map(struct dev *dev, int read_only)
{
	int prot = PROT_READ | (read_only ? 0 : PROT_WRITE);

	dev->base = sys_mmap(NULL, dev->size, prot, MAP_SHARED, dev->fd, 0);
	if (dev->base == MAP_FAILED) {
		dev->base = NULL;
		return -errno;
	}
	dev->kind = DEV_MEMORY;
	dev->gran = DEV_GRAN_CACHELINE;
	/* hugetlbfs has no splice_read: a memory file on huge pages copies */
	dev->splice = !dev->map_unit || dev->map_unit == DEV_MIN_SIZE;
	dev->ops = &mem_ops;
	if (!dev->map_unit)
		dev->map_unit = DEV_MIN_SIZE;
	return 0;
}

/* "memfd:NAME:SIZE", or with huge "memfd-huge:NAME:SIZE": a memory file
 * of 2 MiB huge pages (MFD_HUGETLB), which maps only in 2 MiB units and
 * needs pages reserved in vm.nr_hugepages. */
static int dev_open_memfd(struct dev *dev, const char *spec, int huge)
{
	char name[64] = "udax";
	const char *colon = strchr(spec, ':');
	uint64_t size, unit = huge ? DEV_HUGE_SIZE : DEV_MIN_SIZE;
	int ret;

	if (!colon)
		return -EINVAL;
	if ((size_t)(colon - spec) < sizeof(name) && colon > spec) {
		memcpy(name, spec, (size_t)(colon - spec));
		name[colon - spec] = 0;
	}
	ret = dev_parse_size(colon + 1, &size);
	if (ret)
		return ret;
	if (size < DEV_MIN_SIZE)
		return -EINVAL;
	dev->fd = sys_memfd_create(
		name, MFD_CLOEXEC | (huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0));
	if (dev->fd < 0)
		return -errno;
	dev->size = (size + unit - 1) & ~(unit - 1);
	dev->map_unit = unit;
	if (sys_ftruncate(dev->fd, (off_t)dev->size))
		return -errno;
	ret = mem_map(dev, 0);
	if (ret || !huge)
		return ret;
	/* a hugetlb mapping succeeds without pages and the first touch of
	 * a missing one raises SIGBUS: take them all now, or say why not */
	if (sys_madvise(dev->base, dev->size, MADV_POPULATE_WRITE)) {
		ret = -errno;
		fprintf(stderr,
			"udax: %s: %llu MiB of 2 MiB huge pages are not "
			"available (%s): reserve them in vm.nr_hugepages, "
			"e.g. sysctl vm.nr_hugepages=%llu\n",
			dev->name, (unsigned long long)(dev->size >> 20),
			strerror(-ret),
			(unsigned long long)(dev->size / DEV_HUGE_SIZE));
		return ret == -EFAULT || ret == -EINVAL ? -ENOMEM : ret;
	}
	return 0;
}

/* A new image file on a DAX mount gets its blocks now: a sparse one
 * makes the file system allocate (and zero) at every first store into a
 * page of it, and only a file allocated in large pieces can get 2 MiB
 * -aligned extents, which huge (PMD) mappings need. Returns 0, or a
 * negative errno (-ENOSPC: the mount is too small). */
static int dax_file_allocate(struct dev *dev)
{
	if (!sys_fallocate(dev->fd, 0, 0, (off_t)dev->size))
		return 0;
	if (errno == EOPNOTSUPP)
		return 0; /* sparse it stays */
	int ret = -errno;
	dev->ops->close(dev);
	dev->priv = NULL;
	dev->fd = -1;
	return ret;
}

const char *dev_flush_name(const struct dev *dev)
{
	if (dev->gran == DEV_GRAN_PAGE)
		return "msync";
	if (dev->gran == DEV_GRAN_BYTE)
		return "none (eADR)";
	return cl_insn_name();
}

int dev_open(struct dev **devp, const char *name, uint64_t create_size,
	     int read_only)
{
	struct dev *dev;
	struct stat st;
	struct statfs sfs;
	int ret;

	*devp = NULL;
	if (!name || !*name)
		return -EINVAL;
	dev = sys_calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->fd = -1;
	snprintf(dev->name, sizeof(dev->name), "%s", name);

	if (!strncmp(name, "memfd:", 6) || !strncmp(name, "memfd-huge:", 11)) {
		int huge = name[5] == '-';
		ret = dev_open_memfd(dev, name + (huge ? 11 : 6), huge);
		if (ret)
			goto close_dev;
		*devp = dev;
		return 0;
	}

	dev->fd = sys_open(name,
			   (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC |
				   (create_size ? O_CREAT : 0),
			   0644);
	if (dev->fd < 0) {
		ret = -errno;
		goto close_dev;
	}
	if (sys_fstat(dev->fd, &st)) {
		ret = -errno;
		goto close_dev;
	}
	if (S_ISREG(st.st_mode)) {
		int grown = 0;
		if (create_size && (uint64_t)st.st_size < create_size) {
			if (sys_ftruncate(dev->fd, (off_t)create_size)) {
				ret = -errno;
				goto close_dev;
			}
			st.st_size = (off_t)create_size;
			grown = 1;
		}
		if ((uint64_t)st.st_size < DEV_MIN_SIZE) {
			ret = -EINVAL;
			goto close_dev;
		}
		if (sys_fstatfs(dev->fd, &sfs)) {
			ret = -errno;
			goto close_dev;
		}
		if (sfs.f_type == TMPFS_MAGIC) {
			dev->size = (uint64_t)st.st_size & ~(uint64_t)4095;
			ret = mem_map(dev, read_only);
		} else {
			ret = pm_map(dev, read_only);
			dev->splice = 1; /* a file: it has a splice_read */
			if (!ret && grown && dev->kind == DEV_DAX)
				ret = dax_file_allocate(dev);
		}
	} else if (S_ISCHR(st.st_mode)) {
		ret = pm_map(dev, read_only);
		dev->no_private = 1;
	} else {
		ret = -ENODEV;
	}
	if (ret)
		goto close_dev;
	*devp = dev;
	return 0;

close_dev:
	if (dev->fd >= 0)
		close(dev->fd);
	free(dev);
	return ret;
}

int dev_memory_from_image(struct dev **devp, const uint8_t *image,
			  uint64_t size)
{
	struct dev *dev;
	int ret;

	*devp = NULL;
	dev = sys_calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->fd = sys_memfd_create("udax-image", MFD_CLOEXEC);
	if (dev->fd < 0) {
		ret = -errno;
		goto free_dev;
	}
	dev->size = size & ~(uint64_t)4095;
	if (sys_ftruncate(dev->fd, (off_t)dev->size)) {
		ret = -errno;
		goto close_fd;
	}
	ret = mem_map(dev, 0);
	if (ret)
		goto close_fd;
	memcpy(dev->base, image, dev->size);
	snprintf(dev->name, sizeof(dev->name), "image");
	*devp = dev;
	return 0;

close_fd:
	close(dev->fd);
free_dev:
	free(dev);
	return ret;
}

/* ---- pages mapped into programs (see device.h) ---- */

/* The mapped bitmap, made at the first call (NULL: no memory). */
static _Atomic uint64_t *mapped_bits(struct dev *dev)
{
	_Atomic uint64_t *bits = atomic_load(&dev->mapped), *none = NULL;

	if (bits)
		return bits;
	bits = sys_calloc((dev->size / 4096 + 63) / 64, sizeof(*bits));
	if (bits &&
	    !atomic_compare_exchange_strong(&dev->mapped, &none, bits)) {
		free((void *)bits); /* another thread made it first */
		bits = none;
	}
	return bits;
}

int dev_note_mapped(struct dev *dev, uint64_t off, uint64_t len)
{
	_Atomic uint64_t *bits = mapped_bits(dev);

	if (!bits)
		return -ENOMEM;
	for (uint64_t p = off / 4096; p < (off + len + 4095) / 4096; p++)
		atomic_fetch_or(&bits[p / 64], 1ull << (p % 64));
	return 0;
}

int dev_was_mapped(struct dev *dev, uint64_t off)
{
	_Atomic uint64_t *bits = atomic_load(&dev->mapped);
	uint64_t p = off / 4096;

	return bits && (atomic_load(&bits[p / 64]) >> (p % 64)) & 1;
}

/* Punch [off, off+len) out of the backing; clear its mapped bits. */
static int detach_range(struct dev *dev, uint64_t off, uint64_t len)
{
	_Atomic uint64_t *bits = atomic_load(&dev->mapped);

	/* the crash device keeps its own image of every line: its pages
	 * are never pinned by the kernel in the tests that use it */
	if (dev->kind != DEV_CRASH) {
		if (dev->no_detach)
			return -EOPNOTSUPP;
		/* a huge page goes whole or not at all: the rest of a unit
		 * that is still in use keeps the memory a pin may reach */
		if ((off | len) & (dev->map_unit - 1))
			return -EOPNOTSUPP;
		if (sys_fallocate(dev->fd,
				  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  (off_t)off, (off_t)len)) {
			int err = -errno;
			if (err == -EOPNOTSUPP || err == -ENODEV)
				dev->no_detach = 1; /* devdax: never will */
			return err;
		}
	}
	for (uint64_t p = off / 4096; p < (off + len) / 4096; p++)
		atomic_fetch_and(&bits[p / 64], ~(1ull << (p % 64)));
	return 0;
}

void dev_prefault(struct dev *dev, void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr & ~(uintptr_t)4095;
	uintptr_t e = ((uintptr_t)addr + len + 4095) & ~(uintptr_t)4095;

	if (!len ||
	    atomic_load_explicit(&dev->no_prefault, memory_order_relaxed))
		return;
	if (sys_madvise((void *)a, e - a, MADV_POPULATE_WRITE) &&
	    errno == EINVAL)
		atomic_store(&dev->no_prefault, 1); /* before Linux 5.14 */
}

int dev_detach(struct dev *dev, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;

	if (!atomic_load(&dev->mapped))
		return 0;
	/* one punch per run of mapped pages */
	while (off < end) {
		if (!dev_was_mapped(dev, off)) {
			off += 4096;
			continue;
		}
		uint64_t run = off;
		while (run < end && dev_was_mapped(dev, run))
			run += 4096;
		int ret = detach_range(dev, off, run - off);
		if (ret)
			return ret;
		off = run;
	}
	return 0;
}

void dev_close(struct dev **devp)
{
	struct dev *dev = *devp;

	if (!dev)
		return;
	free((void *)atomic_load(&dev->mapped));
	/* an opener's lock (udax_open, fsck) goes now, even if the mapping
	 * cannot be removed (it holds the file, and so the flock, open) */
	if (dev->fd >= 0)
		flock(dev->fd, LOCK_UN);
	dev->ops->close(dev);
	free(dev);
	*devp = NULL;
}
