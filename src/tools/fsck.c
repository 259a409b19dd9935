// SPDX-License-Identifier: MIT
/*
 * fsck.c - `udax fsck`: check and repair a file system, as e2fsck does.
 *
 * The checker itself is fsck_run() in the library (src/fsck/); this file
 * parses the command line and maps the outcome to e2fsck's exit codes.
 * Without -n or -y it checks only (there is no interactive mode).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "fsck/fsck.h"
#include "tools.h"

/* Print fsck's help. */
static void fsck_usage(void)
{
	printf("Usage: udax fsck [-n|-y] [-f] IMAGE\n"
	       "Check the udax file system on IMAGE and, with -y, repair "
	       "it.\n\n"
	       "  -n, --no      check only: change nothing, answer no to "
	       "every question\n"
	       "                (the default)\n"
	       "  -y, --yes     repair every problem found\n"
	       "  -f, --force   check even if the file system seems clean "
	       "(udax always\n"
	       "                runs a full check; accepted for e2fsck "
	       "compatibility)\n"
	       "      --help    display this help and exit\n\n"
	       "Exit status (as e2fsck; 1 and 4 add up): 0 no errors, 1 "
	       "errors corrected,\n"
	       "4 errors left uncorrected, 5 some errors corrected and "
	       "others left,\n"
	       "8 operational error, 16 usage error.\n");
}

int udax_tool_fsck(int argc, char **argv)
{
	static const struct option opts[] = {
		{"no", no_argument, NULL, 'n'},
		{"yes", no_argument, NULL, 'y'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct fsck_result res;
	int c, mode = FSCK_NO, have_n = 0, have_y = 0, ret;

	while ((c = getopt_long(argc, argv, "nyf", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			have_n = 1;
			break;
		case 'y':
			have_y = 1;
			break;
		case 'f':
			break;
		case TOOL_OPT_HELP:
			fsck_usage();
			return FSCK_EXIT_OK;
		default:
			tool_usage_hint();
			return FSCK_EXIT_USAGE;
		}
	}
	if (have_n && have_y) {
		tool_error("only one of -n and -y may be given");
		tool_usage_hint();
		return FSCK_EXIT_USAGE;
	}
	if (optind == argc) {
		tool_error("missing IMAGE operand");
		tool_usage_hint();
		return FSCK_EXIT_USAGE;
	}
	if (optind + 1 < argc) {
		tool_error("extra operand '%s'", argv[optind + 1]);
		tool_usage_hint();
		return FSCK_EXIT_USAGE;
	}
	if (have_y)
		mode = FSCK_YES;
	fflush(stdout);
	ret = fsck_run(argv[optind], mode, stdout, &res);
	fflush(stdout);
	if (ret == FSCK_EXIT_ERROR)
		tool_error("%s",
			   res.message[0] ? res.message : "operational error");
	return ret;
}
