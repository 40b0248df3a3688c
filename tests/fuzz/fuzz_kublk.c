// SPDX-License-Identifier: MIT
/*
 * sublk's kublk command line (cli/kublk.c, cli/kublk_cmds.c): arbitrary
 * argument lists, NUL-separated in the input, with the first one the
 * command.  The translation into sublk's add runs up to opts_parse_add;
 * nothing reaches a device.  Every refusal must say something (it echoes
 * the user's own bytes, so they are not checked), and a translated add
 * that sublk's parser takes must name a known target.
 *
 * The two files are included here so that their static functions run
 * as they are; what they call outside the translation is stubbed below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/kublk.c"
#include "../../cli/kublk_cmds.c"

#define MAX_ARGS 40

static jmp_buf out;
static char msg[640];

/* A refusal: a message, then back to the harness. */
static void __attribute__((noreturn)) refuse(const char *fmt, va_list ap)
{
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!msg[0])
		abort();
	longjmp(out, 1);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	refuse(fmt, ap);
}

void die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	refuse(fmt, ap);
}

void cli_help(void) { longjmp(out, 1); }
void cli_set_cmd(const struct cli_cmd *cmd) { (void)cmd; }
void cli_env_load(char **argv) { (void)argv; }

/* cli_getopt as cli/util.c has it, its exits through die_usage and cli_help. */
int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c == 'h')
		cli_help();
	if (c == '?')
		die_usage("unknown option '%s'", opts_culprit(argc, argv));
	if (c == ':')
		die_usage("option '%s' needs a value", opts_culprit(argc, argv));
	return c;
}

unsigned long cli_uint(const char *s, unsigned long min, unsigned long max,
		       const char *what)
{
	unsigned long v;

	if (opts_parse_uint(s, max, &v) < 0 || v < min)
		die("bad %s '%s'", what, s);
	return v;
}

unsigned cli_dev_id(const char *s) { return (unsigned)cli_uint(s, 0, UBLK_MAX_UBLKS - 1, "id"); }

/* The end of an add that sublk's parser took: check it, go no further. */
int cli_add_device(struct add_opts *o, unsigned *id)
{
	static const char *const types[] = { "null", "loop", "stripe", "fault" };
	unsigned i;

	(void)id;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(o->conf.type, types[i]))
			longjmp(out, 1);
	abort();	/* a target kublk has no name for */
}

int cli_recover_device(unsigned id, int fg, int debug) { (void)id; (void)fg; (void)debug; longjmp(out, 1); }
void cli_ctrl_open(struct ublk_ctrl *c) { (void)c; longjmp(out, 1); }
int cli_dev_ids(unsigned **ids) { (void)ids; longjmp(out, 1); }
int cmd_del(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_stop(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_quiesce(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_update_size(int argc, char **argv) { (void)argc; (void)argv; return 0; }

/* Not reached: cli_ctrl_open never returns here. */
int ublk_ctrl_add_dev(struct ublk_ctrl *c, struct ublksrv_ctrl_dev_info *i) { (void)c; (void)i; abort(); }
void ublk_ctrl_close(struct ublk_ctrl *c) { (void)c; abort(); }
int ublk_ctrl_del_dev(struct ublk_ctrl *c, unsigned id) { (void)c; (void)id; abort(); }
int ublk_ctrl_get_info(struct ublk_ctrl *c, unsigned id, struct ublksrv_ctrl_dev_info *i) { (void)c; (void)id; (void)i; abort(); }
int ublk_ctrl_get_params(struct ublk_ctrl *c, unsigned id, struct ublk_params *p) { (void)c; (void)id; (void)p; abort(); }
int ublk_ctrl_set_params(struct ublk_ctrl *c, unsigned id, const struct ublk_params *p) { (void)c; (void)id; (void)p; abort(); }
const char *ublk_feature_name(unsigned bit) { (void)bit; abort(); }
const char *ublk_state_name(unsigned state) { (void)state; abort(); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *argv[MAX_ARGS + 2];
	static char *text;
	int argc = 1;
	size_t i = 0;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	argv[0] = "kublk";
	while (i < size && argc < MAX_ARGS + 1) {
		argv[argc++] = text + i;
		i += strlen(text + i) + 1;
	}
	argv[argc] = NULL;
	if (!setjmp(out))
		kublk_main(argc, argv);
	unsetenv("SUBLK_NO_AUTO_BUF_REG");
	free(text);
	return 0;
}
