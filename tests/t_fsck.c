/* SPDX-License-Identifier: MIT */
/*
 * t_fsck.c - the file system checker, by the damage it must repair.
 *
 * Each case builds a small image in /dev/shm from a script (populated
 * through the API, then damaged byte by byte through a map of the file),
 * runs fsck -y (which must return 1, or 4 or 5 = 1 | 4 where the damage
 * cannot be repaired), then fsck -n (which must find nothing: 0), then opens the
 * image with udax_open and checks what the case says must have survived.
 *
 * The golden cases are folders tests/fsck-images/NAME/ holding `script`
 * (the same language), `expect.1` (the output of fsck -y) and `expect.2`
 * (the output of fsck -n afterwards), like e2fsprogs' tests/f_*. Set
 * UDAX_FSCK_UPDATE=1 to rewrite the expect files from the current output.
 *
 * Script language, one command a line ('#' starts a comment). Populate
 * commands run first, with the file system open:
 *   mkdir P | rmdir P | unlink P | link OLD NEW | rename OLD NEW
 *   write P SIZE            a file of SIZE bytes of a pattern
 *   fallocate P OFF LEN     unwritten blocks, size kept
 *   symlink TARGET P | symlink-long LEN P (a target of LEN bytes)
 *   mknod P fifo|sock|chr|blk MAJOR MINOR
 *   xattr P NAME SIZE       an xattr of SIZE bytes of a pattern
 *   clone DST SRC           DST (made if missing) shares all of SRC
 *   hold P                  keep P open until the image is closed
 *   crash                   the image becomes what the device holds now
 *                           (power lost here; later commands are lost)
 * Damage commands then work on the raw image; a number may be written
 * N, 0xN, @P (inode number of P), @root:P (its tree root block),
 * @data:P (the first block of its first extent), @xattr:P (its xattr
 * tree root), @itable:P, @refcount (the refcount tree's root), @free (a
 * free data block), @last, @bbmap, @ibmap, with +N/-N after it:
 *   inode INO FIELD V | inode-nocrc INO FIELD V | zero-inode INO
 *   flip-inode INO BYTE BIT | flip BLK BYTE BIT | zero BLK
 *   garbage BLK SEED | node BLK FIELD V | item BLK I FIELD V
 *   extent BLK I FIELD V | dirent BLK NAME FIELD V
 *   refval BLK I FIELD V    item I's refcount value (len, refs)
 *   xentry BLK I FIELD V    the first xattr entry of item I's bucket
 *   dirent-name BLK NAME NEWNAME | bbit BLK 0|1 | ibit INO 0|1
 *   state FIELD V | sb FIELD V | uninstall | truncate +-BLOCKS
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <udax.h>

#include "api/api.h"
#include "fsck/fsck.h"
#include "test.h"

#define IMG_SIZE (8u << 20)
#define MAX_TOK 8
#define MAX_NAMES 64
#define MAX_HOLD 8

static const uint8_t test_uuid[16] = "udax-fsck-tests";

/* One image under construction. */
struct img {
	char path[128];
	struct udax_fs *fs;
	struct udax_file *held[MAX_HOLD];
	int nheld;
	uint8_t *crash; /* snapshot, or NULL */
	size_t crash_size;
	int damaging; /* populate done */
	uint8_t *map;
	size_t map_size;
	int64_t truncate; /* blocks to add (+) or remove (-), 0 none */
	struct {
		char path[128];
		uint64_t ino;
	} names[MAX_NAMES];
	int nnames;
	char err[256];
};

static int img_fail(struct img *im, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int img_fail(struct img *im, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(im->err, sizeof(im->err), fmt, ap);
	va_end(ap);
	return -1;
}

static uint8_t pattern_byte(const char *path, uint64_t i)
{
	uint32_t h = 7;

	for (const char *p = path; *p; p++)
		h = h * 31 + (uint8_t)*p;
	return (uint8_t)(i * 13 + h);
}

/* ---- populate ---- */

static int pop_write(struct img *im, const char *path, uint64_t size)
{
	struct udax_file *f;
	uint8_t buf[4096];
	int ret;

	ret = udax_file_open(im->fs, path, O_CREAT | O_RDWR | O_TRUNC, 0644,
			     &f);
	if (ret)
		return img_fail(im, "create %s: %d", path, ret);
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern_byte(path, off + i);
		if (udax_pwrite(f, buf, n, (off_t)off) != (ssize_t)n) {
			udax_file_close(&f);
			return img_fail(im, "write %s", path);
		}
		off += n;
	}
	return udax_file_close(&f);
}

static int run_populate(struct img *im, char **tok, int n)
{
	const char *c = tok[0];
	int ret = 0;

	if (!strcmp(c, "mkdir") && n == 2)
		ret = udax_mkdir(im->fs, tok[1], 0755);
	else if (!strcmp(c, "rmdir") && n == 2)
		ret = udax_rmdir(im->fs, tok[1]);
	else if (!strcmp(c, "unlink") && n == 2)
		ret = udax_unlink(im->fs, tok[1]);
	else if (!strcmp(c, "link") && n == 3)
		ret = udax_link(im->fs, tok[1], tok[2]);
	else if (!strcmp(c, "rename") && n == 3)
		ret = udax_rename(im->fs, tok[1], tok[2], 0);
	else if (!strcmp(c, "write") && n == 3)
		return pop_write(im, tok[1], strtoull(tok[2], NULL, 0));
	else if (!strcmp(c, "symlink") && n == 3)
		ret = udax_symlink(im->fs, tok[1], tok[2]);
	else if (!strcmp(c, "symlink-long") && n == 3) {
		char target[PATH_MAX];
		size_t len = strtoull(tok[1], NULL, 0);
		if (len >= sizeof(target))
			return img_fail(im, "symlink-long: too long");
		for (size_t i = 0; i < len; i++)
			target[i] = (char)('a' + i % 26);
		target[len] = 0;
		ret = udax_symlink(im->fs, target, tok[2]);
	} else if (!strcmp(c, "mknod") && n == 5) {
		static const struct {
			const char *name;
			mode_t type;
		} types[] = {{"fifo", S_IFIFO},
			     {"sock", S_IFSOCK},
			     {"chr", S_IFCHR},
			     {"blk", S_IFBLK}};
		mode_t type = 0;
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (!strcmp(tok[2], types[i].name))
				type = types[i].type;
		if (!type)
			return img_fail(im, "mknod: unknown type %s", tok[2]);
		ret = udax_mknod(im->fs, tok[1], type | 0644,
				 makedev(strtoul(tok[3], NULL, 0),
					 strtoul(tok[4], NULL, 0)));
	} else if (!strcmp(c, "xattr") && n == 4) {
		size_t size = strtoull(tok[3], NULL, 0);
		uint8_t *v = malloc(size + 1);
		if (!v)
			return img_fail(im, "xattr: out of memory");
		for (size_t i = 0; i < size; i++)
			v[i] = pattern_byte(tok[2], i);
		ret = udax_lsetxattr(im->fs, tok[1], tok[2], v, size, 0);
		free(v);
	} else if (!strcmp(c, "clone") && n == 3) {
		struct udax_file *d, *f;
		ret = udax_file_open(im->fs, tok[1], O_CREAT | O_RDWR, 0644,
				     &d);
		if (!ret) {
			ret = udax_file_open(im->fs, tok[2], O_RDONLY, 0, &f);
			if (!ret) {
				ret = udax_clone(d, f);
				udax_file_close(&f);
			}
			udax_file_close(&d);
		}
	} else if (!strcmp(c, "fallocate") && n == 4) {
		struct udax_file *f;
		ret = udax_file_open(im->fs, tok[1], O_RDWR, 0, &f);
		if (!ret) {
			ret = udax_fallocate(f, FALLOC_FL_KEEP_SIZE,
					     (off_t)strtoull(tok[2], NULL, 0),
					     (off_t)strtoull(tok[3], NULL, 0));
			udax_file_close(&f);
		}
	} else if (!strcmp(c, "files") && n == 4) {
		/* N files DIR/fNNNN of SIZE bytes: a tree of several levels */
		long cnt = strtol(tok[2], NULL, 0);
		char path[160];
		for (long i = 0; i < cnt; i++) {
			snprintf(path, sizeof(path), "%s/f%04ld", tok[1], i);
			if (pop_write(im, path, strtoull(tok[3], NULL, 0)))
				return -1;
		}
	} else if (!strcmp(c, "fragment") && n == 3) {
		/* every other block of a file: one extent each */
		struct udax_file *f = NULL;
		long cnt = strtol(tok[2], NULL, 0);
		uint8_t blk[4096];
		ret = udax_file_open(im->fs, tok[1], O_CREAT | O_RDWR, 0644,
				     &f);
		for (long i = 0; !ret && i < cnt; i++) {
			for (size_t k = 0; k < sizeof(blk); k++)
				blk[k] = pattern_byte(tok[1],
						      (uint64_t)i * 8192 + k);
			if (udax_pwrite(f, blk, sizeof(blk), (off_t)i * 8192) !=
			    (ssize_t)sizeof(blk))
				ret = -EIO;
		}
		if (f)
			udax_file_close(&f);
	} else if (!strcmp(c, "hold") && n == 2) {
		if (im->nheld == MAX_HOLD)
			return img_fail(im, "too many held files");
		ret = udax_file_open(im->fs, tok[1], O_RDWR, 0,
				     &im->held[im->nheld]);
		if (!ret)
			im->nheld++;
	} else if (!strcmp(c, "crash") && n == 1) {
		struct dev *dev = udax_fs_device(im->fs);
		im->crash_size = dev->size;
		im->crash = malloc(dev->size);
		if (!im->crash)
			return img_fail(im, "crash: out of memory");
		memcpy(im->crash, dev->base, dev->size);
	} else {
		return 1; /* not a populate command */
	}
	if (ret)
		return img_fail(im, "%s %s: %s", c, n > 1 ? tok[1] : "",
				udax_strerror(ret));
	return 0;
}

/* Remember the inode numbers of the paths damage commands name. */
static int resolve_names(struct img *im, char **tok, int n)
{
	for (int i = 1; i < n; i++) {
		const char *p = tok[i];
		struct stat st;
		if (p[0] != '@')
			continue;
		p++;
		const char *colon = strchr(p, ':');
		if (colon)
			p = colon + 1;
		if (p[0] != '/')
			continue;
		char path[128];
		snprintf(path, sizeof(path), "%s", p);
		path[strcspn(path, "+")] = 0;
		int have = 0;
		for (int k = 0; k < im->nnames; k++)
			have |= !strcmp(im->names[k].path, path);
		if (have)
			continue;
		if (im->nnames == MAX_NAMES)
			return img_fail(im, "too many names");
		int ret = udax_lstat(im->fs, path, &st);
		if (ret)
			return img_fail(im, "resolve %s: %s", path,
					udax_strerror(ret));
		snprintf(im->names[im->nnames].path, 128, "%s", path);
		im->names[im->nnames++].ino = st.st_ino;
	}
	return 0;
}

/* ---- damage ---- */

static struct udax_super *img_sb(struct img *im)
{
	return (struct udax_super *)im->map;
}

static uint8_t *img_blk(struct img *im, uint64_t b)
{
	if ((b + 1) << UDAX_BLOCK_SHIFT > im->map_size)
		return NULL;
	return im->map + (b << UDAX_BLOCK_SHIFT);
}

static struct udax_inode *img_inode(struct img *im, uint64_t ino)
{
	struct udax_super *sb = img_sb(im);
	if (ino >= sb->inode_count)
		return NULL;
	return (struct udax_inode
			*)(img_blk(im, sb->itable_start +
					       ino / UDAX_INODES_PER_BLOCK) +
			   (ino % UDAX_INODES_PER_BLOCK) * UDAX_INODE_SIZE);
}

static int name_ino(struct img *im, const char *path, uint64_t *ino)
{
	char p[128];

	snprintf(p, sizeof(p), "%s", path);
	p[strcspn(p, "+")] = 0;
	for (int k = 0; k < im->nnames; k++)
		if (!strcmp(im->names[k].path, p)) {
			*ino = im->names[k].ino;
			return 0;
		}
	return img_fail(im, "unresolved name %s", p);
}

/* Parse a number of the script language. */
static int value(struct img *im, const char *s, uint64_t *v)
{
	struct udax_super *sb = img_sb(im);
	const char *adj = NULL;
	uint64_t ino;

	if (s[0] != '@') {
		char *end;
		*v = strtoull(s, &end, 0);
		return *end ? img_fail(im, "bad number %s", s) : 0;
	}
	s++;
	adj = strpbrk(s, "+");
	if (!strncmp(s, "free", 4)) {
		const uint8_t *bm = img_blk(im, sb->bbmap_start) + 32;
		*v = 0;
		for (uint64_t b = sb->block_count - 2; b >= sb->data_start; b--)
			if (!((bm[b / 8] >> (b % 8)) & 1)) {
				*v = b;
				break;
			}
	} else if (!strncmp(s, "refcount", 8)) {
		const struct udax_state *st =
			(const void *)img_blk(im, UDAX_STATE_BLOCK);
		*v = st->refcount_root;
	} else if (!strncmp(s, "last", 4)) {
		*v = sb->block_count - 1;
	} else if (!strncmp(s, "bbmap", 5)) {
		*v = sb->bbmap_start;
	} else if (!strncmp(s, "ibmap", 5)) {
		*v = sb->ibmap_start;
	} else if (!strncmp(s, "root:", 5)) {
		if (name_ino(im, s + 5, &ino))
			return -1;
		*v = img_inode(im, ino)->root;
	} else if (!strncmp(s, "xattr:", 6)) {
		if (name_ino(im, s + 6, &ino))
			return -1;
		*v = udax_inode_xattr_root(img_inode(im, ino));
	} else if (!strncmp(s, "itable:", 7)) {
		if (name_ino(im, s + 7, &ino))
			return -1;
		*v = sb->itable_start + ino / UDAX_INODES_PER_BLOCK;
	} else if (!strncmp(s, "data:", 5)) {
		if (name_ino(im, s + 5, &ino))
			return -1;
		const struct udax_node *n =
			(const void *)img_blk(im, img_inode(im, ino)->root);
		struct udax_extent_val e;
		if (!n || n->level || !n->nitems)
			return img_fail(im, "%s: no leaf root", s);
		memcpy(&e, (const uint8_t *)n + n->items[0].off, sizeof(e));
		*v = e.dev_blk;
	} else if (s[0] == '/') {
		if (name_ino(im, s, &ino))
			return -1;
		*v = ino;
	} else {
		return img_fail(im, "bad reference @%s", s);
	}
	if (adj)
		*v += strtoull(adj + 1, NULL, 0);
	return 0;
}

struct field {
	const char *name;
	size_t off, size;
};

#define F(type, m)                                                             \
	{                                                                      \
#m, offsetof(type, m), sizeof(((type *)0)->m)                  \
	}
static const struct field inode_fields[] = {
	F(struct udax_inode, magic),
	F(struct udax_inode, mode),
	F(struct udax_inode, nlink),
	F(struct udax_inode, ino),
	F(struct udax_inode, size),
	F(struct udax_inode, blocks),
	F(struct udax_inode, generation),
	F(struct udax_inode, flags),
	F(struct udax_inode, xattr_lo),
	F(struct udax_inode, orphan_next),
	F(struct udax_inode, root),
	F(struct udax_inode, parent),
	F(struct udax_inode, entries),
	F(struct udax_inode, xattr_hi),
	/* a device's number in inline_data */
	{"rdev_major", offsetof(struct udax_inode, inline_data), 4},
	{"rdev_minor", offsetof(struct udax_inode, inline_data) + 4, 4},
	{NULL, 0, 0},
};
static const struct field node_fields[] = {
	F(struct udax_node, magic),	F(struct udax_node, blkno),
	F(struct udax_node, owner),	F(struct udax_node, kind),
	F(struct udax_node, level),	F(struct udax_node, nitems),
	F(struct udax_node, val_start), {NULL, 0, 0},
};
static const struct field item_fields[] = {
	F(struct udax_node_item, key),
	F(struct udax_node_item, off),
	F(struct udax_node_item, len),
	F(struct udax_node_item, pad),
	{NULL, 0, 0},
};
static const struct field extent_fields[] = {
	F(struct udax_extent_val, dev_blk),
	F(struct udax_extent_val, len),
	F(struct udax_extent_val, flags),
	{NULL, 0, 0},
};
static const struct field refcount_fields[] = {
	F(struct udax_refcount_val, len),
	F(struct udax_refcount_val, refs),
	{NULL, 0, 0},
};
static const struct field dirent_fields[] = {
	F(struct udax_dirent_val, ino),	     F(struct udax_dirent_val, type),
	F(struct udax_dirent_val, name_len), F(struct udax_dirent_val, pad16),
	F(struct udax_dirent_val, pad32),    {NULL, 0, 0},
};
static const struct field xentry_fields[] = {
	F(struct udax_xattr_val, value_len), F(struct udax_xattr_val, name_len),
	F(struct udax_xattr_val, first),     F(struct udax_xattr_val, nchunks),
	F(struct udax_xattr_val, pad),	     {NULL, 0, 0},
};
static const struct field state_fields[] = {
	F(struct udax_state, magic),	     F(struct udax_state, blkno),
	F(struct udax_state, orphan_head),   F(struct udax_state, generation),
	F(struct udax_state, refcount_root), {NULL, 0, 0},
};
static const struct field super_fields[] = {
	F(struct udax_super, magic),
	F(struct udax_super, version),
	F(struct udax_super, block_count),
	F(struct udax_super, inode_count),
	F(struct udax_super, feat_incompat),
	F(struct udax_super, feat_ro_compat),
	F(struct udax_super, journal_blocks),
	F(struct udax_super, data_start),
	F(struct udax_super, root_ino),
	F(struct udax_super, hash_seed),
	{NULL, 0, 0},
};
#undef F

static int set_field(struct img *im, void *base, const struct field *t,
		     const char *name, const char *val)
{
	uint64_t v;

	if (value(im, val, &v))
		return -1;
	for (; t->name; t++)
		if (!strcmp(t->name, name)) {
			memcpy((uint8_t *)base + t->off, &v, t->size);
			return 0;
		}
	return img_fail(im, "unknown field %s", name);
}

static void seal_block(void *b)
{
	uint32_t crc = udax_block_crc(b, UDAX_BLOCK_SIZE, 4);
	memcpy((uint8_t *)b + 4, &crc, 4);
}

static void seal_inode(struct udax_inode *di)
{
	di->crc = udax_block_crc(di, UDAX_INODE_SIZE,
				 offsetof(struct udax_inode, crc));
}

static void seal_super(struct udax_super *sb)
{
	sb->crc = udax_block_crc(sb, UDAX_BLOCK_SIZE,
				 offsetof(struct udax_super, crc));
}

/* The entry named `name` in leaf block `blk`: its value offset. */
static uint8_t *find_dirent(struct img *im, uint8_t *blk, const char *name)
{
	struct udax_node *n = (void *)blk;
	size_t len = strlen(name);

	for (int i = 0; i < n->nitems; i++) {
		uint8_t *v = blk + n->items[i].off;
		size_t off = 0;
		while (off + sizeof(struct udax_dirent_val) <=
		       n->items[i].len) {
			struct udax_dirent_val *d = (void *)(v + off);
			if (d->name_len == len &&
			    !memcmp(v + off + sizeof(*d), name, len))
				return v + off;
			off += sizeof(*d) + ((d->name_len + 7u) & ~7u);
		}
	}
	img_fail(im, "no entry %s", name);
	return NULL;
}

static int set_bit(struct img *im, uint64_t start, uint64_t obj,
		   const char *val)
{
	struct udax_bitmap *bm =
		(void *)img_blk(im, start + obj / UDAX_BITMAP_BITS);
	uint64_t bit = obj % UDAX_BITMAP_BITS, v;

	if (value(im, val, &v))
		return -1;
	if (v)
		bm->bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
	else
		bm->bits[bit / 8] &= (uint8_t) ~(1u << (bit % 8));
	seal_block(bm);
	return 0;
}

static int run_damage(struct img *im, char **tok, int n)
{
	const char *c = tok[0];
	struct udax_super *sb = img_sb(im);
	uint64_t a = 0, b = 0, d = 0;
	uint8_t *blk;

#define NEED(k)                                                                \
	do {                                                                   \
		if (n != (k))                                                  \
			return img_fail(im, "%s: wrong arguments", c);         \
	} while (0)
#define VAL(i, x)                                                              \
	do {                                                                   \
		if (value(im, tok[i], &(x)))                                   \
			return -1;                                             \
	} while (0)
#define BLK(x)                                                                 \
	do {                                                                   \
		blk = img_blk(im, x);                                          \
		if (!blk)                                                      \
			return img_fail(im, "%s: no block %llu", c,            \
					(unsigned long long)(x));              \
	} while (0)

	if (!strcmp(c, "inode") || !strcmp(c, "inode-nocrc")) {
		NEED(4);
		VAL(1, a);
		struct udax_inode *di = img_inode(im, a);
		if (!di || set_field(im, di, inode_fields, tok[2], tok[3]))
			return -1;
		if (!strcmp(c, "inode"))
			seal_inode(di);
	} else if (!strcmp(c, "zero-inode")) {
		NEED(2);
		VAL(1, a);
		memset(img_inode(im, a), 0, UDAX_INODE_SIZE);
	} else if (!strcmp(c, "flip-inode")) {
		NEED(4);
		VAL(1, a);
		VAL(2, b);
		VAL(3, d);
		((uint8_t *)img_inode(im, a))[b % 256] ^=
			(uint8_t)(1u << (d % 8));
	} else if (!strcmp(c, "flip")) {
		NEED(4);
		VAL(1, a);
		VAL(2, b);
		VAL(3, d);
		BLK(a);
		blk[b % UDAX_BLOCK_SIZE] ^= (uint8_t)(1u << (d % 8));
	} else if (!strcmp(c, "zero")) {
		NEED(2);
		VAL(1, a);
		BLK(a);
		memset(blk, 0, UDAX_BLOCK_SIZE);
	} else if (!strcmp(c, "garbage")) {
		NEED(3);
		VAL(1, a);
		VAL(2, b);
		BLK(a);
		for (size_t i = 0; i < UDAX_BLOCK_SIZE; i++) {
			b = b * 6364136223846793005ull + 1442695040888963407ull;
			blk[i] = (uint8_t)(b >> 56);
		}
	} else if (!strcmp(c, "node")) {
		NEED(4);
		VAL(1, a);
		BLK(a);
		if (set_field(im, blk, node_fields, tok[2], tok[3]))
			return -1;
		seal_block(blk);
	} else if (!strcmp(c, "item") || !strcmp(c, "extent") ||
		   !strcmp(c, "xentry") || !strcmp(c, "refval")) {
		NEED(5);
		VAL(1, a);
		VAL(2, b);
		BLK(a);
		struct udax_node *nd = (void *)blk;
		if (b >= nd->nitems)
			return img_fail(im, "%s: no item %llu", c,
					(unsigned long long)b);
		if (!strcmp(c, "item")) {
			if (set_field(im, &nd->items[b], item_fields, tok[3],
				      tok[4]))
				return -1;
		} else if (set_field(im, blk + nd->items[b].off,
				     c[0] == 'x' ? xentry_fields :
				     c[0] == 'r' ? refcount_fields :
						   extent_fields,
				     tok[3], tok[4])) {
			return -1;
		}
		seal_block(blk);
	} else if (!strcmp(c, "dirent") || !strcmp(c, "dirent-name")) {
		NEED(c[6] ? 4 : 5);
		VAL(1, a);
		BLK(a);
		uint8_t *e = find_dirent(im, blk, tok[2]);
		if (!e)
			return -1;
		if (c[6]) {
			if (strlen(tok[3]) != strlen(tok[2]))
				return img_fail(im, "%s: same length only", c);
			memcpy(e + sizeof(struct udax_dirent_val), tok[3],
			       strlen(tok[3]));
		} else if (set_field(im, e, dirent_fields, tok[3], tok[4])) {
			return -1;
		}
		seal_block(blk);
	} else if (!strcmp(c, "bbit")) {
		NEED(3);
		VAL(1, a);
		return set_bit(im, sb->bbmap_start, a, tok[2]);
	} else if (!strcmp(c, "ibit")) {
		NEED(3);
		VAL(1, a);
		return set_bit(im, sb->ibmap_start, a, tok[2]);
	} else if (!strcmp(c, "state")) {
		NEED(3);
		BLK(UDAX_STATE_BLOCK);
		if (set_field(im, blk, state_fields, tok[1], tok[2]))
			return -1;
		seal_block(blk);
	} else if (!strcmp(c, "sb")) {
		NEED(3);
		if (set_field(im, sb, super_fields, tok[1], tok[2]))
			return -1;
		seal_super(sb);
	} else if (!strcmp(c, "uninstall")) {
		/* a crash after the commit points, before the installs: the
		 * home copies of every logged transaction are lost (zeroed) */
		NEED(1);
		uint8_t *area = img_blk(im, sb->journal_start);
		uint64_t pos = 0;
		struct udax_jhdr *h = (void *)area;
		if (h->magic != UDAX_JOURNAL_MAGIC)
			return img_fail(im, "uninstall: empty journal");
		for (; pos + sizeof(*h) <= sb->journal_blocks * UDAX_BLOCK_SIZE;
		     pos += (h->bytes + 63) & ~63ull) {
			uint64_t p = sizeof(*h);
			h = (void *)(area + pos);
			if (h->magic != UDAX_JOURNAL_MAGIC || h->bytes < 64 ||
			    (pos &&
			     h->seq != ((struct udax_jhdr *)area)->seq + d))
				break;
			for (uint32_t i = 0; i < h->nrec; i++) {
				struct udax_jrec *r = (void *)(area + pos + p);
				memset(im->map + r->dev_off, 0, r->len);
				p += sizeof(*r) + r->len;
			}
			d++;
		}
	} else if (!strcmp(c, "truncate")) {
		NEED(2);
		im->truncate = strtoll(tok[1], NULL, 0);
	} else {
		return img_fail(im, "unknown command %s", c);
	}
	return 0;
#undef NEED
#undef VAL
#undef BLK
}

/* ---- building an image ---- */

/* Is `c` a populate command? */
static int run_populate_kind(const char *c)
{
	static const char *const pop[] = {
		"mkdir",     "rmdir", "unlink",	 "link",
		"rename",    "write", "symlink", "symlink-long",
		"fallocate", "hold",  "crash",	 "files",
		"fragment",  "mknod", "xattr",	 "clone"};

	for (size_t i = 0; i < sizeof(pop) / sizeof(pop[0]); i++)
		if (!strcmp(c, pop[i]))
			return 1;
	return 0;
}

static int split(char *line, char **tok)
{
	int n = 0;
	char *save, *t;

	/* '#' starts a comment at the start of a word ("#12" in a path is
	 * a name) */
	for (char *h = line; *h; h++)
		if (*h == '\n' || (*h == '#' && (h == line || h[-1] == ' ' ||
						 h[-1] == '\t'))) {
			*h = 0;
			break;
		}
	for (t = strtok_r(line, " \t", &save); t && n < MAX_TOK;
	     t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	return n;
}

static int map_image(struct img *im)
{
	int fd = open(im->path, O_RDWR);
	struct stat st;

	if (fd < 0 || fstat(fd, &st))
		return img_fail(im, "open %s", im->path);
	im->map_size = (size_t)st.st_size;
	im->map = mmap(NULL, im->map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);
	close(fd);
	if (im->map == MAP_FAILED) {
		im->map = NULL;
		return img_fail(im, "mmap %s", im->path);
	}
	return 0;
}

static void unmap_image(struct img *im)
{
	if (im->map)
		munmap(im->map, im->map_size);
	im->map = NULL;
}

/* mkfs with a fixed uuid and hash seed, so that runs are repeatable. */
static int make_fs(struct img *im)
{
	struct udax_mkfs_opts mo = {.size = IMG_SIZE, .uuid = test_uuid};
	int ret;

	unlink(im->path);
	ret = udax_mkfs(im->path, &mo);
	if (ret)
		return img_fail(im, "mkfs: %s", udax_strerror(ret));
	if (map_image(im))
		return -1;
	struct udax_super *sb = img_sb(im);
	sb->hash_seed = 0x5eed5eed5eed5eedull;
	sb->mkfs_time_ns = 0;
	seal_super(sb);
	memcpy(img_blk(im, sb->block_count - 1), sb, UDAX_BLOCK_SIZE);
	unmap_image(im);
	return 0;
}

static const char *script_lines_next(const char **p, char *line, size_t size)
{
	const char *s = *p, *e;
	size_t n;

	if (!*s)
		return NULL;
	e = strchr(s, '\n');
	n = e ? (size_t)(e - s) : strlen(s);
	if (n >= size)
		n = size - 1;
	memcpy(line, s, n);
	line[n] = 0;
	*p = e ? e + 1 : s + n;
	return line;
}

/* Build the image of a script at im->path. Returns 0 or -1 (im->err). */
static int img_build(struct img *im, const char *script)
{
	struct udax_open_opts oo = {.quiet = 1};
	char line[512], copy[512], *tok[MAX_TOK];
	const char *p;
	int ret, n;

	if (make_fs(im))
		return -1;
	ret = udax_open(&im->fs, im->path, &oo);
	if (ret)
		return img_fail(im, "open: %s", udax_strerror(ret));
	/* populate, and resolve the names damage commands use */
	for (p = script; script_lines_next(&p, line, sizeof(line));) {
		snprintf(copy, sizeof(copy), "%s", line);
		n = split(copy, tok);
		if (!n)
			continue;
		ret = im->damaging ? 1 : run_populate(im, tok, n);
		if (ret < 0)
			goto close_fs;
		if (ret > 0) {
			im->damaging = 1;
			if (resolve_names(im, tok, n))
				goto close_fs;
		}
	}
	ret = 0;
close_fs:
	for (int i = 0; i < im->nheld; i++)
		udax_file_close(&im->held[i]);
	im->nheld = 0;
	if (udax_close(&im->fs) || ret)
		return ret ? -1 : img_fail(im, "close failed");
	if (im->crash) {
		int fd = open(im->path, O_WRONLY);
		ssize_t w =
			fd < 0 ? -1 : pwrite(fd, im->crash, im->crash_size, 0);
		if (fd >= 0)
			close(fd);
		free(im->crash);
		im->crash = NULL;
		if (w != (ssize_t)im->crash_size)
			return img_fail(im, "crash: cannot write the image");
	}
	/* damage */
	if (map_image(im))
		return -1;
	im->damaging = 0;
	for (p = script; script_lines_next(&p, line, sizeof(line));) {
		snprintf(copy, sizeof(copy), "%s", line);
		n = split(copy, tok);
		if (!n)
			continue;
		if (!im->damaging) {
			if (run_populate_kind(tok[0]))
				continue;
			im->damaging = 1;
		}
		if (run_damage(im, tok, n)) {
			unmap_image(im);
			return -1;
		}
	}
	unmap_image(im);
	if (im->truncate) {
		struct stat st;
		if (stat(im->path, &st) ||
		    truncate(im->path, st.st_size + im->truncate * 4096))
			return img_fail(im, "truncate failed");
	}
	return 0;
}

/* ---- running fsck ---- */

/* Run fsck on the image; the report goes to a malloc'd *text. */
static int run_fsck(const char *path, int mode, char **text)
{
	struct fsck_result res;
	size_t len = 0;
	FILE *f = open_memstream(text, &len);
	int ret;

	ret = fsck_run(path, mode, f, &res);
	if (ret == FSCK_EXIT_ERROR)
		fprintf(f, "operational error: %s\n", res.message);
	fclose(f);
	return ret;
}

/* ---- checks after the repair, with the file system open ---- */

static int count_entries(struct udax_fs *fs, const char *path)
{
	struct udax_dir *d;
	struct udax_dirent e;
	int n = 0, ret;

	ret = udax_dir_open(fs, path, &d);
	if (ret)
		return ret;
	while ((ret = udax_dir_read(d, &e)) > 0)
		if (strcmp(e.name, ".") && strcmp(e.name, ".."))
			n++;
	udax_dir_close(&d);
	return ret < 0 ? ret : n;
}

/* Does file `path` hold `size` bytes of the pattern written under the
 * name `written`? */
static int verify_content(struct udax_fs *fs, const char *path,
			  const char *written, uint64_t size)
{
	struct udax_file *f;
	uint8_t buf[4096];
	uint64_t off = 0;
	struct stat st;

	if (udax_file_open(fs, path, O_RDONLY, 0, &f))
		return 0;
	if (udax_fstat(f, &st) || (uint64_t)st.st_size != size)
		goto bad;
	while (off < size) {
		ssize_t n = udax_pread(f, buf, sizeof(buf), (off_t)off);
		if (n <= 0)
			goto bad;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern_byte(written, off + (uint64_t)i))
				goto bad;
		off += (uint64_t)n;
	}
	udax_file_close(&f);
	return 1;
bad:
	udax_file_close(&f);
	return 0;
}

/* Does xattr NAME of P hold SIZE bytes of the pattern? */
static int verify_xattr(struct udax_fs *fs, const char *path, const char *name,
			size_t size)
{
	uint8_t *v = malloc(size + 1);
	int good;

	if (!v)
		return 0;
	good = udax_lgetxattr(fs, path, name, v, size + 1) == (ssize_t)size;
	for (size_t i = 0; good && i < size; i++)
		good = v[i] == pattern_byte(name, i);
	free(v);
	return good;
}

/* Run the checks of a case; prints what failed. Returns 0 or -1. */
static int verify(struct udax_fs *fs, const char *checks)
{
	char line[256], *tok[MAX_TOK];
	const char *p = checks;
	struct stat st;
	int ok = 1;

	while (checks && script_lines_next(&p, line, sizeof(line))) {
		int n = split(line, tok), good = 1;
		if (!n)
			continue;
		if (!strcmp(tok[0], "exists") && n == 2)
			good = udax_lstat(fs, tok[1], &st) == 0;
		else if (!strcmp(tok[0], "missing") && n == 2)
			good = udax_lstat(fs, tok[1], &st) == -ENOENT;
		else if (!strcmp(tok[0], "content") && (n == 3 || n == 4))
			good = verify_content(fs, tok[1],
					      n == 4 ? tok[3] : tok[1],
					      strtoull(tok[2], NULL, 0));
		else if (!strcmp(tok[0], "nlink") && n == 3)
			good = udax_lstat(fs, tok[1], &st) == 0 &&
			       st.st_nlink == strtoull(tok[2], NULL, 0);
		else if (!strcmp(tok[0], "xattr") && n == 4)
			good = verify_xattr(fs, tok[1], tok[2],
					    strtoull(tok[3], NULL, 0));
		else if (!strcmp(tok[0], "noxattr") && n == 3)
			good = udax_lgetxattr(fs, tok[1], tok[2], NULL, 0) ==
			       -ENODATA;
		else if (!strcmp(tok[0], "type") && n == 3)
			good = udax_lstat(fs, tok[1], &st) == 0 &&
			       (st.st_mode & S_IFMT) ==
				       (mode_t)strtoul(tok[2], NULL, 0);
		else if (!strcmp(tok[0], "rdev") && n == 4)
			good = udax_lstat(fs, tok[1], &st) == 0 &&
			       st.st_rdev == makedev(strtoul(tok[2], NULL, 0),
						     strtoul(tok[3], NULL, 0));
		else if (!strcmp(tok[0], "entries") && n == 3)
			good = count_entries(fs, tok[1]) ==
			       (int)strtol(tok[2], NULL, 0);
		else
			good = 0;
		if (!good) {
			fprintf(stderr, "  check failed: %s", tok[0]);
			for (int i = 1; i < n; i++)
				fprintf(stderr, " %s", tok[i]);
			fprintf(stderr, "\n");
			ok = 0;
		}
	}
	return ok ? 0 : -1;
}

/* ---- the cases ---- */

/* Every case starts from this tree. Inodes: / 1, /d 2, /d/e 3, /d/f 4,
 * /big 5, /small 6, /d/sl 7, /d/lsl 8. /small has unwritten blocks
 * past its end (fallocate with FALLOC_FL_KEEP_SIZE), which is fine. */
#define BASE                                                                   \
	"mkdir /d\n"                                                           \
	"mkdir /d/e\n"                                                         \
	"write /d/f 10000\n"                                                   \
	"link /d/f /d/hard\n"                                                  \
	"write /big 300000\n"                                                  \
	"write /small 100\n"                                                   \
	"fallocate /small 8192 8192\n"                                         \
	"symlink /d/f /d/sl\n"                                                 \
	"symlink-long 200 /d/lsl\n"

/* What every repaired image still holds, unless the case damaged it. */
#define INTACT                                                                 \
	"content /big 300000\n"                                                \
	"content /d/f 10000\n"                                                 \
	"nlink /d/f 2\n"                                                       \
	"content /small 100\n"

/* Special files and xattrs, after BASE: /x has one value in chunks (its
 * tree: one leaf, the bucket then 3 chunks), /d one small value, the
 * device /c one value of 3 chunks. */
#define SPECIAL                                                                \
	"mknod /p fifo 0 0\n"                                                  \
	"mknod /s sock 0 0\n"                                                  \
	"mknod /c chr 4 64\n"                                                  \
	"write /x 10\n"                                                        \
	"xattr /x user.big 3000\n"                                             \
	"xattr /d user.s 10\n"                                                 \
	"xattr /c trusted.t 3000\n"

#define SPECIAL_INTACT                                                         \
	"type /p 0010000\n"                                                    \
	"type /s 0140000\n"                                                    \
	"rdev /c 4 64\n"                                                       \
	"xattr /x user.big 3000\n"                                             \
	"xattr /d user.s 10\n"                                                 \
	"xattr /c trusted.t 3000\n"

struct fsck_case {
	const char *name;
	const char *script; /* after BASE; NULL: a fresh image, no BASE */
	int first;	    /* exit code of fsck -y */
	const char *checks; /* after the repair */
};

static const struct fsck_case cases[] = {
	{"fresh", NULL, 0, "entries / 0\nnlink / 2\n"},
	{"clean", "", 0, INTACT "entries / 3\nentries /d 5\n"},
	{"inode-bitflip", "flip-inode @/d/f 25 3\n", 1, INTACT},
	{"inode-crc-field", "flip-inode @/big 253 0\n", 1, INTACT},
	{"inode-bad-magic", "inode @/small magic 0x1111\n", 1,
	 "missing /small\ncontent /big 300000\n"},
	{"inode-bad-type", "inode @/small mode 0170644\n", 1,
	 "missing /small\ncontent /big 300000\n"},
	{"inode-zeroed", "zero-inode @/small\n", 1,
	 "missing /small\ncontent /d/f 10000\n"},
	{"inode-two-bits", "flip-inode @/d/f 24 0\nflip-inode @/d/f 26 5\n", 1,
	 "content /big 300000\nentries /d 5\n"},
	{"free-inode-garbage", "flip-inode 40 7 1\n", 1, INTACT},
	{"wrong-nlink", "inode @/d/f nlink 5\n", 1, INTACT},
	{"wrong-dir-nlink", "inode @/d nlink 9\ninode 1 nlink 1\n", 1,
	 INTACT "nlink /d 3\nnlink / 3\n"},
	{"wrong-blocks", "inode @/big blocks 3\n", 1, INTACT},
	{"wrong-entries", "inode @/d entries 77\n", 1, INTACT},
	{"wrong-parent", "inode @/d/e parent 6\n", 1, INTACT},
	{"unknown-flags", "inode @/big flags 0x80\ninode @/big xattr_lo 3\n", 1,
	 INTACT},
	{"size-shrunk", "inode @/big size 5000\n", 1,
	 "content /d/f 10000\nexists /big\n"},
	{"zero-nlink-linked", "inode @/small nlink 0\n", 1, INTACT},
	{"extent-node-bitflip", "flip @root:/big 300 6\n", 1, INTACT},
	{"extent-node-bad", "node @root:/big magic 0\n", 1,
	 "content /d/f 10000\nexists /big\n"},
	{"extent-node-crc-only", "flip @root:/big 5 0\n", 1, INTACT},
	{"extent-out-of-range", "extent @root:/small 0 dev_blk 9999999\n", 1,
	 "content /big 300000\nexists /small\n"},
	{"extent-zero-len", "extent @root:/big 0 len 0\n", 1,
	 "content /d/f 10000\n"},
	{"extent-dup", "extent @root:/small 0 dev_blk @data:/big\n", 1,
	 "content /big 300000\ncontent /d/f 10000\n"},
	{"extent-two-bits", "flip @root:/big 4000 0\nflip @root:/big 4001 0\n",
	 1, "content /d/f 10000\n"},
	{"node-item-bad", "item @root:/big 0 off 4090\n", 1,
	 "content /d/f 10000\n"},
	{"dir-node-bad", "node @root:/d magic 0\n", 1,
	 "content /big 300000\nentries /lost+found 4\n"
	 "content /lost+found/#4 10000 /d/f\nnlink /lost+found/#4 1\n"},
	{"dir-node-bitflip", "flip @root:/d 2000 2\n", 1,
	 INTACT "entries /d 5\n"},
	{"dirent-bad-ino", "dirent @root:/d f ino 9999\n", 1,
	 "missing /d/f\ncontent /d/hard 10000 /d/f\nnlink /d/hard 1\n"},
	{"dirent-free-ino", "dirent @root:/d f ino 100\n", 1,
	 "missing /d/f\nnlink /d/hard 1\n"},
	{"dirent-type", "dirent @root:/d f type 4\n", 1, INTACT},
	{"dirent-slash", "dirent-name @root:/d f /\n", 1,
	 "nlink /d/hard 1\ncontent /big 300000\n"},
	{"dirent-hash", "dirent-name @root:/d hard hord\n", 1,
	 "nlink /d/f 1\nmissing /d/hard\n"},
	{"dirent-padding", "dirent @root:/d f pad32 7\n", 1, INTACT},
	{"dirent-root", "dirent @root:/d f ino 1\n", 1,
	 "nlink /d/hard 1\nnlink / 3\n"},
	{"dir-second-link",
	 "dirent @root:/d f ino @/d/e\n"
	 "dirent @root:/d f type 4\n",
	 1, "nlink /d/hard 1\nnlink /d 3\nentries /d 4\n"},
	{"unattached-file", "dirent-name @root:/ small smalx\n", 1,
	 "missing /small\ncontent /lost+found/#6 100 /small\n"},
	{"unattached-dir", "dirent-name @root:/d e x\n", 1,
	 INTACT "exists /lost+found/#3\nnlink /lost+found 3\n"},
	{"dir-loop",
	 "mkdir /d/e/x\n"
	 "dirent-name @root:/ d z\n"
	 "dirent @root:/d/e x ino @/d\n"
	 "inode @/d parent @/d/e\n",
	 1, "content /big 300000\nexists /lost+found/#2\n"},
	{"no-root", "inode 1 magic 0x1234\n", 1,
	 "entries /lost+found 3\ncontent /lost+found/#5 300000 /big\n"
	 "content /lost+found/#2/f 10000 /d/f\n"},
	{"bitmap-leak", "bbit @free 1\n", 1, INTACT},
	{"bitmap-unmarked", "bbit @data:/big 0\nbbit @data:/big+5 0\n", 1,
	 INTACT},
	{"bitmap-bitflip", "flip @bbmap 2000 3\n", 1, INTACT},
	{"bitmap-header", "zero @bbmap\n", 1, INTACT},
	{"ibitmap-unmarked", "ibit @/small 0\n", 1, INTACT},
	{"ibitmap-leak", "ibit 300 1\n", 1, INTACT},
	{"ibitmap-header", "garbage @ibmap 5\n", 1, INTACT},
	{"state-zeroed", "zero 1\n", 1, INTACT},
	{"state-bitflip", "flip 1 3000 4\n", 1, INTACT},
	{"state-generation", "state generation 3\n", 1, INTACT},
	{"orphan-list-wrong", "state orphan_head @/big\n", 1, INTACT},
	{"orphan", "write /o 50000\nhold /o\nunlink /o\ncrash\n", 1,
	 INTACT "entries / 3\n"},
	{"crash-log-installed", "write /j 5000\nmkdir /k\ncrash\n", 0,
	 INTACT "content /j 5000\nexists /k\n"},
	{"orphan-no-list",
	 "inode @/small nlink 0\n"
	 "dirent-name @root:/ small smalx\n",
	 1, "missing /small\ncontent /big 300000\n"},
	{"truncate-interrupted",
	 "inode @/big size 8192\n"
	 "inode @/big flags 2\n",
	 1, "content /d/f 10000\nexists /big\n"},
	{"journal-replay", "write /j 5000\nmkdir /k\ncrash\nuninstall\n", 1,
	 INTACT "content /j 5000\nexists /k\n"},
	{"superblock-garbage", "garbage 0 7\n", 1, INTACT},
	{"superblock-bitflip", "flip 0 16 1\n", 1, INTACT},
	{"superblock-backup", "garbage @last 9\n", 1, INTACT},
	{"truncated", "truncate -8\n", 1, INTACT},
	{"special-clean", SPECIAL, 0, INTACT SPECIAL_INTACT},
	{"fifo-with-tree", SPECIAL "inode @/p root @free\n", 1,
	 INTACT SPECIAL_INTACT},
	{"fifo-size", SPECIAL "inode @/p size 100\n", 1, INTACT SPECIAL_INTACT},
	{"fifo-inline-data", SPECIAL "inode @/p rdev_major 7\n", 1,
	 INTACT SPECIAL_INTACT},
	{"device-bad-rdev", SPECIAL "inode @/c rdev_major 5000\n", 1,
	 INTACT "missing /c\nexists /p\nxattr /x user.big 3000\n"},
	{"special-no-feature", SPECIAL "sb feat_ro_compat 1\n", 1,
	 INTACT "missing /p\nmissing /c\nmissing /s\n"
		"xattr /x user.big 3000\n"},
	{"xattr-no-feature", SPECIAL "sb feat_ro_compat 2\n", 1,
	 INTACT "type /p 0010000\n"},
	{"xattr-node-bad", SPECIAL "node @xattr:/x magic 0\n", 1,
	 INTACT "noxattr /x user.big\nxattr /c trusted.t 3000\n"},
	{"xattr-entry-bad", SPECIAL "xentry @xattr:/x 0 value_len 2000\n", 1,
	 INTACT "noxattr /x user.big\nxattr /d user.s 10\n"},
	{"xattr-chunk-missing", SPECIAL "xentry @xattr:/x 0 first 3\n", 1,
	 INTACT "noxattr /x user.big\nxattr /d user.s 10\n"},
	{"xattr-bad-hash", SPECIAL "item @xattr:/d 0 key 0x1000\n", 1,
	 INTACT "noxattr /d user.s\nxattr /x user.big 3000\n"},
	{"xattr-blocks", SPECIAL "inode @/x blocks 1\n", 1,
	 INTACT SPECIAL_INTACT},
	/* reflink: /c shares every block of /big (one refcount item) */
	{"refcount-clean", "clone /c /big\n", 0,
	 INTACT "content /c 300000 /big\n"},
	{"refcount-count", "clone /c /big\nrefval @refcount 0 refs 3\n", 1,
	 INTACT "content /c 300000 /big\n"},
	{"refcount-unshared", "clone /c /big\nrefval @refcount 0 len 90\n", 1,
	 INTACT "content /c 300000 /big\n"},
	{"refcount-missing", "clone /c /big\nstate refcount_root 0\n", 1,
	 INTACT "content /c 300000 /big\n"},
	{"refcount-item-bad", "clone /c /big\nrefval @refcount 0 refs 1\n", 1,
	 INTACT "content /c 300000 /big\n"},
	{"refcount-no-feature", "clone /c /big\nsb feat_incompat 0\n", 1,
	 INTACT},
	{"garbage-everywhere",
	 "garbage @root:/d 1\ngarbage @itable:/big 2\ngarbage @bbmap 3\n"
	 "garbage 1 4\n",
	 1, "entries / 0\n"},
};

static int run_case(const struct fsck_case *c)
{
	struct udax_open_opts oo = {.quiet = 1};
	struct img im;
	struct udax_fs *fs;
	char *script, *out1 = NULL, *out2 = NULL;
	int r1, r2, ret = T_FAIL;

	memset(&im, 0, sizeof(im));
	snprintf(im.path, sizeof(im.path), "/dev/shm/udax-t_fsck-%d.img",
		 (int)getpid());
	if (asprintf(&script, "%s%s", c->script ? BASE : "",
		     c->script ? c->script : "") < 0)
		return T_FAIL;
	if (img_build(&im, script)) {
		fprintf(stderr, "  building the image: %s\n", im.err);
		goto out;
	}
	r1 = run_fsck(im.path, FSCK_YES, &out1);
	r2 = run_fsck(im.path, FSCK_NO, &out2);
	if (r1 != c->first || r2 != 0) {
		fprintf(stderr,
			"  fsck -y returned %d (want %d), fsck -n %d "
			"(want 0)\n--- fsck -y:\n%s--- fsck -n:\n%s",
			r1, c->first, r2, out1, out2);
		goto out;
	}
	if (udax_open(&fs, im.path, &oo)) {
		fprintf(stderr, "  udax_open fails after the repair\n%s", out1);
		goto out;
	}
	int v = verify(fs, c->checks);
	udax_close(&fs);
	if (v) {
		fprintf(stderr, "--- fsck -y:\n%s", out1);
		goto out;
	}
	ret = T_PASS;
out:
	free(out1);
	free(out2);
	free(script);
	unlink(im.path);
	return ret;
}

/* ---- random damage ---- */

/* Walk the whole tree as an application would; returns the first error
 * that says the image is damaged (UDAX_ECORRUPT), or 0. */
static int walk_all(struct udax_fs *fs, const char *dir, int depth)
{
	struct udax_dir *d;
	struct udax_dirent e;
	char path[1024], buf[8192];
	int ret, err = 0;

	if (depth > 32)
		return 0;
	ret = udax_dir_open(fs, dir, &d);
	if (ret)
		return ret == UDAX_ECORRUPT ? ret : 0;
	while ((ret = udax_dir_read(d, &e)) > 0 && !err) {
		struct stat st;
		if (!strcmp(e.name, ".") || !strcmp(e.name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s",
			 strcmp(dir, "/") ? dir : "", e.name);
		ret = udax_lstat(fs, path, &st);
		if (ret) {
			err = ret == UDAX_ECORRUPT ? ret : 0;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			err = walk_all(fs, path, depth + 1);
		} else if (S_ISLNK(st.st_mode)) {
			ret = (int)udax_readlink(fs, path, buf, sizeof(buf));
			err = ret == UDAX_ECORRUPT ? ret : 0;
		} else if (S_ISREG(st.st_mode)) {
			struct udax_file *f;
			if (udax_file_open(fs, path, O_RDONLY, 0, &f))
				continue;
			for (off_t off = 0;
			     off < st.st_size && off < (1 << 20) && !err;
			     off += (off_t)sizeof(buf)) {
				ssize_t n =
					udax_pread(f, buf, sizeof(buf), off);
				if (n == UDAX_ECORRUPT)
					err = (int)n;
				if (n <= 0)
					break;
			}
			udax_file_close(&f);
		}
	}
	udax_dir_close(&d);
	if (ret == UDAX_ECORRUPT)
		err = ret;
	return err;
}

static uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Damage one metadata block of the mapped image at random: flipped bits,
 * random bytes or words, sometimes with the checksum resealed so that
 * only the content checks can catch it. */
static void random_damage(struct img *im, const struct udax_super *sb,
			  uint64_t *seed)
{
	uint64_t targets[96], nt = 0;

	targets[nt++] = UDAX_STATE_BLOCK;
	targets[nt++] = sb->journal_start;
	targets[nt++] = sb->journal_start + 1;
	targets[nt++] = 0;
	targets[nt++] = sb->bbmap_start;
	targets[nt++] = sb->ibmap_start;
	targets[nt++] = sb->itable_start;
	targets[nt++] = sb->itable_start + 1;
	for (uint64_t b = sb->data_start; b < sb->block_count - 1 && nt < 96;
	     b++) {
		uint32_t magic;
		memcpy(&magic, img_blk(im, b), 4);
		if (magic == UDAX_NODE_MAGIC)
			targets[nt++] = b;
	}
	uint64_t blk = targets[rnd_next(seed) % nt];
	uint8_t *p = img_blk(im, blk);
	uint64_t r = rnd_next(seed);
	size_t hot = blk == sb->itable_start || blk == sb->itable_start + 1 ?
			     256 * 16 :
			     48 + 16 * 24; /* headers, items */
	if (blk == 0) {
		/* the primary superblock: the backup must take over */
		p[rnd_next(seed) % 160] ^= (uint8_t)(1u << r % 8);
		if (rnd_next(seed) % 2)
			seal_super(img_sb(im));
		return;
	}
	if ((r >> 16) % 3 == 0)
		hot = UDAX_BLOCK_SIZE; /* values, free space, anything */
	switch (r % 5) {
	case 0: /* one bit */
		p[rnd_next(seed) % hot] ^= (uint8_t)(1u << (r >> 8) % 8);
		break;
	case 1: /* a few bits anywhere */
		for (int i = 0; i < 3; i++)
			p[rnd_next(seed) % UDAX_BLOCK_SIZE] ^=
				(uint8_t)(1u << rnd_next(seed) % 8);
		break;
	case 2: /* a random byte */
		p[rnd_next(seed) % hot] = (uint8_t)rnd_next(seed);
		break;
	case 3: { /* a random small number in an 8-byte field */
		uint64_t v = rnd_next(seed) % 4096;
		memcpy(p + (rnd_next(seed) % hot & ~7ul), &v, 8);
		break;
	}
	default: { /* a random 2-byte field */
		uint16_t v = (uint16_t)rnd_next(seed);
		memcpy(p + (rnd_next(seed) % hot & ~1ul), &v, 2);
		break;
	}
	}
	if (blk >= sb->journal_start && blk < sb->bbmap_start) {
		/* reseal the first transaction of the log */
		struct udax_jhdr *h = (void *)img_blk(im, sb->journal_start);
		if (rnd_next(seed) % 2 && h->bytes >= 64 &&
		    h->bytes <= sb->journal_blocks * UDAX_BLOCK_SIZE)
			h->crc = udax_block_crc(h, h->bytes, 4);
	} else if (rnd_next(seed) % 2) {
		if (blk >= sb->itable_start &&
		    blk < sb->itable_start + sb->itable_blocks)
			for (unsigned i = 0; i < UDAX_INODES_PER_BLOCK; i++) {
				struct udax_inode *di =
					(void *)(p + i * UDAX_INODE_SIZE);
				if (di->magic)
					seal_inode(di);
			}
		else
			seal_block(p);
	}
}

static int case_random(void)
{
	struct udax_open_opts oo = {.quiet = 1};
	const char *es = getenv("UDAX_FSCK_SEED");
	const char *er = getenv("UDAX_FSCK_ROUNDS");
	uint64_t seed0 = es ? strtoull(es, NULL, 0) : (uint64_t)time(NULL);
	long rounds = er ? strtol(er, NULL, 0) : 200;
	struct img im;
	struct udax_super sb0;
	uint8_t *base = NULL;
	size_t size = 0;
	int ret = T_FAIL;

	memset(&im, 0, sizeof(im));
	snprintf(im.path, sizeof(im.path), "/dev/shm/udax-t_fsck-r%d.img",
		 (int)getpid());
	/* a crash image: the journal holds the log since the mount */
	if (img_build(&im, BASE "mkdir /d/e/x\nwrite /d/e/x/y 20000\n"
				"mkdir /m\nsymlink-long 300 /m/l\n"
				"mkdir /many\nfiles /many 300 10\n"
				"fragment /frag 400\n"
				"write /o 9000\nhold /o\nunlink /o\ncrash\n")) {
		fprintf(stderr, "  building the image: %s\n", im.err);
		goto out;
	}
	if (map_image(&im))
		goto out;
	size = im.map_size;
	base = malloc(size);
	if (!base)
		goto out;
	memcpy(base, im.map, size);
	memcpy(&sb0, im.map, sizeof(sb0));
	unmap_image(&im);
	for (long i = 0; i < rounds; i++) {
		uint64_t seed = seed0 * 1000003 + (uint64_t)i + 1, s = seed;
		char *o1 = NULL, *o2 = NULL;
		struct udax_fs *fs;
		int fd = open(im.path, O_WRONLY | O_TRUNC);
		if (fd < 0 || write(fd, base, size) != (ssize_t)size) {
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
		if (map_image(&im))
			goto out;
		for (uint64_t k = 1 + rnd_next(&s) % 3; k; k--)
			random_damage(&im, &sb0, &s);
		unmap_image(&im);
		int r1 = run_fsck(im.path, FSCK_YES, &o1);
		int r2 = run_fsck(im.path, FSCK_NO, &o2);
		/* a sealed superblock that claims unknown features is
		 * refused, as e2fsck refuses them */
		int feat = r1 == FSCK_EXIT_ERROR && strstr(o1, "features");
		/* -y repairs everything, except when /lost+found is taken
		 * by something that is not a directory */
		int lf = (r1 & FSCK_EXIT_UNCORRECTED) &&
			 strstr(o1, "/lost+found (inode");
		int bad = !feat && !lf && (r1 > 1 || r2 != 0);
		int w = 0;
		if (!bad && !feat && !lf) {
			bad = udax_open(&fs, im.path, &oo) != 0;
			if (!bad) {
				w = walk_all(fs, "/", 0);
				udax_close(&fs);
				bad = w != 0;
			}
		}
		if (bad) {
			fprintf(stderr,
				"  round seed %llu (UDAX_FSCK_SEED=%llu, round "
				"%ld): fsck -y %d, fsck -n %d, walk %d\n"
				"--- fsck -y:\n%s--- fsck -n:\n%s",
				(unsigned long long)seed,
				(unsigned long long)seed0, i, r1, r2, w, o1,
				o2);
			free(o1);
			free(o2);
			if (getenv("UDAX_FSCK_KEEP")) {
				/* the damaged image, before any repair */
				char keep[160];
				snprintf(keep, sizeof(keep), "%s.failed",
					 im.path);
				int kfd =
					open(keep, O_WRONLY | O_CREAT | O_TRUNC,
					     0644);
				if (kfd >= 0) {
					if (map_image(&im) == 0) {
						s = seed;
						memcpy(im.map, base, size);
						for (uint64_t k =
							     1 +
							     rnd_next(&s) % 3;
						     k; k--)
							random_damage(&im, &sb0,
								      &s);
						if (write(kfd, im.map, size) !=
						    (ssize_t)size)
							fprintf(stderr,
								"  short "
								"write\n");
						unmap_image(&im);
					}
					close(kfd);
					fprintf(stderr, "  kept %s\n", keep);
				}
			}
			goto out;
		}
		free(o1);
		free(o2);
	}
	ret = T_PASS;
out:
	free(base);
	unmap_image(&im);
	unlink(im.path);
	return ret;
}

/* ---- golden images: tests/fsck-images/NAME/{script,expect.1,expect.2} ---- */

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int c;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(m);
	fclose(f);
	return buf;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* The report with the image path replaced by "test.img" and the exit
 * status appended, as e2fsprogs' expect files have it. */
static char *normalize(const char *out, const char *path, int status)
{
	size_t plen = strlen(path), len = 0;
	char *buf = NULL;
	FILE *m = open_memstream(&buf, &len);

	for (const char *p = out; *p;) {
		if (!strncmp(p, path, plen)) {
			fputs("test.img", m);
			p += plen;
		} else {
			fputc(*p++, m);
		}
	}
	fprintf(m, "Exit status is %d\n", status);
	fclose(m);
	return buf;
}

static int golden_compare(const char *dir, const char *file, const char *got)
{
	char path[PATH_MAX + 16];
	char *want;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (getenv("UDAX_FSCK_UPDATE") && *getenv("UDAX_FSCK_UPDATE") == '1')
		return write_text(path, got) ? -1 : 0;
	want = read_text(path);
	ok = want && !strcmp(want, got);
	if (!ok)
		fprintf(stderr, "  %s differs\n--- expected:\n%s--- got:\n%s",
			path, want ? want : "(missing)\n", got);
	free(want);
	return ok ? 0 : -1;
}

static int run_golden(const char *dir)
{
	char path[PATH_MAX + 16];
	char *script, *out1 = NULL, *out2 = NULL, *n1 = NULL, *n2 = NULL;
	struct img im;
	int r1, r2, ret = T_FAIL;

	snprintf(path, sizeof(path), "%s/script", dir);
	script = read_text(path);
	if (!script) {
		fprintf(stderr, "  cannot read %s\n", path);
		return T_FAIL;
	}
	memset(&im, 0, sizeof(im));
	snprintf(im.path, sizeof(im.path), "/dev/shm/udax-t_fsck-g%d.img",
		 (int)getpid());
	if (img_build(&im, script)) {
		fprintf(stderr, "  building the image: %s\n", im.err);
		goto out;
	}
	r1 = run_fsck(im.path, FSCK_YES, &out1);
	r2 = run_fsck(im.path, FSCK_NO, &out2);
	n1 = normalize(out1, im.path, r1);
	n2 = normalize(out2, im.path, r2);
	if (!golden_compare(dir, "expect.1", n1) &&
	    !golden_compare(dir, "expect.2", n2))
		ret = T_PASS;
out:
	free(out1);
	free(out2);
	free(n1);
	free(n2);
	free(script);
	unlink(im.path);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int selected(int argc, char **argv, const char *name)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return 0;
}

static int report(const char *name, int r)
{
	if (r == T_PASS)
		printf("PASS fsck/%s\n", name);
	else if (r == T_SKIP)
		printf("SKIP fsck/%s: %s\n", name, test_skip_reason);
	else
		printf("FAIL fsck/%s\n", name);
	fflush(stdout);
	return r == T_FAIL;
}

int main(int argc, char **argv)
{
	const char *gdir = getenv("UDAX_FSCK_IMAGES");
	char *names[256];
	size_t nnames = 0;
	int failed = 0;
	DIR *d;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (selected(argc, argv, cases[i].name))
			failed |= report(cases[i].name, run_case(&cases[i]));
	if (selected(argc, argv, "random"))
		failed |= report("random", case_random());

	if (!gdir)
		gdir = "tests/fsck-images";
	d = opendir(gdir);
	if (!d) {
		if (selected(argc, argv, "golden")) {
			snprintf(test_skip_reason, sizeof(test_skip_reason),
				 "no %s (run from the source tree, or set "
				 "UDAX_FSCK_IMAGES)",
				 gdir);
			report("golden", T_SKIP);
		}
		return failed;
	}
	for (struct dirent *e; (e = readdir(d)) && nnames < 256;) {
		char script[PATH_MAX];
		struct stat st;
		snprintf(script, sizeof(script), "%s/%s/script", gdir,
			 e->d_name);
		if (e->d_name[0] != '.' && !stat(script, &st))
			names[nnames++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, nnames, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < nnames; i++) {
		char name[300], dir[PATH_MAX / 2];
		snprintf(name, sizeof(name), "golden/%s", names[i]);
		snprintf(dir, sizeof(dir), "%s/%s", gdir, names[i]);
		if (selected(argc, argv, name))
			failed |= report(name, run_golden(dir));
		free(names[i]);
	}
	return failed;
}
