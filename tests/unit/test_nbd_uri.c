// SPDX-License-Identifier: MIT
/* NBD URIs: the forms doc/uri.md gives, and clear refusals of the rest. */
#include <errno.h>

#include "unit.h"
#include "../../backend/nbd.h"

static struct nbd_addr a;
static char err[256];

static void ok(const char *uri, const char *host, const char *port,
	       const char *sock, const char *name)
{
	int ret;

	err[0] = '\0';
	ret = nbd_uri_parse(uri, &a, err, sizeof(err));
	if (ret)
		fprintf(stderr, "%s: %s\n", uri, err);
	CHECK_EQ(ret, 0);
	CHECK(!strcmp(a.host, host));
	CHECK(!strcmp(a.port, port));
	CHECK(!strcmp(a.unix_path, sock));
	CHECK(!strcmp(a.export_name, name));
}

static void bad(const char *uri, int want, const char *msg)
{
	int ret = nbd_uri_parse(uri, &a, err, sizeof(err));

	CHECK_EQ(ret, want);
	if (strcmp(err, msg))
		fprintf(stderr, "%s:\n got \"%s\"\nwant \"%s\"\n", uri, err, msg);
	CHECK(!strcmp(err, msg));
	CHECK(!a.host[0] && !a.port[0] && !a.unix_path[0] && !a.export_name[0]);
}

int main(void)
{
	char uri[8192], name[8192];

	/* doc/uri.md's table */
	ok("nbd://example.com/disk", "example.com", "10809", "", "disk");
	ok("nbd+unix:///disk?socket=sock", "", "", "sock", "disk");
	ok("nbd://example.com/", "example.com", "10809", "", "");
	ok("nbd://example.com", "example.com", "10809", "", "");
	ok("nbd://example.com//disk", "example.com", "10809", "", "/disk");
	ok("nbd://example.com/hello%20world", "example.com", "10809", "", "hello world");

	ok("nbd://127.0.0.1:10810/x", "127.0.0.1", "10810", "", "x");
	ok("NBD://Host-1.example_x~:000080/a/b", "Host-1.example_x~", "80", "", "a/b");
	ok("nbd://h:/x", "h", "10809", "", "x");
	ok("nbd://h:65535", "h", "65535", "", "");
	ok("nbd://[::1]:10809/x", "::1", "10809", "", "x");
	ok("nbd://[::1]/", "::1", "10809", "", "");
	ok("nbd://[2001:db8::1.2.3.4]", "2001:db8::1.2.3.4", "10809", "", "");
	ok("nbd://[fe80::1%25eth0]:99/x", "fe80::1%eth0", "99", "", "x");
	ok("nbd://h/%C3%A9t%c3%a9?", "h", "10809", "", "\xc3\xa9t\xc3\xa9");
	ok("nbd://h/\xc3\xa9t\xc3\xa9", "h", "10809", "", "\xc3\xa9t\xc3\xa9");
	ok("nbd+unix://?socket=/run/nbd.sock", "", "", "/run/nbd.sock", "");
	ok("nbd+unix:///?socket=%2Frun%2Fa%20b&", "", "", "/run/a b", "");
	ok("nbd+unix:///e%3fx?&socket=s", "", "", "s", "e?x");

	/* what is not NBD, or not supported */
	bad("http://example.com/", -EINVAL,
	    "'http://example.com/' is not an NBD URI (nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH)");
	bad("nbd:/x", -EINVAL,
	    "'nbd:/x' is not an NBD URI (nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH)");
	bad("", -EINVAL,
	    "'' is not an NBD URI (nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH)");
	bad(NULL, -EINVAL,
	    "'' is not an NBD URI (nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH)");
	bad("nbds://example.com/disk", -EINVAL,
	    "nbds: TLS is not supported; use nbd:// or nbd+unix://");
	bad("nbds+unix:///disk?socket=s", -EINVAL,
	    "nbds+unix: TLS is not supported; use nbd:// or nbd+unix://");
	bad("nbd://h/x?tls-type=x509", -EINVAL, "tls-type: TLS is not supported");
	bad("nbd://user@h/x", -EINVAL,
	    "user names in NBD URIs are for TLS, which is not supported");
	bad("nbd://h/x#frag", -EINVAL, "a fragment (#) has no place in an NBD URI");

	/* hosts and ports */
	bad("nbd:///x", -EINVAL, "no host in the URI: nbd://HOST[:PORT]/EXPORT");
	bad("nbd://:10809/x", -EINVAL, "no host in the URI: nbd://HOST[:PORT]/EXPORT");
	bad("nbd://h:0/x", -EINVAL, "bad port '0'");
	bad("nbd://h:65536/x", -EINVAL, "bad port '65536'");
	bad("nbd://h:1x5/x", -EINVAL, "bad port '1x5'");
	bad("nbd://h:-1/x", -EINVAL, "bad port '-1'");
	bad("nbd://h:1234567/x", -EINVAL, "bad port '1234567'");
	bad("nbd://h:1:2/x", -EINVAL, "bad port '1:2'");
	bad("nbd://h%41/x", -EINVAL, "bad host name 'h%41'");
	bad("nbd://[::1/x", -EINVAL, "no ']' after the IPv6 address");
	bad("nbd://[::1]x/x", -EINVAL, "junk after the IPv6 address");
	bad("nbd://[]/x", -EINVAL, "no host in the URI: nbd://HOST[:PORT]/EXPORT");
	bad("nbd://[1.2.3.4]/x", -EINVAL, "bad IPv6 address '1.2.3.4'");
	bad("nbd://[::g]/x", -EINVAL, "bad IPv6 address '::g'");
	bad("nbd://[fe80::1%25]/x", -EINVAL, "bad IPv6 address 'fe80::1%25'");
	bad("nbd://[fe80::1%eth0]/x", -EINVAL, "bad IPv6 address 'fe80::1%eth0'");
	memset(uri, 'h', sizeof(uri));
	memcpy(uri, "nbd://", 6);
	uri[6 + 256] = '\0';
	bad(uri, -ENAMETOOLONG, "host name of 256 bytes is too long");
	uri[6 + 255] = '\0';
	CHECK_EQ(nbd_uri_parse(uri, &a, err, sizeof(err)), 0);
	CHECK_EQ(strlen(a.host), 255);

	/* export names */
	bad("nbd://h/a%0ab", -EINVAL, "the export name contains a control character");
	bad("nbd://h/a%00b", -EINVAL, "the export name contains a control character");
	bad("nbd://h/a%7f", -EINVAL, "the export name contains a control character");
	bad("nbd://h/a b", -EINVAL, "the URI contains a space or a control character");
	bad("nbd://h/a\nb", -EINVAL, "the URI contains a space or a control character");
	bad("nbd://h/a%4", -EINVAL, "bad percent-encoding in the export name");
	bad("nbd://h/a%", -EINVAL, "bad percent-encoding in the export name");
	bad("nbd://h/a%g0", -EINVAL, "bad percent-encoding in the export name");
	memset(name, 'e', sizeof(name));
	snprintf(uri, sizeof(uri), "nbd://h/%.*s", NBD_MAX_STRING - 1, name);
	ok(uri, "h", "10809", "", uri + 8);
	snprintf(uri, sizeof(uri), "nbd://h/%.*s", NBD_MAX_STRING, name);
	bad(uri, -ENAMETOOLONG, "the export name is longer than 4095 bytes");

	/* query parameters */
	bad("nbd+unix:///x", -EINVAL, "nbd+unix:// needs ?socket=PATH");
	bad("nbd+unix:///x?socket=", -EINVAL, "socket= needs a path");
	bad("nbd+unix:///x?socket", -EINVAL, "socket= needs a path");
	bad("nbd+unix:///x?socket=a&socket=b", -EINVAL, "socket= is given twice");
	bad("nbd+unix:///x?socket=%00abstract", -EINVAL,
	    "the socket path contains a control character");
	bad("nbd+unix://h/x?socket=s", -EINVAL,
	    "nbd+unix:// takes no host: nbd+unix:///EXPORT?socket=PATH");
	bad("nbd+unix:///x?socket=s&size=1", -EINVAL, "unknown URI parameter 'size'");
	bad("nbd://h/x?socket=s", -EINVAL,
	    "unknown URI parameter 'socket' (socket= is for nbd+unix://)");
	memset(name, 's', sizeof(name));
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%.107s", name);
	CHECK_EQ(nbd_uri_parse(uri, &a, err, sizeof(err)), 0);
	CHECK_EQ(strlen(a.unix_path), 107);
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%.108s", name);
	bad(uri, -ENAMETOOLONG, "the socket path is longer than 107 bytes");

	/* a message never breaks its line, nor overflows a small buffer */
	bad("nbd\x01://\n", -EINVAL,
	    "'nbd?://?' is not an NBD URI (nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH)");
	CHECK_EQ(nbd_uri_parse("x", &a, err, 8), -EINVAL);
	CHECK(!strcmp(err, "'x' is "));
	CHECK_EQ(nbd_uri_parse("x", &a, NULL, 0), -EINVAL);

	fprintf(stderr, "%d checks\n", unit_checks);
	return unit_done();
}
