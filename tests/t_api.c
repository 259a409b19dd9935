/* SPDX-License-Identifier: MIT */
/*
 * t_api.c - the API's errors and permissions, table-driven, and
 * operations on different files from many threads at once.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <udax.h>
#include <unistd.h>

#include "api/api.h"
#include "format/format.h"
#include "test.h"
#include "util.h"

static struct udax_fs *fs;

static int mk(const char *p, size_t size)
{
	struct udax_file *f;
	char buf[256] = {1};
	int ret = udax_file_open(fs, p, O_CREAT | O_WRONLY, 0644, &f);
	if (ret)
		return ret;
	for (size_t o = 0; o < size; o += sizeof(buf))
		udax_pwrite(f, buf,
			    size - o < sizeof(buf) ? size - o : sizeof(buf),
			    (off_t)o);
	return udax_file_close(&f);
}

static int setup(void)
{
	if (udax_open_memory(&fs, 32 << 20))
		return -1;
	int r = 0;
	r |= udax_mkdir(fs, "/dir", 0755);
	r |= udax_mkdir(fs, "/dir/sub", 0755);
	r |= udax_mkdir(fs, "/empty", 0755);
	r |= mk("/file", 1000);
	r |= mk("/dir/file", 10);
	r |= udax_symlink(fs, "file", "/link");
	r |= udax_symlink(fs, "loop2", "/loop1");
	r |= udax_symlink(fs, "loop1", "/loop2");
	r |= udax_symlink(fs, "nowhere", "/dangling");
	r |= udax_mkdir(fs, "/private", 0700);
	r |= udax_mkdir(fs, "/sticky", 01777);
	r |= mk("/sticky/rootfile", 1);
	r |= udax_mknod(fs, "/fifo", S_IFIFO | 0666, 0);
	r |= udax_mknod(fs, "/chr", S_IFCHR | 0666, makedev(1, 3));
	r |= udax_setxattr(fs, "/file", "user.a", "1", 1, 0);
	r |= udax_setxattr(fs, "/file", "user.hello", "hello", 5, 0);
	return r;
}

static char long_name[300];

/* One row: an operation and the errno it must give. */
struct errno_case {
	const char *what;
	int (*op)(void);
	int want;
};

#define OP(name, expr)                                                         \
	static int name(void)                                                  \
	{                                                                      \
		return (expr);                                                 \
	}

static int open_ret(const char *p, int flags)
{
	struct udax_file *f;
	int ret = udax_file_open(fs, p, flags, 0644, &f);
	if (!ret)
		udax_file_close(&f);
	return ret;
}

OP(o_missing, open_ret("/nope", O_RDONLY))
OP(o_missing_dir, open_ret("/nope/x", O_CREAT | O_RDWR))
OP(o_notdir, open_ret("/file/x", O_RDONLY))
OP(o_excl, open_ret("/file", O_CREAT | O_EXCL | O_RDWR))
OP(o_dir_write, open_ret("/dir", O_RDWR))
OP(o_dir_creat, open_ret("/dir", O_CREAT | O_RDONLY))
OP(o_directory, open_ret("/file", O_RDONLY | O_DIRECTORY))
OP(o_nofollow, open_ret("/link", O_RDONLY | O_NOFOLLOW))
OP(o_loop, open_ret("/loop1", O_RDONLY))
OP(o_dangling, open_ret("/dangling", O_RDONLY))
OP(o_toolong, open_ret(long_name, O_CREAT | O_RDWR))
OP(o_badacc, open_ret("/file", O_ACCMODE))
OP(o_empty, open_ret("", O_RDONLY))
OP(o_trailing, open_ret("/file/", O_RDONLY))
OP(m_exists, udax_mkdir(fs, "/dir", 0755))
OP(m_exists_file, udax_mkdir(fs, "/file", 0755))
OP(m_root, udax_mkdir(fs, "/", 0755))
OP(m_missing_parent, udax_mkdir(fs, "/a/b", 0755))
OP(m_dot, udax_mkdir(fs, "/dir/.", 0755))
OP(r_notempty, udax_rmdir(fs, "/dir"))
OP(r_notdir, udax_rmdir(fs, "/file"))
OP(r_root, udax_rmdir(fs, "/"))
OP(r_dot, udax_rmdir(fs, "/dir/."))
OP(r_dotdot, udax_rmdir(fs, "/dir/sub/.."))
OP(r_missing, udax_rmdir(fs, "/nope"))
OP(u_dir, udax_unlink(fs, "/dir"))
OP(u_missing, udax_unlink(fs, "/nope"))
OP(u_trailing, udax_unlink(fs, "/file/"))
OP(n_into_self, udax_rename(fs, "/dir", "/dir/sub/x", 0))
OP(n_dir_over_file, udax_rename(fs, "/dir", "/file", 0))
OP(n_file_over_dir, udax_rename(fs, "/file", "/empty", 0))
OP(n_over_nonempty, udax_rename(fs, "/empty", "/dir", 0))
OP(n_noreplace, udax_rename(fs, "/file", "/dir/file", RENAME_NOREPLACE))
OP(n_exchange_missing, udax_rename(fs, "/file", "/nope", RENAME_EXCHANGE))
OP(n_badflags,
   udax_rename(fs, "/file", "/x", RENAME_NOREPLACE | RENAME_EXCHANGE))
OP(n_missing, udax_rename(fs, "/nope", "/x", 0))
OP(n_same, udax_rename(fs, "/file", "/file", 0))
OP(n_dot, udax_rename(fs, "/dir/.", "/x", 0))
OP(l_dir, udax_link(fs, "/dir", "/dirlink"))
OP(l_exists, udax_link(fs, "/file", "/dir/file"))
OP(l_missing, udax_link(fs, "/nope", "/x"))
OP(s_exists, udax_symlink(fs, "x", "/file"))
OP(s_empty, udax_symlink(fs, "", "/x"))
static int rl_notlink(void)
{
	char b[16];
	return (int)udax_readlink(fs, "/file", b, sizeof(b));
}
static int rl_short(void)
{
	char b[2];
	return (int)udax_readlink(fs, "/link", b, sizeof(b)); /* 2 */
}

static int fd_ops(int which)
{
	struct udax_file *f;
	char b[8];
	int ret = udax_file_open(fs, "/file", O_RDONLY, 0, &f);
	if (ret)
		return ret;
	switch (which) {
	case 0:
		ret = (int)udax_pwrite(f, "x", 1, 0);
		break;
	case 1:
		ret = udax_ftruncate(f, 0);
		break;
	case 2:
		ret = (int)udax_pread(f, b, 1, -1);
		break;
	case 3:
		ret = udax_fallocate(f, 0, 0, 10);
		break;
	case 4:
		ret = (int)udax_lseek(f, 5000, SEEK_DATA);
		break;
	case 5:
		ret = (int)udax_lseek(f, -1, SEEK_SET);
		break;
	case 6:
		ret = (int)udax_lseek(f, 0, 99);
		break;
	}
	udax_file_close(&f);
	return ret;
}
static int fdrw_ops(int which)
{
	struct udax_file *f;
	int ret = udax_file_open(fs, "/file", O_RDWR, 0, &f);
	if (ret)
		return ret;
	switch (which) {
	case 0:
		ret = udax_fallocate(f, FALLOC_FL_PUNCH_HOLE, 0, 10);
		break;
	case 1:
		ret = udax_fallocate(f, 0x100, 0, 10);
		break;
	case 2:
		ret = udax_fallocate(f, 0, 0, 0);
		break;
	case 3:
		ret = udax_ftruncate(f, -1);
		break;
	case 4:
		ret = udax_ftruncate(f, (off_t)1 << 50);
		break;
	case 5:
		ret = (int)udax_pwrite(f, "x", 1, (off_t)1 << 50);
		break;
	case 6:
		ret = udax_fallocate(f, 0, (off_t)1 << 45, 4096);
		break;
	}
	udax_file_close(&f);
	return ret;
}
OP(f_write_ro, fd_ops(0))
OP(f_trunc_ro, fd_ops(1))
OP(f_read_neg, fd_ops(2))
OP(f_falloc_ro, fd_ops(3))
OP(f_seek_data_eof, fd_ops(4))
OP(f_seek_neg, fd_ops(5))
OP(f_seek_whence, fd_ops(6))
OP(f_punch_nokeep, fdrw_ops(0))
OP(f_falloc_mode, fdrw_ops(1))
OP(k_exists, udax_mknod(fs, "/file", S_IFIFO | 0644, 0))
OP(k_missing_dir, udax_mknod(fs, "/nope/p", S_IFIFO | 0644, 0))
OP(k_notdir, udax_mknod(fs, "/file/p", S_IFIFO | 0644, 0))
OP(k_dir, udax_mknod(fs, "/kd", S_IFDIR | 0755, 0))
OP(k_badtype, udax_mknod(fs, "/kb", 0150000 | 0644, 0))
OP(k_badmajor, udax_mknod(fs, "/kc", S_IFCHR | 0644, makedev(4096, 0)))
OP(k_toolong, udax_mknod(fs, long_name, S_IFIFO | 0644, 0))
OP(k_trailing, udax_mknod(fs, "/kt/", S_IFIFO | 0644, 0))
OP(k_open_fifo, open_ret("/fifo", O_RDONLY))
OP(k_open_chr, open_ret("/chr", O_RDWR))
OP(k_dir_open, udax_dir_open(fs, "/fifo", &(struct udax_dir *){NULL}))
OP(x_create_exists, udax_setxattr(fs, "/file", "user.a", "2", 1, XATTR_CREATE))
OP(x_replace_missing,
   udax_setxattr(fs, "/file", "user.b", "2", 1, XATTR_REPLACE))
OP(x_badflags, udax_setxattr(fs, "/file", "user.b", "2", 1, 4))
OP(x_get_missing, (int)udax_getxattr(fs, "/file", "user.b", NULL, 0))
OP(x_get_probe, (int)udax_getxattr(fs, "/file", "user.a", NULL, 0))
OP(x_get_small, (int)udax_getxattr(fs, "/file", "user.hello", (char[2]){0}, 2))
OP(x_remove_missing, udax_removexattr(fs, "/file", "user.b"))
OP(x_unknown_ns, udax_setxattr(fs, "/file", "os2.x", "2", 1, 0))
OP(x_unknown_system, udax_setxattr(fs, "/file", "system.x", "2", 1, 0))
OP(x_get_unknown, (int)udax_getxattr(fs, "/file", "foo.x", NULL, 0))
OP(x_empty_suffix, udax_setxattr(fs, "/file", "user.", "2", 1, 0))
OP(x_empty_name, udax_setxattr(fs, "/file", "", "2", 1, 0))
OP(x_name_long, udax_setxattr(fs, "/file", long_name + 40, "2", 1, 0))
OP(x_too_big, udax_setxattr(fs, "/file", "user.big", long_name, 65537, 0))
OP(x_user_fifo, udax_setxattr(fs, "/fifo", "user.x", "2", 1, 0))
OP(x_user_fifo_get, (int)udax_getxattr(fs, "/fifo", "user.x", NULL, 0))
OP(x_user_symlink, udax_lsetxattr(fs, "/link", "user.x", "2", 1, 0))
OP(x_trusted_symlink, udax_lsetxattr(fs, "/link", "trusted.x", "2", 1, 0))
OP(x_acl_symlink,
   udax_lsetxattr(fs, "/link", "system.posix_acl_access", "\2\0\0\0", 4, 0))
OP(x_acl_bad, udax_setxattr(fs, "/file", "system.posix_acl_access", "1", 1, 0))
OP(x_acl_version,
   udax_setxattr(fs, "/file", "system.posix_acl_access", "\1\0\0\0", 4, 0))
OP(x_acl_default_file,
   udax_setxattr(fs, "/file", "system.posix_acl_default", "\2\0\0\0", 4, 0))
OP(x_missing_path, udax_setxattr(fs, "/nope", "user.x", "2", 1, 0))
OP(x_list_missing, (int)udax_listxattr(fs, "/nope", NULL, 0))
OP(x_list_probe, (int)udax_listxattr(fs, "/file", NULL, 0))
OP(x_list_small, (int)udax_listxattr(fs, "/file", (char[4]){0}, 4))
OP(x_fnull, udax_fsetxattr(NULL, "user.x", "2", 1, 0))
/* Linux decides by the prefix before it parses the name */
OP(x_user_empty_symlink, udax_lsetxattr(fs, "/link", "user.", "2", 1, 0))

OP(f_falloc_zero, fdrw_ops(2))
OP(f_trunc_neg, fdrw_ops(3))
OP(f_trunc_big, fdrw_ops(4))
OP(f_write_big, fdrw_ops(5))
OP(f_falloc_big, fdrw_ops(6))

static const struct errno_case errno_cases[] = {
	{"open missing", o_missing, -ENOENT},
	{"create in missing dir", o_missing_dir, -ENOENT},
	{"open through a file", o_notdir, -ENOTDIR},
	{"O_EXCL on existing", o_excl, -EEXIST},
	{"open dir for writing", o_dir_write, -EISDIR},
	{"O_CREAT on a dir", o_dir_creat, -EISDIR},
	{"O_DIRECTORY on a file", o_directory, -ENOTDIR},
	{"O_NOFOLLOW on a symlink", o_nofollow, -ELOOP},
	{"symlink loop", o_loop, -ELOOP},
	{"dangling symlink", o_dangling, -ENOENT},
	{"name too long", o_toolong, -ENAMETOOLONG},
	{"bad access mode", o_badacc, -EINVAL},
	{"empty path", o_empty, -ENOENT},
	{"file with trailing slash", o_trailing, -ENOTDIR},
	{"mkdir existing", m_exists, -EEXIST},
	{"mkdir over file", m_exists_file, -EEXIST},
	{"mkdir /", m_root, -EEXIST},
	{"mkdir missing parent", m_missing_parent, -ENOENT},
	{"mkdir dir/.", m_dot, -EEXIST},
	{"rmdir non-empty", r_notempty, -ENOTEMPTY},
	{"rmdir file", r_notdir, -ENOTDIR},
	{"rmdir /", r_root, -EBUSY},
	{"rmdir dir/.", r_dot, -EINVAL},
	{"rmdir dir/..", r_dotdot, -ENOTEMPTY},
	{"rmdir missing", r_missing, -ENOENT},
	{"unlink dir", u_dir, -EISDIR},
	{"unlink missing", u_missing, -ENOENT},
	{"unlink file/", u_trailing, -ENOTDIR},
	{"rename into itself", n_into_self, -EINVAL},
	{"rename dir over file", n_dir_over_file, -ENOTDIR},
	{"rename file over dir", n_file_over_dir, -EISDIR},
	{"rename over non-empty", n_over_nonempty, -ENOTEMPTY},
	{"RENAME_NOREPLACE", n_noreplace, -EEXIST},
	{"RENAME_EXCHANGE missing", n_exchange_missing, -ENOENT},
	{"rename bad flags", n_badflags, -EINVAL},
	{"rename missing", n_missing, -ENOENT},
	{"rename to itself", n_same, 0},
	{"rename dir/.", n_dot, -EBUSY},
	{"link a dir", l_dir, -EPERM},
	{"link existing", l_exists, -EEXIST},
	{"link missing", l_missing, -ENOENT},
	{"symlink existing", s_exists, -EEXIST},
	{"symlink empty target", s_empty, -ENOENT},
	{"readlink a file", rl_notlink, -EINVAL},
	{"readlink short buffer", rl_short, 2},
	{"write read-only fd", f_write_ro, -EBADF},
	{"ftruncate read-only fd", f_trunc_ro, -EINVAL},
	{"pread negative offset", f_read_neg, -EINVAL},
	{"fallocate read-only fd", f_falloc_ro, -EBADF},
	{"SEEK_DATA past EOF", f_seek_data_eof, -ENXIO},
	{"lseek negative", f_seek_neg, -EINVAL},
	{"lseek bad whence", f_seek_whence, -EINVAL},
	{"punch without KEEP_SIZE", f_punch_nokeep, -EOPNOTSUPP},
	{"fallocate unknown mode", f_falloc_mode, -EOPNOTSUPP},
	{"fallocate length 0", f_falloc_zero, -EINVAL},
	{"ftruncate negative", f_trunc_neg, -EINVAL},
	{"ftruncate too big", f_trunc_big, -EFBIG},
	{"pwrite past max size", f_write_big, -EFBIG},
	{"fallocate past max size", f_falloc_big, -EFBIG},
	{"mknod existing", k_exists, -EEXIST},
	{"mknod in missing dir", k_missing_dir, -ENOENT},
	{"mknod through a file", k_notdir, -ENOTDIR},
	{"mknod a directory", k_dir, -EPERM},
	{"mknod unknown type", k_badtype, -EINVAL},
	{"mknod major out of range", k_badmajor, -EINVAL},
	{"mknod name too long", k_toolong, -ENAMETOOLONG},
	{"mknod name/", k_trailing, -ENOENT},
	{"open a fifo", k_open_fifo, -ENXIO},
	{"open a device", k_open_chr, -ENXIO},
	{"dir_open a fifo", k_dir_open, -ENOTDIR},
	{"XATTR_CREATE existing", x_create_exists, -EEXIST},
	{"XATTR_REPLACE missing", x_replace_missing, -ENODATA},
	{"setxattr bad flags", x_badflags, -EINVAL},
	{"getxattr missing", x_get_missing, -ENODATA},
	{"getxattr size probe", x_get_probe, 1},
	{"getxattr short buffer", x_get_small, -ERANGE},
	{"removexattr missing", x_remove_missing, -ENODATA},
	{"setxattr unknown namespace", x_unknown_ns, -EOPNOTSUPP},
	{"setxattr system.x", x_unknown_system, -EOPNOTSUPP},
	{"getxattr unknown namespace", x_get_unknown, -EOPNOTSUPP},
	{"setxattr user.", x_empty_suffix, -EINVAL},
	{"setxattr empty name", x_empty_name, -ERANGE},
	{"setxattr name of 259 bytes", x_name_long, -ERANGE},
	{"setxattr value too big", x_too_big, -E2BIG},
	{"user.* on a fifo", x_user_fifo, -EPERM},
	{"get user.* of a fifo", x_user_fifo_get, -ENODATA},
	{"user.* on a symlink", x_user_symlink, -EPERM},
	{"trusted.* on a symlink", x_trusted_symlink, 0},
	{"ACL on a symlink", x_acl_symlink, -EOPNOTSUPP},
	{"ACL that does not parse", x_acl_bad, -EINVAL},
	{"ACL of another version", x_acl_version, -EOPNOTSUPP},
	{"default ACL on a file", x_acl_default_file, -EACCES},
	{"setxattr missing path", x_missing_path, -ENOENT},
	{"listxattr missing path", x_list_missing, -ENOENT},
	{"listxattr size probe", x_list_probe, 18},
	{"listxattr short buffer", x_list_small, -ERANGE},
	{"fsetxattr NULL file", x_fnull, -EBADF},
	{"user. on a symlink", x_user_empty_symlink, -EPERM},
};

static int api_errnos(void)
{
	int bad = 0;

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[0] = '/';
	CHECK_EQ(setup(), 0);
	for (size_t i = 0; i < sizeof(errno_cases) / sizeof(errno_cases[0]);
	     i++) {
		int got = errno_cases[i].op();
		if (got != errno_cases[i].want) {
			fprintf(stderr, "  %s: got %d (%s), want %d (%s)\n",
				errno_cases[i].what, got, udax_strerror(got),
				errno_cases[i].want,
				udax_strerror(errno_cases[i].want));
			bad = 1;
		}
	}
	CHECK_EQ(udax_close(&fs), 0);
	return bad ? T_FAIL : T_PASS;
}

/* Permissions as an unprivileged user (uid 1000) and a second one. */
static int api_permissions(void)
{
	struct udax_cred alice = {.uid = 1000, .gid = 1000};
	struct udax_cred bob = {.uid = 1001, .gid = 1001};
	struct udax_file *f;
	struct stat st;

	CHECK_EQ(setup(), 0);
	CHECK_EQ(udax_cred_set(&alice), 0);
	CHECK_EQ(udax_mkdir(fs, "/alice", 0755), -EACCES); /* / is 0755 root */
	CHECK_EQ(udax_file_open(fs, "/private/x", O_CREAT | O_RDWR, 0644, &f),
		 -EACCES);
	CHECK_EQ(udax_stat(fs, "/private/x", &st), -EACCES);
	CHECK_EQ(udax_file_open(fs, "/file", O_RDWR, 0, &f), -EACCES);
	CHECK_EQ(udax_file_open(fs, "/file", O_RDONLY, 0, &f), 0);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_chmod(fs, "/file", 0777), -EPERM);
	CHECK_EQ(udax_chown(fs, "/file", 1000, 1000), -EPERM);
	CHECK_EQ(udax_unlink(fs, "/dir/file"), -EACCES);
	/* in the sticky /tmp-like directory */
	CHECK_EQ(udax_file_open(fs, "/sticky/a", O_CREAT | O_RDWR, 0600, &f),
		 0);
	CHECK_EQ(udax_fstat(f, &st), 0);
	CHECK_EQ(st.st_uid, 1000);
	CHECK_EQ(st.st_gid, 1000);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_unlink(fs, "/sticky/rootfile"), -EPERM);
	CHECK_EQ(udax_chmod(fs, "/sticky/a", 0640), 0);
	CHECK_EQ(udax_access(fs, "/sticky/a", R_OK | W_OK), 0);
	CHECK_EQ(udax_access(fs, "/sticky/a", X_OK), -EACCES);
	CHECK_EQ(udax_cred_set(&bob), 0);
	CHECK_EQ(udax_file_open(fs, "/sticky/a", O_RDONLY, 0, &f), -EACCES);
	CHECK_EQ(udax_unlink(fs, "/sticky/a"), -EPERM);
	CHECK_EQ(udax_rename(fs, "/sticky/a", "/sticky/b", 0), -EPERM);
	struct timespec ts[2] = {{1, 0}, {1, 0}};
	CHECK_EQ(udax_utimens(fs, "/sticky/a", ts, 0), -EPERM);
	CHECK_EQ(udax_utimens(fs, "/sticky/a", NULL, 0), -EACCES);
	CHECK_EQ(udax_cred_set(&alice), 0);
	CHECK_EQ(udax_utimens(fs, "/sticky/a", ts, 0), 0);
	CHECK_EQ(udax_unlink(fs, "/sticky/a"), 0);
	/* a write or truncate by someone without CAP_FSETID drops set-ID
	 * bits (set-group-ID only on a group-executable file); root's not */
	CHECK_EQ(udax_cred_set(NULL), 0);
	CHECK_EQ(udax_file_open(fs, "/sticky/s", O_CREAT | O_RDWR, 0, &f), 0);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_chmod(fs, "/sticky/s", 06777), 0);
	CHECK_EQ(udax_file_open(fs, "/sticky/s", O_RDWR, 0, &f), 0);
	CHECK_EQ(udax_pwrite(f, "r", 1, 0), 1);
	CHECK_EQ(udax_fstat(f, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 06777);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_cred_set(&bob), 0);
	CHECK_EQ(udax_file_open(fs, "/sticky/s", O_RDWR, 0, &f), 0);
	CHECK_EQ(udax_pwrite(f, "b", 1, 0), 1);
	CHECK_EQ(udax_fstat(f, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0777);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_cred_set(NULL), 0);
	CHECK_EQ(udax_chmod(fs, "/sticky/s", 02767), 0);
	CHECK_EQ(udax_chown(fs, "/sticky/s", 0, 1001), 0);
	CHECK_EQ(udax_cred_set(&bob), 0);
	CHECK_EQ(udax_file_open(fs, "/sticky/s", O_RDWR, 0, &f), 0);
	CHECK_EQ(udax_ftruncate(f, 0), 0);
	CHECK_EQ(udax_fstat(f, &st), 0);
	/* not group-executable, and bob is in the file's group: stays */
	CHECK_EQ(st.st_mode & 07777, 02767);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_cred_set(&alice), 0);
	CHECK_EQ(udax_file_open(fs, "/sticky/s", O_RDWR, 0, &f), 0);
	CHECK_EQ(udax_ftruncate(f, 0), 0);
	CHECK_EQ(udax_fstat(f, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0767); /* alice is not: dropped */
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_cred_set(NULL), 0);
	/* root may do it all again */
	CHECK_EQ(udax_chown(fs, "/file", 1000, 1000), 0);
	CHECK_EQ(udax_stat(fs, "/file", &st), 0);
	CHECK_EQ(st.st_uid, 1000);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* Unlinked while open: the data lives until the last close. */
static int api_open_unlinked(void)
{
	struct udax_file *f;
	struct statvfs s0, s1;
	char b[5];

	CHECK_EQ(setup(), 0);
	CHECK_EQ(warm_dir(fs, "/"), 0);
	CHECK_EQ(udax_statfs(fs, &s0), 0);
	CHECK_EQ(udax_file_open(fs, "/tmpf", O_CREAT | O_RDWR, 0600, &f), 0);
	CHECK_EQ(udax_pwrite(f, "hello", 5, 100000), 5);
	CHECK_EQ(udax_unlink(fs, "/tmpf"), 0);
	CHECK_EQ(udax_pread(f, b, 5, 100000), 5);
	CHECK(!memcmp(b, "hello", 5));
	CHECK_EQ(udax_close(&fs), -EBUSY);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_statfs(fs, &s1), 0);
	CHECK_EQ(s1.f_bfree, s0.f_bfree);
	CHECK_EQ(s1.f_ffree, s0.f_ffree);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* fchmod, fchown, futimens act on the handle's inode, named or not, with
 * the permission rules of their path forms. */
static int api_fattr(void)
{
	struct udax_cred alice = {.uid = 1000, .gid = 1000};
	struct timespec ts[2] = {{5, 0}, {7, 0}};
	struct udax_file *f, *g;
	struct stat st;

	CHECK_EQ(setup(), 0);
	CHECK_EQ(udax_file_open(fs, "/fa", O_CREAT | O_RDWR, 04755, &f), 0);
	CHECK_EQ(udax_unlink(fs, "/fa"), 0);
	CHECK_EQ(udax_fchmod(f, 0640), 0);
	CHECK_EQ(udax_fchown(f, 1000, 1000), 0);
	CHECK_EQ(udax_futimens(f, ts), 0);
	CHECK_EQ(udax_fstat(f, &st), 0);
	CHECK_EQ(st.st_mode, S_IFREG | 0640);
	CHECK_EQ(st.st_uid, 1000);
	CHECK_EQ(st.st_mtim.tv_sec, 7);
	CHECK_EQ(st.st_atim.tv_sec, 5);
	CHECK_EQ(udax_file_open(fs, "/file", O_RDONLY, 0, &g), 0);
	CHECK_EQ(udax_cred_set(&alice), 0);
	CHECK_EQ(udax_fchmod(g, 0777), -EPERM); /* root's file */
	CHECK_EQ(udax_fchown(g, 1000, -1), -EPERM);
	CHECK_EQ(udax_futimens(g, ts), -EPERM);
	CHECK_EQ(udax_fchmod(f, 0600), 0); /* alice's now */
	CHECK_EQ(udax_cred_set(NULL), 0);
	CHECK_EQ(udax_fchmod(NULL, 0600), -EBADF);
	CHECK_EQ(udax_file_close(&g), 0);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* udax_dir_read_stat gives each entry with what udax_lstat says of it. */
static int api_dir_read_stat(void)
{
	struct udax_dirent ent;
	struct udax_dir *d;
	struct stat st, ls;
	char path[300];
	int n = 0, ret;

	CHECK_EQ(setup(), 0);
	CHECK_EQ(udax_dir_open(fs, "/", &d), 0);
	while ((ret = udax_dir_read_stat(d, &ent, &st)) == 1) {
		snprintf(path, sizeof(path), "/%s", ent.name);
		CHECK_EQ(udax_lstat(fs, path, &ls), 0);
		CHECK_EQ(st.st_ino, ent.ino);
		CHECK_EQ(st.st_ino, ls.st_ino);
		CHECK_EQ(st.st_mode, ls.st_mode);
		CHECK_EQ(st.st_size, ls.st_size);
		CHECK_EQ(st.st_nlink, ls.st_nlink);
		n++;
	}
	CHECK_EQ(ret, 0);
	CHECK(n >= 4); /* ".", "..", "file", "link" at least */
	CHECK_EQ(udax_dir_close(&d), 0);
	CHECK_EQ(udax_dir_read_stat(NULL, &ent, &st), -EBADF);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

#define NTHREADS 4
static void *thread_work(void *arg)
{
	long id = (long)arg;
	char path[64], buf[10000];
	for (int round = 0; round < 200; round++) {
		struct udax_file *f;
		snprintf(path, sizeof(path), "/dir/t%ld-%d", id, round % 10);
		if (udax_file_open(fs, path, O_CREAT | O_RDWR, 0644, &f))
			return (void *)1;
		memset(buf, (int)(id + round), sizeof(buf));
		if (udax_pwrite(f, buf, sizeof(buf), round * 1000) !=
		    sizeof(buf))
			return (void *)2;
		char back[10000];
		if (udax_pread(f, back, sizeof(back), round * 1000) !=
			    sizeof(back) ||
		    memcmp(buf, back, sizeof(buf)))
			return (void *)3;
		if (round % 3 == 0 && udax_ftruncate(f, 5000))
			return (void *)4;
		udax_file_close(&f);
		if (round % 10 == 9) {
			char to[64];
			snprintf(to, sizeof(to), "/dir/sub/t%ld-%d", id, round);
			if (udax_rename(fs, path, to, 0) || udax_unlink(fs, to))
				return (void *)5;
		}
	}
	return NULL;
}

static int api_threads(void)
{
	pthread_t th[NTHREADS];
	struct statvfs s0, s1;
	int bad = 0;

	CHECK_EQ(setup(), 0);
	CHECK_EQ(warm_dir(fs, "/dir/sub"), 0);
	CHECK_EQ(udax_statfs(fs, &s0), 0);
	for (long i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, thread_work, (void *)i),
			 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *r;
		pthread_join(th[i], &r);
		if (r) {
			fprintf(stderr, "  thread %d failed at step %ld\n", i,
				(long)r);
			bad = 1;
		}
	}
	CHECK(!bad);
	for (long i = 0; i < NTHREADS; i++)
		for (int k = 0; k < 9; k++) {
			char path[64];
			snprintf(path, sizeof(path), "/dir/t%ld-%d", i, k);
			CHECK_EQ(udax_unlink(fs, path), 0);
		}
	CHECK_EQ(udax_statfs(fs, &s1), 0);
	CHECK_EQ(s1.f_bfree, s0.f_bfree);
	CHECK_EQ(s1.f_ffree, s0.f_ffree);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* Special files: types, st_rdev, who may make device nodes, and what a
 * FIFO supports beside its name (chmod, link, rename, unlink). */
static int api_mknod(void)
{
	struct udax_cred alice = {.uid = 1000, .gid = 1000, .umask = 022};
	struct udax_dirent ent;
	struct udax_dir *d;
	struct stat st;
	int seen = 0;

	CHECK_EQ(setup(), 0);
	CHECK_EQ(udax_mknod(fs, "/blk", S_IFBLK | 0600, makedev(8, 1)), 0);
	CHECK_EQ(udax_mknod(fs, "/sock", S_IFSOCK | 0755, 0), 0);
	CHECK_EQ(udax_mknod(fs, "/reg", 0644, 0), 0);
	CHECK_EQ(udax_lstat(fs, "/blk", &st), 0);
	CHECK_EQ(st.st_mode, S_IFBLK | 0600);
	CHECK_EQ(major(st.st_rdev), 8);
	CHECK_EQ(minor(st.st_rdev), 1);
	CHECK_EQ(st.st_size, 0);
	CHECK_EQ(udax_lstat(fs, "/chr", &st), 0);
	CHECK_EQ(st.st_mode, S_IFCHR | 0666);
	CHECK_EQ(st.st_rdev, makedev(1, 3));
	CHECK_EQ(udax_lstat(fs, "/fifo", &st), 0);
	CHECK_EQ(st.st_mode, S_IFIFO | 0666);
	CHECK_EQ(st.st_rdev, 0);
	CHECK_EQ(udax_lstat(fs, "/sock", &st), 0);
	CHECK_EQ(st.st_mode, S_IFSOCK | 0755);
	CHECK_EQ(udax_lstat(fs, "/reg", &st), 0);
	CHECK_EQ(st.st_mode, S_IFREG | 0644);
	/* directory entries carry the types */
	CHECK_EQ(udax_dir_open(fs, "/", &d), 0);
	while (udax_dir_read(d, &ent) == 1) {
		if (!strcmp(ent.name, "fifo"))
			seen |= (ent.type == DT_FIFO) << 0;
		if (!strcmp(ent.name, "chr"))
			seen |= (ent.type == DT_CHR) << 1;
		if (!strcmp(ent.name, "blk"))
			seen |= (ent.type == DT_BLK) << 2;
		if (!strcmp(ent.name, "sock"))
			seen |= (ent.type == DT_SOCK) << 3;
	}
	CHECK_EQ(udax_dir_close(&d), 0);
	CHECK_EQ(seen, 15);
	/* a name like any other */
	CHECK_EQ(udax_chmod(fs, "/fifo", 0600), 0);
	CHECK_EQ(udax_link(fs, "/fifo", "/fifo2"), 0);
	CHECK_EQ(udax_rename(fs, "/fifo2", "/dir/fifo3", 0), 0);
	CHECK_EQ(udax_lstat(fs, "/dir/fifo3", &st), 0);
	CHECK_EQ(st.st_mode, S_IFIFO | 0600);
	CHECK_EQ(st.st_nlink, 2);
	CHECK_EQ(udax_unlink(fs, "/dir/fifo3"), 0);
	CHECK_EQ(udax_unlink(fs, "/blk"), 0);
	/* without privilege: FIFOs, sockets and a whiteout, no devices */
	CHECK_EQ(udax_chmod(fs, "/empty", 0777), 0);
	CHECK_EQ(udax_cred_set(&alice), 0);
	CHECK_EQ(udax_mknod(fs, "/empty/c", S_IFCHR | 0666, makedev(1, 3)),
		 -EPERM);
	CHECK_EQ(udax_mknod(fs, "/empty/b", S_IFBLK | 0666, makedev(8, 0)),
		 -EPERM);
	CHECK_EQ(udax_mknod(fs, "/empty/wh", S_IFCHR | 0666, 0), 0);
	CHECK_EQ(udax_mknod(fs, "/empty/p", S_IFIFO | 0666, 0), 0);
	CHECK_EQ(udax_mknod(fs, "/dir/p", S_IFIFO | 0666, 0), -EACCES);
	CHECK_EQ(udax_lstat(fs, "/empty/p", &st), 0);
	CHECK_EQ(st.st_mode, S_IFIFO | 0644); /* umask */
	CHECK_EQ(st.st_uid, 1000);
	CHECK_EQ(udax_cred_set(NULL), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* Extended attributes: values inline and in chunks, replace, remove,
 * list, the f-variants on an unlinked file, and the space coming back. */
static int api_xattr(void)
{
	static char big[65536], got[65536];
	struct statvfs s0, s1;
	struct udax_file *f;
	char list[256];
	struct stat st;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 1024);
	CHECK_EQ(setup(), 0);
	CHECK_EQ(warm_dir(fs, "/"), 0);
	CHECK_EQ(udax_statfs(fs, &s0), 0);
	CHECK_EQ(mk("/x", 10), 0);
	CHECK_EQ(udax_setxattr(fs, "/x", "user.big", big, sizeof(big), 0), 0);
	CHECK_EQ(udax_setxattr(fs, "/x", "user.mid", big, 3000, 0), 0);
	CHECK_EQ(udax_setxattr(fs, "/x", "user.empty", "", 0, 0), 0);
	CHECK_EQ(udax_setxattr(fs, "/x", "trusted.t", "tt", 2, 0), 0);
	CHECK_EQ(udax_setxattr(fs, "/x", "security.s", "ss", 2, 0), 0);
	CHECK_EQ(udax_getxattr(fs, "/x", "user.big", got, sizeof(got)),
		 (ssize_t)sizeof(big));
	CHECK(!memcmp(got, big, sizeof(big)));
	CHECK_EQ(udax_getxattr(fs, "/x", "user.mid", got, sizeof(got)), 3000);
	CHECK(!memcmp(got, big, 3000));
	CHECK_EQ(udax_getxattr(fs, "/x", "user.empty", got, sizeof(got)), 0);
	CHECK_EQ(udax_lstat(fs, "/x", &st), 0);
	CHECK(st.st_blocks > 8 * 16); /* the value's nodes count */
	/* replace: a large value by a small one and back */
	CHECK_EQ(udax_setxattr(fs, "/x", "user.big", "small", 5, XATTR_REPLACE),
		 0);
	CHECK_EQ(udax_getxattr(fs, "/x", "user.big", got, sizeof(got)), 5);
	CHECK(!memcmp(got, "small", 5));
	CHECK_EQ(udax_setxattr(fs, "/x", "user.mid", big + 1, 2999, 0), 0);
	CHECK_EQ(udax_getxattr(fs, "/x", "user.mid", got, sizeof(got)), 2999);
	CHECK(!memcmp(got, big + 1, 2999));
	ssize_t n = udax_listxattr(fs, "/x", list, sizeof(list));
	CHECK_EQ(n, 9 + 9 + 11 + 10 + 11);
	CHECK(memmem(list, (size_t)n, "user.big", 9));
	CHECK(memmem(list, (size_t)n, "trusted.t", 10));
	CHECK_EQ(udax_removexattr(fs, "/x", "user.empty"), 0);
	CHECK_EQ(udax_getxattr(fs, "/x", "user.empty", NULL, 0), -ENODATA);
	/* directories and the f-variants, also on a file with no name */
	CHECK_EQ(udax_setxattr(fs, "/dir", "user.d", "dd", 2, 0), 0);
	CHECK_EQ(udax_getxattr(fs, "/dir", "user.d", got, 2), 2);
	CHECK_EQ(udax_file_open(fs, "/x", O_RDONLY, 0, &f), 0);
	CHECK_EQ(udax_unlink(fs, "/x"), 0);
	CHECK_EQ(udax_fsetxattr(f, "user.f", big, 1500, XATTR_CREATE), 0);
	CHECK_EQ(udax_fgetxattr(f, "user.f", got, sizeof(got)), 1500);
	CHECK_EQ(udax_flistxattr(f, NULL, 0), 9 + 9 + 10 + 11 + 7);
	CHECK_EQ(udax_fremovexattr(f, "user.big"), 0);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_removexattr(fs, "/dir", "user.d"), 0);
	/* everything freed with the inode */
	CHECK_EQ(udax_statfs(fs, &s1), 0);
	CHECK_EQ(s1.f_bfree, s0.f_bfree);
	CHECK_EQ(s1.f_ffree, s0.f_ffree);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* Who may use which namespace, and the per-file limits. */
static int api_xattr_limits(void)
{
	struct udax_cred alice = {.uid = 1000, .gid = 1000};
	static char big[65536];
	char name[300], got[8];
	int i;

	CHECK_EQ(setup(), 0);
	CHECK_EQ(mk("/sticky/alice", 1), 0);
	CHECK_EQ(udax_chown(fs, "/sticky/alice", 1000, 1000), 0);
	CHECK_EQ(udax_setxattr(fs, "/file", "trusted.t", "t", 1, 0), 0);
	CHECK_EQ(udax_setxattr(fs, "/file", "security.s", "s", 1, 0), 0);
	CHECK_EQ(udax_cred_set(&alice), 0);
	/* root's 0644 file: alice reads user.*, may not write it */
	CHECK_EQ(udax_getxattr(fs, "/file", "user.a", got, sizeof(got)), 1);
	CHECK_EQ(udax_setxattr(fs, "/file", "user.a", "2", 1, 0), -EACCES);
	CHECK_EQ(udax_removexattr(fs, "/file", "user.a"), -EACCES);
	CHECK_EQ(udax_getxattr(fs, "/file", "trusted.t", got, 8), -ENODATA);
	CHECK_EQ(udax_setxattr(fs, "/sticky/alice", "trusted.t", "t", 1, 0),
		 -EPERM);
	CHECK_EQ(udax_getxattr(fs, "/file", "security.s", got, 8), 1);
	CHECK_EQ(udax_setxattr(fs, "/sticky/alice", "security.s", "s", 1, 0),
		 -EPERM);
	CHECK_EQ(udax_listxattr(fs, "/file", NULL, 0), 7 + 11 + 11);
	CHECK_EQ(udax_setxattr(fs, "/file", "system.posix_acl_access",
			       "\2\0\0\0", 4, 0),
		 -EPERM);
	CHECK_EQ(udax_setxattr(fs, "/sticky/alice", "system.posix_acl_access",
			       "\2\0\0\0", 4, 0),
		 0);
	/* a sticky directory's user.* only by its owner */
	CHECK_EQ(udax_setxattr(fs, "/sticky", "user.x", "1", 1, 0), -EPERM);
	/* a name in no namespace still needs permission first */
	CHECK_EQ(udax_setxattr(fs, "/file", "foo.x", "1", 1, 0), -EACCES);
	CHECK_EQ(udax_setxattr(fs, "/file", "security.", "1", 1, 0), -EPERM);
	CHECK_EQ(udax_setxattr(fs, "/sticky/alice", "user.x", "1", 1, 0), 0);
	CHECK_EQ(udax_cred_set(NULL), 0);
	/* names: 65536 bytes with their NULs at most */
	memset(name, 'n', sizeof(name));
	memcpy(name, "user.", 5);
	name[255] = 0;
	for (i = 0; i < 300; i++) {
		snprintf(name + 5, 5, "%04u", (unsigned)i % 10000u);
		name[9] = 'n';
		int r = udax_setxattr(fs, "/empty", name, "", 0, 0);
		if (r) {
			CHECK_EQ(r, -ENOSPC);
			break;
		}
	}
	CHECK_EQ(i, 65536 / 256);
	CHECK_EQ(udax_listxattr(fs, "/empty", NULL, 0), 65536);
	/* values: 1 MiB at most */
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "user.v%d", i);
		int r = udax_setxattr(fs, "/dir", name, big, sizeof(big), 0);
		if (r) {
			CHECK_EQ(r, -ENOSPC);
			break;
		}
	}
	CHECK_EQ(i, 16);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* Set the read-only-compatible features of an image file of `size`
 * bytes, in both superblocks. Returns 0 or -1. */
static int set_ro_compat(const char *path, off_t size, uint64_t bits)
{
	int fd = open(path, O_RDWR), bad = fd < 0;

	for (int copy = 0; !bad && copy < 2; copy++) {
		struct udax_super sb;
		off_t at = copy ? size - UDAX_BLOCK_SIZE : 0;
		bad = pread(fd, &sb, sizeof(sb), at) != (ssize_t)sizeof(sb);
		sb.feat_ro_compat = bits;
		sb.crc = udax_block_crc(&sb, sizeof(sb),
					offsetof(struct udax_super, crc));
		bad = bad ||
		      pwrite(fd, &sb, sizeof(sb), at) != (ssize_t)sizeof(sb);
	}
	if (fd >= 0)
		close(fd);
	return bad ? -1 : 0;
}

/* An image made before the XATTR and SPECIAL features keeps opening
 * and answers as a kernel file system without them; one with a feature
 * this library does not know opens read-only only. */
static int api_features_off(void)
{
	struct udax_open_opts ro = {.read_only = 1, .quiet = 1};
	struct udax_open_opts quiet = {.quiet = 1};
	char path[64];
	struct udax_fs *f2;
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm/udax-t_api-%d.img",
		 (int)getpid());
	CHECK_EQ(udax_mkfs(path, &(struct udax_mkfs_opts){.size = 8 << 20}), 0);
	CHECK_EQ(udax_open(&f2, path, NULL), 0);
	struct udax_super sb0 =
		*(const struct udax_super *)udax_fs_device(f2)->base;
	CHECK_EQ(udax_close(&f2), 0);
	CHECK_EQ(sb0.feat_ro_compat,
		 UDAX_FEAT_RO_COMPAT_XATTR | UDAX_FEAT_RO_COMPAT_SPECIAL);
	CHECK_EQ(set_ro_compat(path, 8 << 20, 0), 0);
	CHECK_EQ(udax_open(&f2, path, NULL), 0);
	CHECK_EQ(udax_mkdir(f2, "/d", 0755), 0);
	CHECK_EQ(udax_mknod(f2, "/d/p", S_IFIFO | 0644, 0), -EPERM);
	CHECK_EQ(udax_mknod(f2, "/d/c", S_IFCHR | 0644, makedev(1, 3)), -EPERM);
	CHECK_EQ(udax_mknod(f2, "/d/r", S_IFREG | 0644, 0), 0);
	CHECK_EQ(udax_lstat(f2, "/d/r", &st), 0);
	CHECK_EQ(st.st_mode, S_IFREG | 0644);
	CHECK_EQ(udax_setxattr(f2, "/d", "user.a", "1", 1, 0), -EOPNOTSUPP);
	CHECK_EQ(udax_getxattr(f2, "/d", "user.a", NULL, 0), -EOPNOTSUPP);
	CHECK_EQ(udax_removexattr(f2, "/d", "user.a"), -EOPNOTSUPP);
	CHECK_EQ(udax_listxattr(f2, "/d", NULL, 0), 0);
	CHECK_EQ(udax_close(&f2), 0);
	/* a bit from the future: read-only opening only */
	CHECK_EQ(set_ro_compat(path, 8 << 20, UDAX_FEAT_RO_COMPAT_XATTR | 0x8),
		 0);
	CHECK_EQ(udax_open(&f2, path, &quiet), -EROFS);
	CHECK_EQ(udax_open(&f2, path, &ro), 0);
	CHECK_EQ(udax_lstat(f2, "/d/r", &st), 0);
	CHECK_EQ(udax_close(&f2), 0);
	unlink(path);
	return T_PASS;
}

/* Replacing large values in a file system with the smallest journal
 * (256 KiB): each replace is one transaction that must fit. */
static int api_xattr_small_journal(void)
{
	static char a[65536], b[65536], got[65536];
	struct udax_fs *f2;
	char path[64], name[32];

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	snprintf(path, sizeof(path), "/dev/shm/udax-t_api-j%d.img",
		 (int)getpid());
	CHECK_EQ(udax_mkfs(path,
			   &(struct udax_mkfs_opts){.size = 16 << 20,
						    .journal_size = 256 << 10}),
		 0);
	CHECK_EQ(udax_open(&f2, path, NULL), 0);
	CHECK_EQ(udax_mkdir(f2, "/d", 0755), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "user.v%d", i);
		CHECK_EQ(udax_setxattr(f2, "/d", name, a, sizeof(a), 0), 0);
	}
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "user.v%d", i);
		CHECK_EQ(udax_setxattr(f2, "/d", name, b, sizeof(b) - i * 5000,
				       XATTR_REPLACE),
			 0);
		CHECK_EQ(udax_getxattr(f2, "/d", name, got, sizeof(got)),
			 (ssize_t)sizeof(b) - i * 5000);
		CHECK(!memcmp(got, b, sizeof(b) - (size_t)i * 5000));
	}
	CHECK_EQ(udax_rmdir(f2, "/d"), 0);
	CHECK_EQ(udax_close(&f2), 0);
	unlink(path);
	return T_PASS;
}

static const struct test_case tests[] = {
	{"errnos", api_errnos},
	{"permissions", api_permissions},
	{"open-unlinked", api_open_unlinked},
	{"fattr", api_fattr},
	{"dir-read-stat", api_dir_read_stat},
	{"mknod", api_mknod},
	{"xattr", api_xattr},
	{"xattr-limits", api_xattr_limits},
	{"features-off", api_features_off},
	{"xattr-small-journal", api_xattr_small_journal},
	{"threads", api_threads},
};
TEST_MAIN("api", tests)
