// SPDX-License-Identifier: MIT
/*
 * zoned: a zoned RAM disk (UBLK_F_ZONED, Linux 6.6), for testing zoned
 * file systems and tools.  The data lives in one MAP_NORESERVE mapping as
 * with mem; the zones follow the state machine of null_blk's zoned mode
 * (and of ZBC / ZNS): a sequential zone is empty, implicitly or explicitly
 * open, closed or full; it takes writes only at its write pointer, a full
 * zone none; open and active zones are limited where asked.
 *
 * Locking, for several queues: a zone's lock is held across a write into
 * it or its management (a reset does not zero data a write is copying);
 * res_lock guards every zone's condition and write pointer and the counts
 * of open and closed zones, since opening one zone may close another.
 * Order: zone lock, then res_lock.  Reads take neither: data past a write
 * pointer is undefined, as on a real device.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "internal.h"

#define ZONED_DEFAULT_ZONE_SIZE	(256ULL << 20)	/* as null_blk */

/* linux/blkzoned.h's struct blk_zone: one entry of a zone report */
struct blk_zone {
	uint64_t start;		/* sectors */
	uint64_t len;
	uint64_t wp;
	uint8_t type;
	uint8_t cond;
	uint8_t non_seq;
	uint8_t reset;
	uint8_t resv[4];
	uint64_t capacity;
	uint8_t reserved[24];
};

_Static_assert(sizeof(struct blk_zone) == 64, "struct blk_zone");

#define BLK_ZONE_TYPE_CONVENTIONAL	1
#define BLK_ZONE_TYPE_SEQWRITE_REQ	2

#define BLK_ZONE_COND_NOT_WP	0x0
#define BLK_ZONE_COND_EMPTY	0x1
#define BLK_ZONE_COND_IMP_OPEN	0x2
#define BLK_ZONE_COND_EXP_OPEN	0x3
#define BLK_ZONE_COND_CLOSED	0x4
#define BLK_ZONE_COND_FULL	0xe

struct zone {
	pthread_mutex_t lock;
	uint64_t wp;		/* sectors; under res_lock */
	uint8_t cond;		/* BLK_ZONE_COND_*; under res_lock */
};

struct zoned {
	char *base;
	struct zone *zones;
	unsigned nr_zones;
	unsigned nr_conv;	/* zones 0 .. nr_conv - 1 are conventional */
	unsigned zone_shift;	/* log2 of the zone size in sectors */
	pthread_mutex_t res_lock;
	unsigned imp_open, exp_open, closed;
	unsigned max_open, max_active;	/* 0: no limit */
	unsigned imp_close_next;	/* where to look for one to close */
};

static uint64_t zone_start(const struct zoned *z, unsigned i)
{
	return (uint64_t)i << z->zone_shift;
}

static uint64_t zone_end(const struct zoned *z, unsigned i)
{
	return (uint64_t)(i + 1) << z->zone_shift;
}

/* ---- resources (res_lock held) ---- */

/* Close open zone @i: empty again if nothing was written, else closed. */
static void zone_close_locked(struct zoned *z, unsigned i)
{
	struct zone *zn = &z->zones[i];

	if (zn->cond == BLK_ZONE_COND_IMP_OPEN)
		z->imp_open--;
	else
		z->exp_open--;
	if (zn->wp == zone_start(z, i)) {
		zn->cond = BLK_ZONE_COND_EMPTY;
	} else {
		zn->cond = BLK_ZONE_COND_CLOSED;
		z->closed++;
	}
}

/* Make room for an open zone by closing an implicitly open one, if any. */
static int zone_check_open(struct zoned *z)
{
	unsigned n, i;

	if (!z->max_open || z->imp_open + z->exp_open < z->max_open)
		return 0;
	for (n = 0; z->imp_open && n < z->nr_zones; n++) {
		i = (z->imp_close_next + n) % z->nr_zones;
		if (z->zones[i].cond == BLK_ZONE_COND_IMP_OPEN) {
			zone_close_locked(z, i);
			z->imp_close_next = (i + 1) % z->nr_zones;
			return 0;
		}
	}
	return -ETOOMANYREFS;	/* BLK_STS_ZONE_OPEN_RESOURCE */
}

static int zone_check_active(const struct zoned *z)
{
	if (!z->max_active ||
	    z->imp_open + z->exp_open + z->closed < z->max_active)
		return 0;
	return -EOVERFLOW;	/* BLK_STS_ZONE_ACTIVE_RESOURCE */
}

/* What an empty or closed zone needs to be opened. */
static int zone_check_resources(struct zoned *z, const struct zone *zn)
{
	int ret;

	if (zn->cond == BLK_ZONE_COND_EMPTY) {
		ret = zone_check_active(z);
		if (ret)
			return ret;
	}
	return zone_check_open(z);
}

/* Open zone @zn as @cond (implicitly or explicitly), from empty or closed. */
static int zone_open_locked(struct zoned *z, struct zone *zn, uint8_t cond)
{
	int ret = zone_check_resources(z, zn);

	if (ret)
		return ret;
	if (zn->cond == BLK_ZONE_COND_CLOSED)
		z->closed--;
	zn->cond = cond;
	if (cond == BLK_ZONE_COND_IMP_OPEN)
		z->imp_open++;
	else
		z->exp_open++;
	return 0;
}

/* Let go of what @zn holds, as it becomes full or empty. */
static void zone_release_locked(struct zoned *z, struct zone *zn, uint8_t cond)
{
	if (zn->cond == BLK_ZONE_COND_IMP_OPEN)
		z->imp_open--;
	else if (zn->cond == BLK_ZONE_COND_EXP_OPEN)
		z->exp_open--;
	else if (zn->cond == BLK_ZONE_COND_CLOSED)
		z->closed--;
	zn->cond = cond;
}

/* ---- the operations ---- */

/* Zero sectors [start, end): whole pages go back to the kernel. */
static void zoned_zero(struct zoned *z, uint64_t start, uint64_t end)
{
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t off = start << 9, len = (end - start) << 9;

	if ((off | len) & (page - 1) ||
	    madvise(z->base + off, len, MADV_DONTNEED))
		memset(z->base + off, 0, len);
}

/*
 * A write or a zone append of @nr sectors at @sector; an append goes to
 * the write pointer of the zone @sector is in, and *@at says where.
 */
static int zoned_write(struct zoned *z, uint64_t sector, uint32_t nr,
		       const void *buf, int append, uint64_t *at)
{
	unsigned i = (unsigned)(sector >> z->zone_shift);
	struct zone *zn = &z->zones[i];
	int ret = 0;

	if (sector + nr > zone_end(z, i))
		return -EIO;		/* the block layer splits at zones */
	if (i < z->nr_conv) {
		if (append)
			return -EIO;
		memcpy(z->base + (sector << 9), buf, (size_t)nr << 9);
		return 0;
	}
	pthread_mutex_lock(&zn->lock);
	pthread_mutex_lock(&z->res_lock);
	if (append)
		sector = zn->wp;
	/* a full zone's pointer is at its end: this refuses it too */
	if (sector != zn->wp || zn->wp + nr > zone_end(z, i))
		ret = -EIO;
	else if (zn->cond == BLK_ZONE_COND_EMPTY ||
		 zn->cond == BLK_ZONE_COND_CLOSED)
		ret = zone_open_locked(z, zn, BLK_ZONE_COND_IMP_OPEN);
	if (!ret) {
		zn->wp += nr;
		if (zn->wp == zone_end(z, i))
			zone_release_locked(z, zn, BLK_ZONE_COND_FULL);
	}
	pthread_mutex_unlock(&z->res_lock);
	if (!ret)
		memcpy(z->base + (sector << 9), buf, (size_t)nr << 9);
	pthread_mutex_unlock(&zn->lock);
	*at = sector;
	return ret;
}

static int zone_reset(struct zoned *z, unsigned i)
{
	struct zone *zn = &z->zones[i];
	uint64_t wp;

	pthread_mutex_lock(&zn->lock);
	pthread_mutex_lock(&z->res_lock);
	wp = zn->wp;
	zone_release_locked(z, zn, BLK_ZONE_COND_EMPTY);
	zn->wp = zone_start(z, i);
	pthread_mutex_unlock(&z->res_lock);
	if (wp > zone_start(z, i))
		zoned_zero(z, zone_start(z, i), wp);
	pthread_mutex_unlock(&zn->lock);
	return 0;
}

/* Open, close or finish zone @i (res_lock held), as null_blk does. */
static int zone_change_locked(struct zoned *z, unsigned i, unsigned op)
{
	struct zone *zn = &z->zones[i];
	int ret;

	switch (op) {
	case UBLK_IO_OP_ZONE_OPEN:
		if (zn->cond == BLK_ZONE_COND_EXP_OPEN)
			return 0;
		if (zn->cond == BLK_ZONE_COND_IMP_OPEN) {
			z->imp_open--;
			z->exp_open++;
			zn->cond = BLK_ZONE_COND_EXP_OPEN;
			return 0;
		}
		if (zn->cond == BLK_ZONE_COND_FULL)
			return -EIO;
		return zone_open_locked(z, zn, BLK_ZONE_COND_EXP_OPEN);
	case UBLK_IO_OP_ZONE_CLOSE:
		if (zn->cond == BLK_ZONE_COND_CLOSED)
			return 0;
		if (zn->cond != BLK_ZONE_COND_IMP_OPEN &&
		    zn->cond != BLK_ZONE_COND_EXP_OPEN)
			return -EIO;
		zone_close_locked(z, i);
		return 0;
	case UBLK_IO_OP_ZONE_FINISH:
		if (zn->cond == BLK_ZONE_COND_FULL)
			return 0;
		/* empty to full passes through active */
		if (zn->cond == BLK_ZONE_COND_EMPTY) {
			ret = zone_check_active(z);
			if (ret)
				return ret;
		}
		zone_release_locked(z, zn, BLK_ZONE_COND_FULL);
		zn->wp = zone_end(z, i);
		return 0;
	}
	return -EOPNOTSUPP;
}

static int zoned_mgmt(struct zoned *z, unsigned op, uint64_t sector)
{
	unsigned i = (unsigned)(sector >> z->zone_shift);
	int ret;

	if (op == UBLK_IO_OP_ZONE_RESET_ALL) {
		for (i = z->nr_conv; i < z->nr_zones; i++)
			zone_reset(z, i);
		return 0;
	}
	if (i < z->nr_conv)
		return -EIO;	/* a conventional zone has no state */
	if (op == UBLK_IO_OP_ZONE_RESET)
		return zone_reset(z, i);
	pthread_mutex_lock(&z->zones[i].lock);
	pthread_mutex_lock(&z->res_lock);
	ret = zone_change_locked(z, i, op);
	pthread_mutex_unlock(&z->res_lock);
	pthread_mutex_unlock(&z->zones[i].lock);
	return ret;
}

/* Fill @buf (@size bytes) with the zones from @sector's on; their bytes. */
static int zoned_report(struct zoned *z, uint64_t sector, unsigned nr,
			void *buf, unsigned size)
{
	unsigned first = (unsigned)(sector >> z->zone_shift), n;
	struct blk_zone *rep = buf;

	if (nr > size / sizeof(*rep))
		nr = size / sizeof(*rep);
	if (first >= z->nr_zones)
		return 0;
	if (nr > z->nr_zones - first)
		nr = z->nr_zones - first;
	memset(rep, 0, nr * sizeof(*rep));
	pthread_mutex_lock(&z->res_lock);
	for (n = 0; n < nr; n++) {
		unsigned i = first + n;

		rep[n].start = zone_start(z, i);
		rep[n].len = rep[n].capacity = 1ULL << z->zone_shift;
		if (i < z->nr_conv) {
			rep[n].type = BLK_ZONE_TYPE_CONVENTIONAL;
			rep[n].cond = BLK_ZONE_COND_NOT_WP;
			rep[n].wp = zone_end(z, i);
		} else {
			rep[n].type = BLK_ZONE_TYPE_SEQWRITE_REQ;
			rep[n].cond = z->zones[i].cond;
			rep[n].wp = z->zones[i].wp;
		}
	}
	pthread_mutex_unlock(&z->res_lock);
	return (int)(nr * sizeof(*rep));
}

static int zoned_queue_io(struct backend *b, struct ublk_queue *q,
			  unsigned tag, const struct ublksrv_io_desc *iod,
			  void *buf)
{
	const unsigned op = ublksrv_get_op(iod);
	const uint64_t sectors = b->size >> 9;
	struct zoned *z = b->priv;
	uint64_t at;
	int ret;

	if (op == UBLK_IO_OP_FLUSH || op == UBLK_IO_OP_ZONE_RESET_ALL)
		return op == UBLK_IO_OP_FLUSH ? 0 : zoned_mgmt(z, op, 0);
	if (op == UBLK_IO_OP_REPORT_ZONES)
		return buf ? zoned_report(z, iod->start_sector, iod->nr_zones,
					  buf, ublk_queue_buf_bytes(q)) : -EINVAL;
	if (iod->start_sector >= sectors ||
	    iod->nr_sectors > sectors - iod->start_sector)
		return -EIO;

	switch (op) {
	case UBLK_IO_OP_READ:
		if (!buf)
			return -EINVAL;
		memcpy(buf, z->base + (iod->start_sector << 9),
		       (size_t)iod->nr_sectors << 9);
		return (int)(iod->nr_sectors << 9);
	case UBLK_IO_OP_WRITE:
	case UBLK_IO_OP_ZONE_APPEND:
		if (!buf)
			return -EINVAL;
		ret = zoned_write(z, iod->start_sector, iod->nr_sectors, buf,
				  op == UBLK_IO_OP_ZONE_APPEND, &at);
		if (ret)
			return ret;
		if (op == UBLK_IO_OP_ZONE_APPEND)
			ublk_queue_set_zone_lba(q, tag, at);
		return (int)(iod->nr_sectors << 9);
	case UBLK_IO_OP_ZONE_OPEN:
	case UBLK_IO_OP_ZONE_CLOSE:
	case UBLK_IO_OP_ZONE_FINISH:
	case UBLK_IO_OP_ZONE_RESET:
		return zoned_mgmt(z, op, iod->start_sector);
	default:
		return -EOPNOTSUPP;
	}
}

/* Check the zone geometry against the size; a reason in b->err. */
static int zoned_geometry(struct backend *b, uint64_t zone_size)
{
	const struct backend_conf *c = &b->conf;
	uint64_t nr;

	if (zone_size < 4096 || (zone_size & (zone_size - 1)) ||
	    zone_size > (1ULL << 40))
		return backend_fail(b, -EINVAL, "zoned: --zone_size %llu is not a power of two from 4K to 1T",
				    (unsigned long long)zone_size);
	if (zone_size < backend_lbs(b))
		return backend_fail(b, -EINVAL, "zoned: --zone_size %llu is smaller than a logical block",
				    (unsigned long long)zone_size);
	if (b->size % zone_size)
		return backend_fail(b, -EINVAL, "zoned: size %llu is not a multiple of the zone size %llu",
				    (unsigned long long)b->size,
				    (unsigned long long)zone_size);
	nr = b->size / zone_size;
	if (nr > (1U << 20))
		return backend_fail(b, -EINVAL, "zoned: %llu zones are too many (at most %u)",
				    (unsigned long long)nr, 1U << 20);
	if (c->conv_zones >= nr)
		return backend_fail(b, -EINVAL, "zoned: --conv_zones %u leaves none of the %llu zones sequential",
				    c->conv_zones, (unsigned long long)nr);
	if (c->max_open_zones > nr - c->conv_zones ||
	    c->max_active_zones > nr - c->conv_zones)
		return backend_fail(b, -EINVAL, "zoned: --max_open_zones and --max_active_zones are at most the %llu sequential zones",
				    (unsigned long long)(nr - c->conv_zones));
	if (c->max_active_zones && c->max_open_zones > c->max_active_zones)
		return backend_fail(b, -EINVAL, "zoned: --max_open_zones %u is more than --max_active_zones %u",
				    c->max_open_zones, c->max_active_zones);
	return 0;
}

static void zoned_free(struct zoned *z, uint64_t size)
{
	unsigned i;

	if (z->base)
		munmap(z->base, size);
	for (i = 0; z->zones && i < z->nr_zones; i++)
		pthread_mutex_destroy(&z->zones[i].lock);
	pthread_mutex_destroy(&z->res_lock);
	free(z->zones);
	free(z);
}

static int zoned_open(struct backend *b)
{
	const struct backend_conf *c = &b->conf;
	uint64_t zone_size = c->zone_size ? c->zone_size : ZONED_DEFAULT_ZONE_SIZE;
	struct zoned *z;
	unsigned i;
	int ret;

	if (!c->size)
		return backend_fail(b, -EINVAL, "zoned: --size is required");
	ret = backend_set_size(b, "zoned", c->size);
	if (!ret)
		ret = zoned_geometry(b, zone_size);
	if (ret)
		return ret;
	if ((size_t)b->size != b->size)
		return backend_fail(b, -EFBIG, "zoned: --size %llu does not fit in memory",
				    (unsigned long long)b->size);
	z = calloc(1, sizeof(*z));
	if (!z)
		return backend_fail(b, -ENOMEM, "zoned: out of memory");
	pthread_mutex_init(&z->res_lock, NULL);
	z->zone_shift = (unsigned)__builtin_ctzll(zone_size >> 9);
	z->nr_zones = (unsigned)(b->size / zone_size);
	z->nr_conv = c->conv_zones;
	z->max_open = c->max_open_zones;
	z->max_active = c->max_active_zones;
	z->zones = calloc(z->nr_zones, sizeof(*z->zones));
	if (!z->zones) {
		zoned_free(z, b->size);
		return backend_fail(b, -ENOMEM, "zoned: out of memory for %u zones",
				    z->nr_zones);
	}
	for (i = 0; i < z->nr_zones; i++) {
		pthread_mutex_init(&z->zones[i].lock, NULL);
		z->zones[i].wp = zone_start(z, i);
		z->zones[i].cond = i < z->nr_conv ? BLK_ZONE_COND_NOT_WP :
						    BLK_ZONE_COND_EMPTY;
	}
	z->base = mmap(NULL, b->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (z->base == MAP_FAILED) {
		ret = -errno;
		z->base = NULL;
		zoned_free(z, b->size);
		return backend_fail(b, ret, "zoned: cannot map %llu bytes: %s",
				    (unsigned long long)b->size, strerror(-ret));
	}
	b->priv = z;
	b->fd = -1;
	b->attrs = 0;
	b->max_size = b->size;		/* the zones are fixed: no update_size */
	b->zone_sectors = (uint32_t)(zone_size >> 9);
	b->max_open_zones = c->max_open_zones;
	b->max_active_zones = c->max_active_zones;
	return 0;
}

static void zoned_close(struct backend *b)
{
	if (b->priv)
		zoned_free(b->priv, b->size);
	b->priv = NULL;
}

static int zoned_json(const struct backend *b, char *buf, size_t len)
{
	const struct zoned *z = b->priv;
	int n = snprintf(buf, len, "\"size\":%llu,\"zone_size\":%llu,"
			 "\"nr_zones\":%u,\"conv_zones\":%u,"
			 "\"max_open_zones\":%u,\"max_active_zones\":%u",
			 (unsigned long long)b->size,
			 (unsigned long long)b->zone_sectors << 9, z->nr_zones,
			 z->nr_conv, z->max_open, z->max_active);

	return n >= 0 && (size_t)n < len ? n : -ENOSPC;
}

const struct backend_ops backend_zoned_ops = {
	.name = "zoned",
	.open = zoned_open,
	.close = zoned_close,
	.queue_io = zoned_queue_io,
	.json = zoned_json,
};
