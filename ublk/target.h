/* SPDX-License-Identifier: MIT */
/*
 * The target interface: what a target (a backend: backend/) implements,
 * and what a queue offers it.  ublk/ owns this interface; backend/
 * implements it, so nothing here refers to any one backend.
 *
 * A target finishes a request either at once, by returning its result
 * from queue_io(), or later: queue_io() queues SQEs on the ring of the
 * thread serving the tag (ublk_queue_get_sqe(), which fills in user_data)
 * and returns BACKEND_QUEUED; io_done() then receives each of their CQEs
 * and returns BACKEND_QUEUED while more are in flight, or the request's
 * result.
 *
 * A target whose requests are answered by something not tied to one
 * request (a socket carrying the replies of many) queues SQEs with tag
 * UBLK_TGT_NO_TAG, whose CQEs go to tgt_event(), and finishes a request
 * it returned BACKEND_QUEUED for with ublk_queue_complete().  Per-queue
 * state it sets up in queue_init(), on the thread that serves the queue.
 *
 * A result is what the kernel gets in COMMIT_AND_FETCH: bytes done for
 * read and write, 0 for flush / discard / write-zeroes, or -errno.
 * A zoned target (zone_sectors set; the device uses USER_COPY) also gets
 * the zone ops: zone append returns bytes done and gives the sector it
 * wrote at with ublk_queue_set_zone_lba(); REPORT_ZONES fills the buffer
 * with struct blk_zone entries and returns their bytes; open, close,
 * finish, reset and reset-all return 0.  Errors the block layer knows
 * for zones: -ETOOMANYREFS (open zones exceeded), -EOVERFLOW (active
 * zones exceeded); anything else the kernel reads as an I/O error.
 *
 * Every hook that takes a queue runs on the thread serving it; a target
 * with queue_init, queue_exit or tgt_event needs one thread per queue, so
 * per-I/O threads (PER_IO_DAEMON) are refused for it.
 */
#ifndef SUBLK_UBLK_TARGET_H
#define SUBLK_UBLK_TARGET_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "../uring/abi.h"

#define BACKEND_QUEUED	INT_MAX

/* The fixed-file slot of b->fd on every ring (slot 0 is /dev/ublkcN). */
#define BACKEND_FIXED_FD	1

/* The most -f a target takes (stripe's members). */
#define BACKEND_MAX_FILES	8

/* The tag of a target SQE that serves no one request (ublk_queue_get_sqe). */
#define UBLK_TGT_NO_TAG		0xffff

struct ublk_queue;

/*
 * The integrity profile (UBLK_F_INTEGRITY): metadata_size bytes of
 * metadata per logical block, kept by the backend beside the data.
 */
struct backend_integrity {
	uint32_t flags;		/* LBMD_PI_CAP_* */
	uint8_t metadata_size;	/* 0: no integrity */
	uint8_t pi_offset;	/* where the PI tuple starts in the metadata */
	uint8_t csum_type;	/* LBMD_PI_CSUM_* */
	uint8_t tag_size;
};

/*
 * What the command line says about the target, for every backend; ublk/
 * itself reads only lbs_shift, integrity and the request limits (SET_PARAMS,
 * metadata buffers).
 */
struct backend_conf {
	const char *type;	/* "null", "mem", "loop", "fault", "nbd", "stripe", "zoned" */
	uint64_t size;		/* bytes; 0 means the backend's default */
	const char *file;	/* loop: -f (the first, files[0]) */
	const char *meta_file;	/* loop: --metadata_file, the integrity metadata */
	/* stripe: every -f, in order, and --chunk_size (bytes; 0: 64 KiB) */
	const char *files[BACKEND_MAX_FILES];
	unsigned nr_files;
	unsigned chunk_size;
	int buffered_io;	/* loop: --buffered_io */
	const char *fault;	/* fault: --fault SPEC */
	unsigned lbs_shift;	/* logical block size shift, 9..12 */
	unsigned nr_queues;	/* -q: for targets with per-queue connections */
	int zero_copy;		/* -z: queue_io gets no buffer */
	/*
	 * add picks zero copy if the target declares it its fastest path
	 * (BACKEND_AUTO_ZERO_COPY), so open() may set up for it already
	 */
	int auto_zero_copy;
	/* nbd: the server (--unix, or --host and --port) and the export */
	const char *nbd_unix;
	const char *nbd_host;
	const char *nbd_port;
	const char *nbd_export;
	unsigned nbd_conns;	/* --connections: per queue; 0 means 1 */
	unsigned nbd_timeout;	/* --timeout: seconds; 0 means 30 */
	int read_only;		/* --read_only */
	struct backend_integrity integrity;	/* mem, fault, null, loop: --metadata_size... */
	/* zoned: --zone_size (bytes; 0: the default), the rest 0: none / no limit */
	uint64_t zone_size;
	unsigned conv_zones;	/* --conv_zones: conventional zones at the start */
	unsigned max_open_zones;
	unsigned max_active_zones;
	/* request limits for SET_PARAMS; 0: not sent, the kernel's defaults */
	uint32_t dma_align;		/* --dma_alignment: an address mask, 2^n - 1 */
	uint32_t max_segments;		/* --max_segments */
	uint32_t max_segment_size;	/* --max_segment_size, bytes */
	uint64_t seg_boundary_mask;	/* --seg_boundary_mask, 2^n - 1 */
};

struct backend {
	const struct backend_ops *ops;
	struct backend_conf conf;

	/* set by open() */
	uint64_t size;			/* device size in bytes */
	uint64_t max_size;		/* what update_size may grow it to (0: size) */
	uint32_t attrs;			/* UBLK_ATTR_* */
	uint32_t discard_granularity;	/* bytes; 0: no discard */
	uint32_t max_discard_sectors;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_io_bytes;		/* largest request it takes; 0: any */
	/* a zoned device (UBLK_F_ZONED): zone size in sectors, 0: not zoned */
	uint32_t zone_sectors;
	uint32_t max_open_zones;	/* 0: no limit */
	uint32_t max_active_zones;	/* 0: no limit */
	int fd;				/* backing fd, or -1: fixed file 1 on each queue ring */
	int zero_copy;			/* can serve with buf == NULL (see queue_io) */
	/*
	 * In user copy mode (--usercopy) moves each request's data itself,
	 * with ublk_queue_copy_in / _out straight between its own memory
	 * and the request: queue_io then gets buf == NULL.  Without it the
	 * queue copies through the tag's buffer, one copy more.
	 */
	int user_copy;
	/*
	 * The data path add picks when none is asked for: the first of
	 * BACKEND_AUTO_* set that the kernel and the device allow, else the
	 * copy path.  A target joins by declaring what serves it fastest.
	 */
	unsigned auto_path;
	void *priv;			/* the backend's own state */

	char err[192];			/* why open() failed: one line */
};

#define BACKEND_AUTO_ZERO_COPY	(1U << 0)	/* -z: needs zero_copy */
#define BACKEND_AUTO_USER_COPY	(1U << 1)	/* --usercopy: best with user_copy */

struct backend_ops {
	const char *name;
	/*
	 * The disk gets no I/O scheduler ("none" instead of the kernel's
	 * mq-deadline for a single queue), as the kernel's loop has: a
	 * target whose backing or server orders the requests itself,
	 * where a local scheduler only adds a hop through kblockd to each
	 * request that comes alone (null, 1 queue, 4k randread in the bench
	 * VM: 25.4k -> 36.3k IOPS at depth 1, 45.0k -> 91.8k at depth 32).
	 * The zoned target keeps the kernel's choice.
	 */
	int no_scheduler;
	/*
	 * open - check b->conf, open what backs the device and fill in size,
	 * attrs and discard limits.  On failure return -errno and leave a
	 * one-line reason in b->err, holding nothing open.
	 */
	int (*open)(struct backend *b);
	void (*close)(struct backend *b);
	/*
	 * Serve request @tag; @buf is its I/O buffer, or NULL in zero-copy
	 * mode: the request's pages are then a fixed buffer on the tag's ring
	 * (IORING_OP_READ_FIXED / WRITE_FIXED, addr 0, buf_index
	 * ublk_queue_buf_index()).
	 * A backend that needs the data in memory leaves zero_copy unset.
	 */
	int (*queue_io)(struct backend *b, struct ublk_queue *q, unsigned tag,
			const struct ublksrv_io_desc *iod, void *buf);
	/* optional: a CQE of an SQE queued by queue_io */
	int (*io_done)(struct backend *b, struct ublk_queue *q, unsigned tag,
		       const struct io_uring_cqe *cqe);
	/*
	 * optional: set up per-queue state, on the thread that serves @q,
	 * once its ring exists and its tags are armed, before it serves a
	 * request.  May queue SQEs with UBLK_TGT_NO_TAG.  -errno fails the
	 * device's setup, and queue_exit is not called for @q.
	 */
	int (*queue_init)(struct backend *b, struct ublk_queue *q);
	/*
	 * optional: undo queue_init, on the same thread, after its last
	 * target CQE (see tgt_event for how the queue stops) and before the
	 * ring goes.  Only after queue_init succeeded.
	 */
	void (*queue_exit)(struct backend *b, struct ublk_queue *q);
	/*
	 * optional: a CQE of an SQE queued with UBLK_TGT_NO_TAG; op and
	 * tgt_data come back in cqe->user_data.  A multishot SQE brings one
	 * call per CQE; it is done at the CQE without IORING_CQE_F_MORE.  May
	 * queue SQEs and finish requests (ublk_queue_complete).  They keep
	 * the queue's thread serving while the kernel holds none of its
	 * commands (every tag with the target).  Once the queue stops (the
	 * kernel aborted its commands, none is left and no request has an
	 * SQE in flight), those still in flight are cancelled: their CQEs
	 * (res -ECANCELED, usually) still come here.  A request still with
	 * the target then is never finished.  -errno is logged.
	 */
	int (*tgt_event)(struct backend *b, struct ublk_queue *q,
			 const struct io_uring_cqe *cqe);
	/*
	 * optional: the thread serving @q has handled every CQE it reaped and
	 * is about to submit and wait: queue what the requests and events of
	 * this round gathered (a target that sends them in one batch).  Only
	 * between queue_init and queue_exit.
	 */
	void (*queue_submit)(struct backend *b, struct ublk_queue *q);
	/*
	 * optional: the device is about to be stopped.  STOP_DEV waits for
	 * every request a target holds, so one that holds requests for
	 * something that may never come (a server that is gone) must let
	 * them go now.  Called on the daemon's main thread, not a queue's;
	 * the device may also go on (a stop that was refused).
	 */
	void (*stop)(struct backend *b);
	/* optional: flush whatever the backend caches (on shutdown) */
	int (*flush)(struct backend *b);
	/* Settings as JSON members, no braces: "\"file\":\"/x\",\"direct_io\":1" */
	int (*json)(const struct backend *b, char *buf, size_t len);
};

/* ---- What a queue offers its target (ublk/queue.c) ---- */

/*
 * A zeroed SQE on the ring of the thread serving @tag, or NULL if that ring
 * is full.  Its user_data is set: the CQE comes to io_done() with @op and
 * @tgt_data (16 bits of the backend's own) in user_data.
 * With @tag UBLK_TGT_NO_TAG: an SQE on the queue's ring whose CQE goes to
 * tgt_event(); NULL also when the target has no tgt_event, the queue has
 * no single thread or it is stopping.
 */
struct io_uring_sqe *ublk_queue_get_sqe(struct ublk_queue *q, unsigned tag,
					unsigned op, unsigned tgt_data);
/*
 * ublk_queue_complete - finish request @tag with @result, later than its
 * queue_io() or io_done() (which returned BACKEND_QUEUED): from any hook
 * on the queue's thread except queue_io() and io_done() of @tag itself.
 * In batch I/O the result goes out with the next COMMIT_IO_CMDS.
 * Returns 0; -EINVAL if @tag is out of range, not with the target or the
 * queue has no single thread; -EBUSY while SQEs of @tag are in flight
 * (let its io_done() return the result instead).
 */
int ublk_queue_complete(struct ublk_queue *q, unsigned tag, int result);
/*
 * ublk_queue_link_commit - from queue_io(), right after @sqe (the
 * request's last backend SQE, from ublk_queue_get_sqe()): commit request
 * @tag with @result once @sqe has done all it asked for (IOSQE_IO_LINK),
 * without a CQE for @sqe or a trip through the thread.  If @sqe fails
 * or comes short, its CQE goes to io_done() as usual, whose result is
 * committed instead.  queue_io() returns BACKEND_QUEUED either way.
 * Returns 0, or -EOPNOTSUPP (the queue's data path puts work between
 * the two, or batch I/O) or -EBUSY, and then nothing changed.
 */
int ublk_queue_link_commit(struct ublk_queue *q, unsigned tag,
			   struct io_uring_sqe *sqe, int result);
/*
 * SQEs that ublk_queue_get_sqe() can hand out for the queue's one thread
 * before its ring must be submitted: room for a chain of linked SQEs,
 * which must reach the kernel in one submission.
 */
unsigned ublk_queue_sq_space(const struct ublk_queue *q);
/*
 * The target SQE just taken for the queue's one thread completes as it is
 * submitted (a send with MSG_DONTWAIT): the thread's next io_uring_enter
 * waits for one CQE more, so that it sleeps until what comes after.  Only
 * for an SQE that cannot wait on anything: the enter is not woken for
 * fewer CQEs, so one that waits on the peer could wait for good.
 */
void ublk_queue_cqe_at_submit(struct ublk_queue *q);
/* The queue's id (0 .. queues - 1) and depth (its tags are 0 .. depth - 1). */
unsigned ublk_queue_id(const struct ublk_queue *q);
unsigned ublk_queue_depth(const struct ublk_queue *q);
/* The size of each tag's I/O buffer (queue_io's @buf), in bytes. */
unsigned ublk_queue_buf_bytes(const struct ublk_queue *q);
/* Zone append: the sector request @tag's data went to, for its commit. */
void ublk_queue_set_zone_lba(struct ublk_queue *q, unsigned tag,
			     uint64_t sector);
/* Zero copy: the fixed-buffer index of request @tag's pages. */
unsigned ublk_queue_buf_index(const struct ublk_queue *q, unsigned tag);
/*
 * Integrity: the metadata of request @tag, *@len bytes (metadata_size per
 * logical block of the request), or NULL when it carries none.  A write's
 * is read from the kernel before queue_io(); what a read leaves there goes
 * to the kernel with the data, at commit.
 */
void *ublk_queue_meta(const struct ublk_queue *q, unsigned tag, size_t *len);
/*
 * User copy, for a target with user_copy set: the data of request @tag
 * moves straight between the request's pages and @data, @len bytes from
 * byte 0 of the request: _in reads what a write brings, _out fills a
 * read.  The count moved, or -errno; -EINVAL outside user copy mode.
 */
int ublk_queue_copy_in(struct ublk_queue *q, unsigned tag, void *data,
		       size_t len);
int ublk_queue_copy_out(struct ublk_queue *q, unsigned tag, const void *data,
			size_t len);
/* The descriptor of the request @tag is serving (valid until its commit). */
const struct ublksrv_io_desc *ublk_queue_iod(const struct ublk_queue *q,
					     unsigned tag);

/*
 * user_data of every SQE on a server ring: bits 0-15 tag, 16-23 op,
 * 24-39 the backend's own value, 40-51 queue id, bit 63 set for backend I/O.
 */
#define UBLK_USER_DATA_TGT	(1ULL << 63)

static inline uint64_t ublk_user_data(unsigned q_id, unsigned tag, unsigned op,
				      unsigned tgt_data, int is_tgt)
{
	return (uint64_t)(tag & 0xffff) | (uint64_t)(op & 0xff) << 16 |
	       (uint64_t)(tgt_data & 0xffff) << 24 |
	       (uint64_t)(q_id & 0xfff) << 40 |
	       (is_tgt ? UBLK_USER_DATA_TGT : 0);
}

static inline unsigned user_data_tag(uint64_t ud) { return ud & 0xffff; }
static inline unsigned user_data_op(uint64_t ud) { return (ud >> 16) & 0xff; }
static inline unsigned user_data_tgt_data(uint64_t ud) { return (ud >> 24) & 0xffff; }
static inline unsigned user_data_q(uint64_t ud) { return (ud >> 40) & 0xfff; }
static inline int user_data_is_tgt(uint64_t ud) { return !!(ud & UBLK_USER_DATA_TGT); }

#endif
