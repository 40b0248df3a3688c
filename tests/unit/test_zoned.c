// SPDX-License-Identifier: MIT
/*
 * The zoned target's zone model, against null_blk's zoned mode: writes
 * only at the write pointer, conditions and the open / active limits,
 * append, report and the management ops.
 */
#include <unistd.h>

#include "fake_queue.h"

/* linux/blkzoned.h */
struct blk_zone {
	uint64_t start, len, wp;
	uint8_t type, cond, non_seq, reset, resv[4];
	uint64_t capacity;
	uint8_t reserved[24];
};

enum { EMPTY = 1, IMP_OPEN = 2, EXP_OPEN = 3, CLOSED = 4, FULL = 0xe };

#define ZONE	(1 * MiB)
#define ZS	(ZONE >> 9)	/* sectors */

static struct ublk_queue q;
static struct blk_zone rep[64];

/* Zone @i's report entry (all zones reported, checked for shape). */
static struct blk_zone *zone(struct backend *b, unsigned i)
{
	unsigned n = (unsigned)(b->size / ZONE), k;

	memset(rep, 0xaa, sizeof(rep));
	CHECK_EQ(run_io(b, &q, 1, UBLK_IO_OP_REPORT_ZONES, 0, 64, rep),
		 (int)(n * sizeof(rep[0])));
	for (k = 0; k < n; k++) {
		CHECK_EQ(rep[k].start, k * ZS);
		CHECK_EQ(rep[k].len, ZS);
		CHECK_EQ(rep[k].capacity, ZS);
	}
	return &rep[i];
}

static int wr(struct backend *b, uint64_t sector, uint32_t nr, void *buf)
{
	return run_io(b, &q, 2, UBLK_IO_OP_WRITE, sector, nr, buf);
}

static int mgmt(struct backend *b, unsigned op, unsigned i)
{
	return run_io(b, &q, 3, op, (uint64_t)i * ZS, 0, NULL);
}

static void open_backend(struct backend *b, unsigned conv, unsigned mo,
			 unsigned ma)
{
	*b = (struct backend){ .ops = &backend_zoned_ops,
		.conf = { .size = 8 * ZONE, .zone_size = ZONE,
			  .conv_zones = conv, .max_open_zones = mo,
			  .max_active_zones = ma } };
	REQUIRE(b->ops->open(b) == 0);
}

static void test_geometry(void)
{
	struct backend b;
	char js[256];

	open_backend(&b, 2, 2, 3);
	CHECK_EQ(b.zone_sectors, ZS);
	CHECK_EQ(b.max_open_zones, 2);
	CHECK_EQ(b.max_active_zones, 3);
	CHECK_EQ(b.discard_granularity, 0);
	CHECK_EQ(zone(&b, 0)->type, 1);
	CHECK_EQ(rep[0].cond, 0);
	CHECK_EQ(rep[1].wp, 2 * ZS);	/* a conventional zone: "full" */
	CHECK_EQ(rep[2].type, 2);
	CHECK_EQ(rep[2].cond, EMPTY);
	CHECK_EQ(rep[2].wp, 2 * ZS);
	/* a report from zone 6 on has two zones, however many are asked */
	CHECK_EQ(run_io(&b, &q, 1, UBLK_IO_OP_REPORT_ZONES, 6 * ZS, 64, rep),
		 2 * (int)sizeof(rep[0]));
	CHECK_EQ(rep[0].start, 6 * ZS);
	CHECK_EQ(run_io(&b, &q, 1, UBLK_IO_OP_REPORT_ZONES, 8 * ZS, 4, rep), 0);
	CHECK(json(&b, js, sizeof(js)) > 0);
	CHECK(strstr(js, "\"zone_size\":1048576,\"nr_zones\":8,\"conv_zones\":2"));
	b.ops->close(&b);

	b = (struct backend){ .ops = &backend_zoned_ops,
		.conf = { .size = 8 * ZONE + 4096, .zone_size = ZONE } };
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "not a multiple of the zone size"));
	b = (struct backend){ .ops = &backend_zoned_ops,
		.conf = { .size = 8 * ZONE, .zone_size = 3 * 4096 } };
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "power of two"));
	b = (struct backend){ .ops = &backend_zoned_ops,
		.conf = { .size = 8 * ZONE, .zone_size = ZONE, .conv_zones = 8 } };
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "none of the 8 zones sequential"));
	b = (struct backend){ .ops = &backend_zoned_ops,
		.conf = { .size = 8 * ZONE, .zone_size = ZONE,
			  .max_open_zones = 3, .max_active_zones = 2 } };
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "more than --max_active_zones"));
	b = (struct backend){ .ops = &backend_zoned_ops, .conf = { .zone_size = ZONE } };
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "--size is required"));
}

static void test_writes(void)
{
	unsigned char *buf = xalloc(ZONE), *back = xalloc(ZONE);
	struct backend b;

	open_backend(&b, 1, 0, 0);
	fill(buf, ZONE, 5);
	/* conventional: anywhere */
	CHECK_EQ(wr(&b, 100, 8, buf), 4096);
	CHECK_EQ(run_io(&b, &q, 4, UBLK_IO_OP_READ, 100, 8, back), 4096);
	CHECK(!memcmp(buf, back, 4096));
	/* sequential: at the pointer only; it moves and the zone opens */
	CHECK_EQ(wr(&b, ZS + 8, 8, buf), -EIO);
	CHECK_EQ(wr(&b, ZS, 8, buf), 4096);
	CHECK_EQ(zone(&b, 1)->cond, IMP_OPEN);
	CHECK_EQ(rep[1].wp, ZS + 8);
	CHECK_EQ(wr(&b, ZS, 8, buf), -EIO);	/* behind the pointer */
	CHECK_EQ(wr(&b, ZS + 8, 8, buf + 4096), 4096);
	CHECK_EQ(run_io(&b, &q, 4, UBLK_IO_OP_READ, ZS, 16, back), 8192);
	CHECK(!memcmp(buf, back, 8192));
	/* append: at the pointer, wherever in the zone it was aimed */
	CHECK_EQ(run_io(&b, &q, 5, UBLK_IO_OP_ZONE_APPEND, ZS, 8, buf), 4096);
	CHECK_EQ(q.zone_lba[5], ZS + 16);
	CHECK_EQ(run_io(&b, &q, 5, UBLK_IO_OP_ZONE_APPEND, 0, 8, buf), -EIO);
	/* across the zone's end: refused; to the end: full */
	CHECK_EQ(wr(&b, ZS + 24, (uint32_t)ZS, buf), -EIO);
	CHECK_EQ(wr(&b, ZS + 24, (uint32_t)ZS - 24, buf), (int)(ZONE - 24 * 512));
	CHECK_EQ(zone(&b, 1)->cond, FULL);
	CHECK_EQ(rep[1].wp, 2 * ZS);
	CHECK_EQ(wr(&b, 2 * ZS - 8, 8, buf), -EIO);
	CHECK_EQ(run_io(&b, &q, 5, UBLK_IO_OP_ZONE_APPEND, ZS, 8, buf), -EIO);
	/* reset: empty, reads zeros, writable from the start */
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_RESET, 1), 0);
	CHECK_EQ(zone(&b, 1)->cond, EMPTY);
	CHECK_EQ(rep[1].wp, ZS);
	CHECK_EQ(run_io(&b, &q, 4, UBLK_IO_OP_READ, ZS, 16, back), 8192);
	CHECK(is_zero(back, 8192));
	CHECK_EQ(wr(&b, ZS, 8, buf), 4096);
	/* conventional zones have no state to manage */
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_RESET, 0), -EIO);
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_OPEN, 0), -EIO);
	/* no discard on this device; flush is fine */
	CHECK_EQ(run_io(&b, &q, 4, UBLK_IO_OP_DISCARD, ZS, 8, NULL), -EOPNOTSUPP);
	CHECK_EQ(run_io(&b, &q, 4, UBLK_IO_OP_FLUSH, 0, 0, NULL), 0);
	CHECK_EQ(run_io(&b, &q, 4, UBLK_IO_OP_READ, 8 * ZS, 8, back), -EIO);
	b.ops->close(&b);
	free(buf);
	free(back);
}

static void test_states(void)
{
	unsigned char *buf = xalloc(4096);
	struct backend b;

	open_backend(&b, 0, 0, 0);
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_OPEN, 0), 0);
	CHECK_EQ(zone(&b, 0)->cond, EXP_OPEN);
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_CLOSE, 0), 0);
	CHECK_EQ(zone(&b, 0)->cond, EMPTY);	/* nothing written: empty */
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_CLOSE, 0), -EIO);
	CHECK_EQ(wr(&b, 0, 8, buf), 4096);
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_CLOSE, 0), 0);
	CHECK_EQ(zone(&b, 0)->cond, CLOSED);
	CHECK_EQ(rep[0].wp, 8);
	CHECK_EQ(wr(&b, 8, 8, buf), 4096);	/* a closed zone reopens */
	CHECK_EQ(zone(&b, 0)->cond, IMP_OPEN);
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_OPEN, 0), 0);
	CHECK_EQ(zone(&b, 0)->cond, EXP_OPEN);
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_FINISH, 0), 0);
	CHECK_EQ(zone(&b, 0)->cond, FULL);
	CHECK_EQ(rep[0].wp, ZS);
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_OPEN, 0), -EIO);
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_FINISH, 3), 0);	/* empty to full */
	CHECK_EQ(zone(&b, 3)->cond, FULL);
	CHECK_EQ(wr(&b, 5 * ZS, 8, buf), 4096);
	CHECK_EQ(run_io(&b, &q, 3, UBLK_IO_OP_ZONE_RESET_ALL, 0, 0, NULL), 0);
	CHECK_EQ(zone(&b, 0)->cond, EMPTY);
	CHECK_EQ(rep[3].cond, EMPTY);
	CHECK_EQ(rep[5].cond, EMPTY);
	CHECK_EQ(rep[5].wp, 5 * ZS);
	b.ops->close(&b);
	free(buf);
}

static void test_limits(void)
{
	unsigned char *buf = xalloc(4096);
	struct backend b;

	/* two open at most: a third implicit open closes an implicit one */
	open_backend(&b, 0, 2, 3);
	CHECK_EQ(wr(&b, 0, 8, buf), 4096);
	CHECK_EQ(wr(&b, ZS, 8, buf), 4096);
	CHECK_EQ(wr(&b, 2 * ZS, 8, buf), 4096);
	CHECK_EQ(zone(&b, 0)->cond, CLOSED);
	CHECK_EQ(rep[1].cond, IMP_OPEN);
	CHECK_EQ(rep[2].cond, IMP_OPEN);
	/* three active (open or closed) at most */
	CHECK_EQ(wr(&b, 3 * ZS, 8, buf), -EOVERFLOW);
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_OPEN, 3), -EOVERFLOW);
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_FINISH, 3), -EOVERFLOW);
	CHECK_EQ(zone(&b, 3)->cond, EMPTY);
	/* explicitly open ones are never closed for room */
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_OPEN, 1), 0);
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_OPEN, 2), 0);
	CHECK_EQ(wr(&b, 8, 8, buf), -ETOOMANYREFS);	/* closed zone 0 */
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_OPEN, 0), -ETOOMANYREFS);
	CHECK_EQ(zone(&b, 0)->cond, CLOSED);
	/* finishing one frees an open and an active slot */
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_FINISH, 1), 0);
	CHECK_EQ(wr(&b, 8, 8, buf), 4096);
	CHECK_EQ(zone(&b, 0)->cond, IMP_OPEN);
	CHECK_EQ(wr(&b, 3 * ZS, 8, buf), 4096);	/* closes zone 0 for room */
	CHECK_EQ(zone(&b, 0)->cond, CLOSED);
	CHECK_EQ(rep[3].cond, IMP_OPEN);
	CHECK_EQ(wr(&b, 4 * ZS, 8, buf), -EOVERFLOW);
	CHECK_EQ(mgmt(&b, UBLK_IO_OP_ZONE_RESET, 0), 0);
	CHECK_EQ(wr(&b, 4 * ZS, 8, buf), 4096);
	CHECK_EQ(zone(&b, 3)->cond, CLOSED);
	CHECK_EQ(rep[4].cond, IMP_OPEN);
	CHECK_EQ(rep[2].cond, EXP_OPEN);
	b.ops->close(&b);
	free(buf);
}

int main(void)
{
	memset(&q, 0, sizeof(q));
	test_geometry();
	test_writes();
	test_states();
	test_limits();
	return unit_done();
}
