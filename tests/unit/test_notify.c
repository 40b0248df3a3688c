// SPDX-License-Identifier: MIT
/*
 * sd_notify without libsystemd: the datagram reaches a listener bound to
 * a path and to an abstract name ('@'), as systemd binds its socket;
 * READY=1 names the main pid; no NOTIFY_SOCKET sends nothing; names it
 * cannot use are refused.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "unit.h"
#include "../../cli/cli.h"

/* A datagram listener at @name (systemd's syntax); its fd. */
static int listener(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	REQUIRE(fd >= 0 && len < sizeof(sa.sun_path));
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = 0;
	REQUIRE(bind(fd, (struct sockaddr *)&sa,
		     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) == 0);
	return fd;
}

/* The next datagram on @fd, without waiting. */
static ssize_t take(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = 0;
	return n;
}

static void test_names(void)
{
	char path[64], abstract[64], buf[256], want[128];
	int fd;

	snprintf(path, sizeof(path), "/tmp/sublk-test-notify.%d", (int)getpid());
	unlink(path);
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK_EQ(notify_send("STATUS=path"), 0);
	CHECK(take(fd, buf, sizeof(buf)) == 11 && !strcmp(buf, "STATUS=path"));
	close(fd);
	unlink(path);

	/* abstract: the bound name has no trailing NUL, nor may the sender's */
	snprintf(abstract, sizeof(abstract), "@sublk-test-notify/%d", (int)getpid());
	fd = listener(abstract);
	setenv("NOTIFY_SOCKET", abstract, 1);
	CHECK_EQ(notify_ready(4242, 7), 0);
	snprintf(want, sizeof(want), "READY=1\nMAINPID=4242\nSTATUS=serving /dev/ublkb7");
	CHECK(take(fd, buf, sizeof(buf)) > 0);
	CHECK(!strcmp(buf, want));
	CHECK(take(fd, buf, sizeof(buf)) < 0);	/* one datagram */

	/* without NOTIFY_SOCKET (not under systemd): nothing, and no error */
	unsetenv("NOTIFY_SOCKET");
	CHECK_EQ(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK_EQ(notify_send("READY=1"), 0);
	CHECK(take(fd, buf, sizeof(buf)) < 0);
	close(fd);
}

static void test_refused(void)
{
	char longname[200];

	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	CHECK_EQ(notify_send("READY=1"), -EAFNOSUPPORT);
	setenv("NOTIFY_SOCKET", "relative/sock", 1);
	CHECK_EQ(notify_send("READY=1"), -EAFNOSUPPORT);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = 0;
	setenv("NOTIFY_SOCKET", longname, 1);
	CHECK_EQ(notify_send("READY=1"), -EAFNOSUPPORT);
	/* nobody listens: the error comes back */
	setenv("NOTIFY_SOCKET", "/tmp/sublk-test-notify.nobody", 1);
	unlink("/tmp/sublk-test-notify.nobody");
	CHECK_EQ(notify_send("READY=1"), -ENOENT);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	test_names();
	test_refused();
	return unit_done();
}
