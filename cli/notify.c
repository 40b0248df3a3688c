// SPDX-License-Identifier: MIT
/*
 * The service manager's readiness protocol (sd_notify) without libsystemd:
 * one datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET, a path or, with a leading '@', an abstract name.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cli.h"

int notify_send(const char *msg)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t salen;
	size_t len;
	int fd, ret = 0;

	if (!name || !name[0])
		return 0;
	len = strlen(name);
	/* vsock: names (a VM's manager) are not for a block daemon */
	if ((name[0] != '/' && name[0] != '@') || len >= sizeof(sa.sun_path))
		return -EAFNOSUPPORT;
	memcpy(sa.sun_path, name, len);
	/* an abstract name: a leading NUL, and no trailing one counted */
	if (name[0] == '@')
		sa.sun_path[0] = 0;
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   salen) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int notify_ready(pid_t pid, unsigned dev_id)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d\nSTATUS=serving /dev/ublkb%u",
		 (int)pid, dev_id);
	return notify_send(msg);
}
