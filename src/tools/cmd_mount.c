// SPDX-License-Identifier: MIT
/*
 * cmd_mount.c - `udax mount` and `udax umount`: the command lines of the
 * mount layer (src/mount/), which serves an image to every program
 * through FUSE.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mount/mount.h"
#include "tools.h"

/* ---- mount ---- */

static void mount_usage(void)
{
	printf("Usage: udax mount [-f] [-d] [-o OPTION[,OPTION]...] IMAGE "
	       "DIR\n"
	       "Mount the udax file system on IMAGE at DIR (FUSE), so that "
	       "every program\n"
	       "can use it. Detaches and serves in the background unless "
	       "-f is given;\n"
	       "`udax umount DIR` (or SIGTERM to the daemon) unmounts and "
	       "closes the\n"
	       "image cleanly.\n\n"
	       "  -f, --foreground  stay in the foreground\n"
	       "  -d, --debug       print every request (implies -f)\n"
	       "  -o OPTIONS        mount options: ro, rw, allow_other "
	       "(let other users\n"
	       "                    in; permissions are checked for each "
	       "caller),\n"
	       "                    posix_acl (the kernel enforces POSIX "
	       "ACLs),\n"
	       "                    others are passed to libfuse (see "
	       "mount.fuse3(8))\n"
	       "      --help        display this help and exit\n\n"
	       "Exit status: 0 mounted (or, with -f, unmounted cleanly), 1 "
	       "failure,\n"
	       "2 usage error.\n");
}

/* Add the options of one -o list: ro, rw, allow_other and posix_acl are
 * udax's,
 * the rest go to libfuse in *rest. Returns 0 or -ENOMEM. */
static int mount_parse_opts(const char *list, struct mount_opts *o, char **rest)
{
	char *copy = strdup(list), *save = NULL, *opt;

	if (!copy)
		return -ENOMEM;
	for (opt = strtok_r(copy, ",", &save); opt;
	     opt = strtok_r(NULL, ",", &save)) {
		if (!strcmp(opt, "ro")) {
			o->read_only = 1;
		} else if (!strcmp(opt, "rw")) {
			o->read_only = 0;
		} else if (!strcmp(opt, "allow_other")) {
			o->allow_other = 1;
		} else if (!strcmp(opt, "posix_acl")) {
			o->posix_acl = 1;
		} else {
			size_t old = *rest ? strlen(*rest) : 0;
			char *grown = realloc(*rest, old + strlen(opt) + 2);
			if (!grown) {
				free(copy);
				return -ENOMEM;
			}
			sprintf(grown + old, "%s%s", old ? "," : "", opt);
			*rest = grown;
		}
	}
	free(copy);
	return 0;
}

int udax_tool_mount(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"foreground", no_argument, NULL, 'f'},
		{"debug", no_argument, NULL, 'd'},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct mount_opts o = {0};
	char *rest = NULL;
	int c, err;

	while ((c = getopt_long(argc, argv, "fdo:", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.foreground = 1;
			break;
		case 'd':
			o.debug = o.foreground = 1;
			break;
		case 'o':
			if (mount_parse_opts(optarg, &o, &rest)) {
				tool_error("%s", strerror(ENOMEM));
				free(rest);
				return TOOL_EXIT_FAILURE;
			}
			break;
		case TOOL_OPT_HELP:
			mount_usage();
			free(rest);
			return TOOL_EXIT_OK;
		default:
			free(rest);
			return tool_usage_error(NULL);
		}
	}
	if (argc - optind != 2) {
		free(rest);
		if (argc - optind < 2)
			return tool_usage_error("missing IMAGE or DIR operand");
		return tool_usage_error("extra operand '%s'", argv[optind + 2]);
	}
	o.image = argv[optind];
	o.dir = argv[optind + 1];
	o.fuse_opts = rest;
	err = mount_serve(&o);
	free(rest);
	if (err == UDAX_ECORRUPT)
		tool_error("%s: %s; check it with 'udax fsck -n %s'", o.image,
			   udax_strerror(err), o.image);
	return err ? TOOL_EXIT_FAILURE : TOOL_EXIT_OK;
}

/* ---- umount ---- */

static void umount_usage(void)
{
	printf("Usage: udax umount DIR\n"
	       "Unmount the udax file system mounted at DIR and wait until "
	       "its daemon\n"
	       "has closed the image (then it can be checked or mounted "
	       "again).\n\n"
	       "      --help   display this help and exit\n\n"
	       "Exit status: 0 unmounted, 1 failure, 2 usage error.\n");
}

int udax_tool_umount(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != TOOL_OPT_HELP)
			return tool_usage_error(NULL);
		umount_usage();
		return TOOL_EXIT_OK;
	}
	if (argc == optind)
		return tool_usage_error("missing DIR operand");
	if (argc - optind > 1)
		return tool_usage_error("extra operand '%s'", argv[optind + 1]);
	return mount_unmount(argv[optind]) ? TOOL_EXIT_FAILURE : TOOL_EXIT_OK;
}
