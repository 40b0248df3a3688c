// SPDX-License-Identifier: MIT
/*
 * NBD URIs (doc/uri.md in the NBD repository), the plain-text ones only:
 * nbd://HOST[:PORT][/EXPORT] and nbd+unix:///[EXPORT]?socket=PATH.
 */
#include <errno.h>
#include <string.h>

#include "nbd.h"

static int has_prefix_ci(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if ((*s >= 'A' && *s <= 'Z' ? *s + 32 : *s) != *prefix)
			return 0;
	return 1;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 32;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int is_unreserved(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Percent-decode @len bytes of @s, named @what in messages, into @out. */
static int uri_decode(const char *s, size_t len, char *out, size_t size,
		      const char *what, char *err, size_t err_len)
{
	size_t i, n = 0;
	int hi, lo;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			hi = i + 2 < len ? hex_val(s[i + 1]) : -1;
			lo = hi >= 0 ? hex_val(s[i + 2]) : -1;
			if (lo < 0)
				return nbd_fail(err, err_len, -EINVAL,
					       "bad percent-encoding in the %s", what);
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return nbd_fail(err, err_len, -EINVAL,
				       "the %s contains a control character", what);
		if (n + 1 >= size)
			return nbd_fail(err, err_len, -ENAMETOOLONG,
				       "the %s is longer than %u bytes", what,
				       (unsigned)size - 1);
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

/* An IPv6 literal's character: hex, ':', '.', then %25 and a zone. */
static int ipv6_char(const char *s, size_t i, size_t len, int *zone)
{
	if (*zone)
		return is_unreserved(s[i]);
	if (s[i] == '%' && i + 3 < len && s[i + 1] == '2' && s[i + 2] == '5') {
		*zone = 1;
		return 1;
	}
	return hex_val(s[i]) >= 0 || s[i] == ':' || s[i] == '.';
}

/* HOST[:PORT] or [IPV6][:PORT], @len bytes at @s. */
static int uri_host(const char *s, size_t len, struct nbd_addr *a, char *err,
		    size_t err_len)
{
	const char *end = s + len, *host = s, *p;
	int v6 = len && *s == '[', zone = 0;
	unsigned long port = 0;
	size_t i, n = 0, hlen;

	if (memchr(s, '@', len))
		return nbd_fail(err, err_len, -EINVAL,
			       "user names in NBD URIs are for TLS, which is not supported");
	if (v6) {
		host = s + 1;
		p = memchr(host, ']', len - 1);
		if (!p)
			return nbd_fail(err, err_len, -EINVAL, "no ']' after the IPv6 address");
		hlen = (size_t)(p++ - host);
		if (p < end && *p != ':')
			return nbd_fail(err, err_len, -EINVAL, "junk after the IPv6 address");
	} else {
		p = memchr(s, ':', len);
		p = p ? p : end;
		hlen = (size_t)(p - s);
	}
	if (!hlen)
		return nbd_fail(err, err_len, -EINVAL, "no host in the URI: nbd://HOST[:PORT]/EXPORT");
	if (hlen >= sizeof(a->host))
		return nbd_fail(err, err_len, -ENAMETOOLONG, "host name of %u bytes is too long",
			       (unsigned)hlen);
	for (i = 0; i < hlen; i++) {
		if (!(v6 ? ipv6_char(host, i, hlen, &zone) : is_unreserved(host[i])))
			return nbd_fail(err, err_len, -EINVAL, "bad %s '%.*s'",
				       v6 ? "IPv6 address" : "host name", (int)hlen, host);
		a->host[n++] = host[i];
		if (host[i] == '%')
			i += 2;		/* "%25" is the '%' before a zone */
	}
	a->host[n] = '\0';
	if (v6 && !strchr(a->host, ':'))
		return nbd_fail(err, err_len, -EINVAL, "bad IPv6 address '%.*s'", (int)hlen, host);

	if (p < end)		/* ':' and the port */
		p++;
	if (p == end) {
		memcpy(a->port, NBD_DEFAULT_PORT, sizeof(NBD_DEFAULT_PORT));
		return 0;
	}
	for (i = 0; p + i < end && i < 6 && p[i] >= '0' && p[i] <= '9'; i++)
		port = port * 10 + (unsigned)(p[i] - '0');
	if (p + i != end || !port || port > 65535)
		return nbd_fail(err, err_len, -EINVAL, "bad port '%.*s'", (int)(end - p), p);
	nbd_fail(a->port, sizeof(a->port), 0, "%u", (unsigned)port);
	return 0;
}

static int uri_query(const char *q, int is_unix, struct nbd_addr *a,
		     char *err, size_t err_len)
{
	const char *amp, *eq;
	size_t klen;
	int ret;

	for (; *q; q = *amp ? amp + 1 : amp) {
		amp = q + strcspn(q, "&");
		eq = memchr(q, '=', (size_t)(amp - q));
		klen = (size_t)((eq ? eq : amp) - q);
		if (amp == q)
			continue;
		if (klen == 6 && !memcmp(q, "socket", 6) && is_unix) {
			if (a->unix_path[0])
				return nbd_fail(err, err_len, -EINVAL, "socket= is given twice");
			ret = uri_decode(eq ? eq + 1 : amp, (size_t)(amp - (eq ? eq + 1 : amp)),
					 a->unix_path, sizeof(a->unix_path), "socket path",
					 err, err_len);
			if (ret)
				return ret;
			if (!a->unix_path[0])
				return nbd_fail(err, err_len, -EINVAL, "socket= needs a path");
		} else if (klen >= 3 && !memcmp(q, "tls", 3)) {
			return nbd_fail(err, err_len, -EINVAL, "%.*s: TLS is not supported",
				       (int)klen, q);
		} else {
			return nbd_fail(err, err_len, -EINVAL, "unknown URI parameter '%.*s'%s",
				       (int)klen, q, is_unix ? "" : " (socket= is for nbd+unix://)");
		}
	}
	if (is_unix && !a->unix_path[0])
		return nbd_fail(err, err_len, -EINVAL, "nbd+unix:// needs ?socket=PATH");
	return 0;
}

int nbd_uri_parse(const char *uri, struct nbd_addr *a, char *err, size_t err_len)
{
	const char *s, *auth_end, *query;
	const unsigned char *c;
	int is_unix, ret;

	memset(a, 0, sizeof(*a));
	if (!uri)
		uri = "";
	if (has_prefix_ci(uri, "nbds://") || has_prefix_ci(uri, "nbds+unix://"))
		return nbd_fail(err, err_len, -EINVAL,
			       "%.*s: TLS is not supported; use nbd:// or nbd+unix://",
			       (int)strcspn(uri, ":"), uri);
	is_unix = has_prefix_ci(uri, "nbd+unix://");
	if (!is_unix && !has_prefix_ci(uri, "nbd://"))
		return nbd_fail(err, err_len, -EINVAL,
			       "'%.64s' is not an NBD URI (nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH)",
			       uri);
	s = uri + (is_unix ? 11 : 6);
	for (c = (const unsigned char *)s; *c; c++)
		if (*c <= ' ' || *c == 0x7f)
			return nbd_fail(err, err_len, -EINVAL,
				       "the URI contains a space or a control character");
	if (strchr(s, '#'))
		return nbd_fail(err, err_len, -EINVAL, "a fragment (#) has no place in an NBD URI");
	auth_end = s + strcspn(s, "/?");
	query = auth_end + strcspn(auth_end, "?");
	if (is_unix && auth_end != s)
		return nbd_fail(err, err_len, -EINVAL,
			       "nbd+unix:// takes no host: nbd+unix:///EXPORT?socket=PATH");
	ret = is_unix ? 0 : uri_host(s, (size_t)(auth_end - s), a, err, err_len);
	if (!ret && *auth_end == '/')	/* the export: the path after its '/' */
		ret = uri_decode(auth_end + 1, (size_t)(query - auth_end - 1),
				 a->export_name, sizeof(a->export_name), "export name",
				 err, err_len);
	if (!ret)
		ret = uri_query(*query ? query + 1 : query, is_unix, a, err, err_len);
	if (ret)
		memset(a, 0, sizeof(*a));
	return ret;
}
