// SPDX-License-Identifier: MIT
/*
 * Sockets of the nbd target, and the connect and handshake open() does
 * before the daemon exists: blocking, bounded by --timeout, so that every
 * reason the server cannot serve the export fails `add` with one line.
 * Reconnections later run on the queue's ring (nbd_conn.c) and use only
 * nbd_sock_new() and the address found here.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>

#include "nbd_target.h"

int64_t nbd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int nbd_sock_resolve(struct backend *b, struct nbd_dev *dev)
{
	const struct backend_conf *conf = &b->conf;
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM };
	struct sockaddr_un *sun = (struct sockaddr_un *)&dev->addr;
	struct addrinfo *res, *ai;
	size_t len;
	int ret;

	if (conf->nbd_unix) {
		len = strlen(conf->nbd_unix);
		if (!len || len >= sizeof(sun->sun_path))
			return nbd_fail(b->err, sizeof(b->err), -ENAMETOOLONG,
					"nbd: socket path '%.64s' is empty or longer than %u bytes",
					conf->nbd_unix, (unsigned)sizeof(sun->sun_path) - 1);
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, conf->nbd_unix, len + 1);
		dev->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
		nbd_fail(dev->where, sizeof(dev->where), 0, "%s", conf->nbd_unix);
		dev->addrs[0] = dev->addr;
		dev->addr_lens[0] = dev->addr_len;
		dev->nr_addrs = 1;
		return 0;
	}
	if (!conf->nbd_host)
		return nbd_fail(b->err, sizeof(b->err), -EINVAL,
				"nbd: --unix PATH, --host HOST or --uri URI is required");
	nbd_fail(dev->where, sizeof(dev->where), 0,
		 strchr(conf->nbd_host, ':') ? "[%s]:%s" : "%s:%s", conf->nbd_host,
		 conf->nbd_port ? conf->nbd_port : NBD_DEFAULT_PORT);
	ret = getaddrinfo(conf->nbd_host,
			  conf->nbd_port ? conf->nbd_port : NBD_DEFAULT_PORT,
			  &hints, &res);
	if (ret)
		return nbd_fail(b->err, sizeof(b->err), -EHOSTUNREACH,
				"nbd: cannot resolve '%.128s': %s", conf->nbd_host,
				ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret));
	/* a name with several addresses: open tries them in order */
	for (ai = res; ai && dev->nr_addrs < NBD_MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(dev->addrs[0]))
			continue;
		memcpy(&dev->addrs[dev->nr_addrs], ai->ai_addr, ai->ai_addrlen);
		dev->addr_lens[dev->nr_addrs++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (!dev->nr_addrs)
		return nbd_fail(b->err, sizeof(b->err), -EHOSTUNREACH,
				"nbd: '%.128s' has no usable address", conf->nbd_host);
	dev->addr = dev->addrs[0];
	dev->addr_len = dev->addr_lens[0];
	return 0;
}

int nbd_sock_new(const struct nbd_dev *dev)
{
	int fd, one = 1;

	fd = socket(dev->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* requests are small and answered one by one: no Nagle delay */
	if (dev->addr.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Wait for @events on @fd until @deadline (ms); 0, or -ETIMEDOUT. */
static int sock_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int ret;

	for (;;) {
		left = deadline - nbd_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		ret = poll(&pfd, 1, (int)left);
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}

static int sock_connect(int fd, const struct nbd_dev *dev, int64_t deadline)
{
	socklen_t len = sizeof(int);
	int err = 0, ret;

	if (connect(fd, (const struct sockaddr *)&dev->addr, dev->addr_len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EAGAIN)
		return -errno;
	ret = sock_wait(fd, POLLOUT, deadline);
	if (ret < 0)
		return ret;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

/* Drive @hs over @fd (non-blocking) until it is done or failed. */
static int sock_handshake(int fd, struct nbd_hs *hs, int64_t deadline)
{
	uint8_t buf[4096];
	const void *out;
	size_t len;
	ssize_t n;
	int ret;

	for (;;) {
		switch (nbd_hs_step(hs)) {
		case NBD_HS_SEND:
			len = nbd_hs_out(hs, &out);
			n = send(fd, out, len, MSG_NOSIGNAL);
			if (n >= 0) {
				nbd_hs_sent(hs, (size_t)n);
				continue;
			}
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			ret = sock_wait(fd, POLLOUT, deadline);
			break;
		case NBD_HS_RECV:
			len = nbd_min(nbd_hs_need(hs), sizeof(buf));
			n = recv(fd, buf, len, 0);
			if (n > 0) {
				nbd_hs_feed(hs, buf, (size_t)n);
				continue;
			}
			if (n == 0) {
				nbd_hs_eof(hs);
				continue;
			}
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			ret = sock_wait(fd, POLLIN, deadline);
			break;
		case NBD_HS_DONE:
			return 0;
		default:
			return nbd_hs_error(hs);
		}
		if (ret < 0)
			return ret;
	}
}

/*
 * A connected non-blocking socket; the first connection tries each of the
 * host's addresses and keeps the one that answers for all later ones.
 */
static int sock_connect_any(struct nbd_dev *dev, int first, int64_t deadline)
{
	unsigned i, n = first ? dev->nr_addrs : 1;
	int fd, ret = -EHOSTUNREACH;

	for (i = 0; i < n; i++) {
		if (first) {
			dev->addr = dev->addrs[i];
			dev->addr_len = dev->addr_lens[i];
		}
		fd = nbd_sock_new(dev);
		if (fd < 0)
			return fd;
		ret = fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
		if (!ret)
			ret = sock_connect(fd, dev, deadline);
		if (!ret)
			return fd;
		close(fd);
		if (ret == -ETIMEDOUT)
			break;
	}
	return ret;
}

int nbd_sock_open(struct backend *b, struct nbd_dev *dev, int first,
		  struct nbd_export *exp)
{
	int64_t deadline = nbd_now_ms() + dev->timeout_ms;
	struct nbd_hs *hs;
	int fd, ret;

	hs = malloc(sizeof(*hs));
	if (!hs)
		return backend_fail(b, -ENOMEM, "nbd: out of memory");
	fd = ret = sock_connect_any(dev, first, deadline);
	if (ret < 0) {
		nbd_fail(b->err, sizeof(b->err), ret, "nbd: cannot connect to %s: %s",
			 dev->where, ret == -ETIMEDOUT ? "no answer" : strerror(-ret));
		goto out;
	}
	ret = nbd_hs_init(hs, dev->export_name, 0);
	if (!ret)
		ret = sock_handshake(fd, hs, deadline);
	if (ret == -ETIMEDOUT)
		nbd_fail(b->err, sizeof(b->err), ret,
			 "nbd: %s: no answer to the handshake within %u s (not an NBD server?)",
			 dev->where, dev->timeout_ms / 1000);
	else if (ret < 0 && nbd_hs_step(hs) == NBD_HS_FAILED)
		nbd_fail(b->err, sizeof(b->err), ret, "nbd: %s: %s", dev->where,
			 hs->err);
	else if (ret < 0)
		nbd_fail(b->err, sizeof(b->err), ret, "nbd: %s: handshake: %s",
			 dev->where, strerror(-ret));
	if (ret < 0)
		goto out;
	/* the ring's SQEs wait for the socket themselves */
	if (fcntl(fd, F_SETFL, 0) < 0) {
		ret = -errno;
		backend_fail(b, ret, "nbd: fcntl: %s", strerror(-ret));
		goto out;
	}
	*exp = hs->exp;
	free(hs);
	return fd;
out:
	if (fd >= 0)
		close(fd);
	free(hs);
	return ret;
}
