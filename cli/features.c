// SPDX-License-Identifier: MIT
/*
 * sublk features: every feature flag of the newest ublk header, whether
 * the running driver has it, and whether sublk uses it (and if not, why).
 */
#include <stdio.h>

#include "cli.h"

/* How sublk uses each feature bit; a reason where it does not. */
static const char *const use[UBLK_F_NR_KNOWN] = {
	[0] = "used: -z; add's pick for loop (6.15+)",
	[1] = "used: -u 1",
	[2] = "used: -g 1",
	[3] = "used: -r 1",
	[4] = "used: -i 1",
	[5] = "used: --unprivileged",
	[6] = "used: the command encoding",
	[7] = "used: --usercopy; add's pick for mem",
	[8] = "used: -t zoned (with user copy)",
	[9] = "used: -e 1",
	[10] = "used: update_size",
	[11] = "used: zero copy on Linux 6.16+",
	[12] = "used: quiesce (with -r 1)",
	[13] = "used: --per_io_tasks",
	[14] = "not used: buffers are registered by the serving thread itself",
	[15] = "used: -b",
	[16] = "used: --metadata_size (mem, fault, null, loop)",
	[17] = "used: stop --safe",
	[18] = "used: --no_auto_part_scan",
	[19] = "used: --shmem_zc --htlb FILE",
	[20] = "used: --io_desc_size",
};

int cmd_features(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ublk_ctrl c;
	unsigned bit;

	while (cli_getopt(argc, argv, ":h", longopts) != -1)
		;
	cli_no_args(argc, argv);
	cli_ctrl_open(&c);
	if (!c.has_get_features)
		printf("GET_FEATURES not supported (driver older than 6.5); "
		       "assuming the 6.1 feature set\n");
	printf("ublk_drv features: 0x%llx\n", (unsigned long long)c.features);
	printf("command encoding: %s\n", c.legacy ? "legacy" : "ioctl");
	printf("%-24s %3s %-6s %-6s %s\n", "FEATURE", "BIT", "DRIVER", "SINCE", "SUBLK");
	for (bit = 0; bit < 64; bit++) {
		const char *name = ublk_feature_name(bit);
		int has = !!(c.features & (1ULL << bit));

		if (!name && !has)
			continue;
		printf("%-24s %3u %-6s %-6s %s\n", name ? name : "unknown", bit,
		       has ? "yes" : "no", ublk_feature_since(bit),
		       bit < UBLK_F_NR_KNOWN ? use[bit] : "not used: unknown to sublk");
	}
	ublk_ctrl_close(&c);
	return 0;
}
