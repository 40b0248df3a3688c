// SPDX-License-Identifier: MIT
/*
 * sublk features: what the running driver supports, bit by bit, and
 * which of those sublk can use.
 */
#include <stdio.h>

#include "cli.h"

/* Feature bits sublk knows how to use. */
#define SUBLK_USES (UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_URING_CMD_COMP_IN_TASK | \
		    UBLK_F_NEED_GET_DATA | UBLK_F_USER_RECOVERY | \
		    UBLK_F_USER_RECOVERY_REISSUE | UBLK_F_CMD_IOCTL_ENCODE | \
		    UBLK_F_USER_COPY | UBLK_F_USER_RECOVERY_FAIL_IO | \
		    UBLK_F_UPDATE_SIZE | UBLK_F_AUTO_BUF_REG | UBLK_F_QUIESCE | \
		    UBLK_F_SAFE_STOP_DEV | UBLK_F_UNPRIVILEGED_DEV | \
		    UBLK_F_PER_IO_DAEMON | UBLK_F_BATCH_IO)

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
	for (bit = 0; bit < 64; bit++) {
		const char *name = ublk_feature_name(bit);

		if (!(c.features & (1ULL << bit)))
			continue;
		printf("\t%-24s bit %-2u %s\n", name ? name : "unknown", bit,
		       (SUBLK_USES >> bit) & 1 ? "used by sublk" : "");
	}
	ublk_ctrl_close(&c);
	return 0;
}
