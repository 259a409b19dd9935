// SPDX-License-Identifier: MIT
/*
 * fsck.c - `udax fsck`: check and repair a file system, as e2fsck does.
 *
 * The checker itself is fsck_check() in the library (src/fsck/); this
 * file parses the command line, draws the progress bar, writes --json
 * and maps the outcome to e2fsck's exit codes. Without -n or -y it checks
 * only (there is no interactive mode).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "fsck/fsck.h"
#include "tools.h"

/* What one run of udax fsck observes through the library's callbacks. */
struct fsck_tool {
	struct tool_json *json; /* --json: the document, else NULL */
	int pass;		/* the pass running, -1 before pass 0 */
};

/* Print fsck's help. */
static void fsck_usage(void)
{
	printf("Usage: udax fsck [-n|-y] [-f] [-q] [--json] IMAGE\n"
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
	       "  -q, --quiet   no progress bar\n"
	       "      --json    one JSON object on standard output instead "
	       "of the report:\n"
	       "                each pass with its problems, the counts, "
	       "the exit status\n"
	       "      --help    display this help and exit\n\n"
	       "Exit status (as e2fsck; 1 and 4 add up): 0 no errors, 1 "
	       "errors corrected,\n"
	       "4 errors left uncorrected, 5 some errors corrected and "
	       "others left,\n"
	       "8 operational error (also: the image is in use), 16 usage "
	       "error.\n");
}

/* Progress of the library's passes: the bar, and the pass objects of
 * --json (each holds the problems found in it). */
static void fsck_tool_progress(void *arg, int pass, uint64_t done,
			       uint64_t total)
{
	struct fsck_tool *t = arg;
	char label[80];

	if (pass != t->pass && t->json) {
		if (t->pass >= 0) {
			tool_json_close(t->json); /* its problems */
			tool_json_close(t->json); /* the pass before */
		}
		tool_json_object(t->json, NULL);
		tool_json_u64(t->json, "pass", (uint64_t)pass);
		tool_json_str(t->json, "name", fsck_pass_name(pass));
		tool_json_array(t->json, "problems");
	}
	t->pass = pass;
	snprintf(label, sizeof(label), "Pass %d", pass);
	tool_progress_update(label, done, total);
}

/* A problem, as an element of the current pass's problems (--json). */
static void fsck_tool_problem(void *arg, const struct fsck_problem *p, int pass,
			      const char *message, int fixed)
{
	static const char *const severities[] = {"info", "error", "fatal"};
	struct fsck_tool *t = arg;
	char code[16];

	if (!t->json)
		return;
	tool_json_object(t->json, NULL);
	snprintf(code, sizeof(code), "0x%06x", (unsigned)p->code);
	tool_json_str(t->json, "code", code);
	tool_json_str(t->json, "severity", severities[p->severity]);
	tool_json_str(t->json, "message", message);
	if (p->fix)
		tool_json_str(t->json, "fix", p->fix);
	tool_json_bool(t->json, "fixed", fixed);
	tool_json_close(t->json);
}

/* The summary members of --json, after the passes. */
static int fsck_tool_json_end(struct tool_json *j,
			      const struct fsck_result *res, int ret)
{
	while (j->depth > 1)
		tool_json_close(j);
	tool_json_u64(j, "problems_found", res->problems);
	tool_json_u64(j, "problems_fixed", res->fixed);
	tool_json_u64(j, "problems_left", res->unfixed);
	tool_json_bool(j, "modified", res->modified);
	if (ret != FSCK_EXIT_ERROR) {
		tool_json_u64(j, "files", res->files);
		tool_json_u64(j, "inodes", res->inodes);
		tool_json_u64(j, "blocks_used", res->blocks_used);
		tool_json_u64(j, "blocks", res->blocks);
	}
	if (ret == FSCK_EXIT_ERROR)
		tool_json_str(j, "error",
			      res->message[0] ? res->message :
						"operational error");
	else
		tool_json_null(j, "error");
	tool_json_u64(j, "exit_code", (uint64_t)ret);
	return tool_json_end(j);
}

int udax_tool_fsck(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"no", no_argument, NULL, 'n'},
		{"yes", no_argument, NULL, 'y'},
		{"force", no_argument, NULL, 'f'},
		{"quiet", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, TOOL_OPT_JSON},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct fsck_opts opts = {.mode = FSCK_NO};
	struct fsck_tool tool = {.pass = -1};
	struct fsck_result res;
	struct tool_json json;
	int c, have_n = 0, have_y = 0, quiet = 0, ret;
	const char *image;

	while ((c = getopt_long(argc, argv, "nyfq", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			have_n = 1;
			break;
		case 'y':
			have_y = 1;
			break;
		case 'f':
			break;
		case 'q':
			quiet = 1;
			break;
		case TOOL_OPT_JSON:
			tool.json = &json;
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
	image = argv[optind];
	if (have_y)
		opts.mode = FSCK_YES;
	opts.progress = fsck_tool_progress;
	opts.problem = fsck_tool_problem;
	opts.arg = &tool;
	tool_progress_start(!quiet && !tool.json);
	if (tool.json) {
		tool_json_begin(&json, stdout);
		tool_json_bytes(&json, "image", image, strlen(image));
		tool_json_str(&json, "mode", have_y ? "repair" : "check");
		tool_json_array(&json, "passes");
	} else {
		fflush(stdout);
		opts.out = tool_progress_stream(stdout);
	}
	ret = fsck_check(image, &opts, &res);
	tool_progress_end();
	if (opts.out && opts.out != stdout)
		fclose(opts.out);
	fflush(stdout);
	if (ret == FSCK_EXIT_ERROR)
		tool_error("%s",
			   res.message[0] ? res.message : "operational error");
	if (tool.json && fsck_tool_json_end(&json, &res, ret)) {
		tool_error("write error");
		ret = FSCK_EXIT_ERROR;
	}
	return ret;
}
