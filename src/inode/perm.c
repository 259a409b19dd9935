/* SPDX-License-Identifier: MIT */
/*
 * perm.c - credentials of the calling thread and permission checks, as a
 * kernel file system does them (owner, group, other; root bypasses read
 * and write checks, and execute when any x bit is set).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "inode.h"

static __thread struct cred thread_cred;
static __thread int thread_cred_set;

int udax_cred_set(const struct udax_cred *c)
{
	if (!c) {
		thread_cred_set = 0;
		return 0;
	}
	if (c->ngroups < 0 || c->ngroups > 32 || (c->ngroups && !c->groups))
		return -EINVAL;
	thread_cred.uid = c->uid;
	thread_cred.gid = c->gid;
	thread_cred.ngroups = c->ngroups;
	if (c->ngroups)
		memcpy(thread_cred.groups, c->groups,
		       (size_t)c->ngroups * sizeof(gid_t));
	thread_cred.umask = c->umask & 0777;
	thread_cred_set = 1;
	return 0;
}

const struct cred *cred_current(void)
{
	if (!thread_cred_set) {
		int n;
		thread_cred.uid = geteuid();
		thread_cred.gid = getegid();
		n = getgroups(32, thread_cred.groups);
		thread_cred.ngroups = n < 0 ? 0 : n;
		thread_cred.umask = 0;
		thread_cred_set = 1;
	}
	return &thread_cred;
}

int cred_in_group(const struct cred *c, gid_t gid)
{
	if (c->gid == gid)
		return 1;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return 1;
	return 0;
}

int perm_check(const struct udax_inode *di, int mask)
{
	const struct cred *c = cred_current();
	unsigned mode = di->mode, bits;

	mask &= 7;
	if (c->uid == 0) {
		/* root: anything but executing a file no one may execute */
		if (!(mask & 1) || S_ISDIR(mode) || (mode & 0111))
			return 0;
		return -EACCES;
	}
	if (c->uid == di->uid)
		bits = (mode >> 6) & 7;
	else if (cred_in_group(c, di->gid))
		bits = (mode >> 3) & 7;
	else
		bits = mode & 7;
	return (bits & (unsigned)mask) == (unsigned)mask ? 0 : -EACCES;
}

int perm_owner(const struct udax_inode *di)
{
	const struct cred *c = cred_current();
	return c->uid == 0 || c->uid == di->uid;
}

int perm_sticky(const struct udax_inode *dir, const struct udax_inode *victim)
{
	const struct cred *c = cred_current();

	if (!(dir->mode & S_ISVTX) || c->uid == 0 || c->uid == dir->uid ||
	    c->uid == victim->uid)
		return 0;
	return -EPERM;
}
