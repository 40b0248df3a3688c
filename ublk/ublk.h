/* SPDX-License-Identifier: MIT */
/*
 * ublk: control commands on /dev/ublk-control, the device lifecycle and
 * the per-queue I/O loop on /dev/ublkcN.
 *
 * Functions return 0 or a count on success and -errno on failure; where a
 * failure deserves words, they are left in the device's err buffer.
 */
#ifndef SUBLK_UBLK_H
#define SUBLK_UBLK_H

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/types.h>

#include "abi.h"
#include "log.h"
#include "../uring/uring.h"
#include "target.h"

#define UBLK_CONTROL_PATH	"/dev/ublk-control"
#define UBLK_DEFAULT_DEPTH	128
#define UBLK_DEFAULT_IO_BUF	(512U << 10)	/* as ublksrv */
#define UBLK_MAX_IO_BUF		(1U << UBLK_IO_BUF_BITS)
#define UBLK_MAX_UBLKS		(1U << 20)	/* MINORBITS */

/* Feature bits of the 6.1 driver, assumed when GET_FEATURES is missing. */
#define UBLK_FEATURES_LEGACY	(UBLK_F_SUPPORT_ZERO_COPY | \
				 UBLK_F_URING_CMD_COMP_IN_TASK | \
				 UBLK_F_NEED_GET_DATA | \
				 UBLK_F_USER_RECOVERY | \
				 UBLK_F_USER_RECOVERY_REISSUE)

/* ---- control ---- */

struct ublk_ctrl {
	struct uring ring;
	int fd;
	int legacy;		/* kernel takes only the raw command numbers */
	int has_get_features;
	uint64_t features;	/* what the driver supports */
	int unpriv_id;		/* commands on this unprivileged device carry its path */
};

int ublk_ctrl_open(struct ublk_ctrl *c);
void ublk_ctrl_close(struct ublk_ctrl *c);
/* Force the legacy command encoding (tests; kernels that only take it). */
void ublk_ctrl_use_legacy(struct ublk_ctrl *c);

int ublk_ctrl_add_dev(struct ublk_ctrl *c, struct ublksrv_ctrl_dev_info *info);
int ublk_ctrl_del_dev(struct ublk_ctrl *c, unsigned id);
int ublk_ctrl_del_dev_async(struct ublk_ctrl *c, unsigned id);
int ublk_ctrl_start_dev(struct ublk_ctrl *c, unsigned id, pid_t pid);
int ublk_ctrl_stop_dev(struct ublk_ctrl *c, unsigned id);
int ublk_ctrl_try_stop_dev(struct ublk_ctrl *c, unsigned id);
int ublk_ctrl_set_params(struct ublk_ctrl *c, unsigned id,
			 const struct ublk_params *p);
int ublk_ctrl_get_params(struct ublk_ctrl *c, unsigned id,
			 struct ublk_params *p);
int ublk_ctrl_get_info(struct ublk_ctrl *c, unsigned id,
		       struct ublksrv_ctrl_dev_info *info);
int ublk_ctrl_get_affinity(struct ublk_ctrl *c, unsigned id, unsigned q,
			   cpu_set_t *set);
int ublk_ctrl_start_recovery(struct ublk_ctrl *c, unsigned id);
int ublk_ctrl_end_recovery(struct ublk_ctrl *c, unsigned id, pid_t pid);
int ublk_ctrl_quiesce(struct ublk_ctrl *c, unsigned id, unsigned timeout_ms);
int ublk_ctrl_update_size(struct ublk_ctrl *c, unsigned id, uint64_t sectors);
/*
 * SHMEM_ZC: pin @len bytes of our shared mapping at @addr (both page
 * aligned) for device @id; the buffer's index, or -errno.
 */
int ublk_ctrl_reg_buf(struct ublk_ctrl *c, unsigned id, void *addr,
		      uint64_t len, uint32_t flags);

/* Names for flags and states, for list and features. */
const char *ublk_feature_name(unsigned bit);
const char *ublk_state_name(unsigned state);
/* The Linux release that first has feature @bit ("6.16"). */
const char *ublk_feature_since(unsigned bit);

/* ---- device and queues (the daemon) ---- */

struct ublk_dev;

/* Per-tag state of a queue. */
struct ublk_io {
	void *buf;		/* page-aligned I/O buffer */
	void *meta;		/* integrity: the request's metadata, or NULL */
	struct ublk_thread *t;	/* the thread that serves this tag; batch I/O: that fetched it last */
	unsigned buf_index;	/* zero copy: its slot in t's buffer table */
	unsigned flags;
	unsigned tgt_inflight;	/* backend SQEs in flight for this tag */
	int linked_res;		/* UBLK_IO_LINKED: the result committed */
	uint64_t zone_lba;	/* zone append: where its data went */
};

#define UBLK_IO_IN_KERNEL	(1U << 0)	/* fetch/commit outstanding */
#define UBLK_IO_IN_BACKEND	(1U << 1)	/* queue_io has it, not yet committed */
#define UBLK_IO_DONE		(1U << 2)	/* aborted: never re-issued */
#define UBLK_IO_BUF_REGISTERED	(1U << 3)	/* we put its pages in the buffer table */
#define UBLK_IO_SHMEM		(1U << 4)	/* its data is in a shared buffer */
#define UBLK_IO_LINKED		(1U << 5)	/* commit linked to a backend SQE */

/* Counters, added to with relaxed atomics: per-I/O threads share a queue. */
struct ublk_queue_stats {
	uint64_t reqs[8];	/* by ublk_stat_slot() of the op */
	uint64_t bytes;
	uint64_t errors[8];
	uint64_t shmem;		/* requests served in place (SHMEM_ZC) */
};

/* The ops up to WRITE_ZEROES count as themselves; zone ops in two slots. */
#define UBLK_STAT_ZONE_APPEND	6
#define UBLK_STAT_ZONE_OTHER	7	/* open, close, finish, reset, report */

static inline unsigned ublk_stat_slot(unsigned op)
{
	if (op <= UBLK_IO_OP_WRITE_ZEROES)
		return op;
	return op == UBLK_IO_OP_ZONE_APPEND ? UBLK_STAT_ZONE_APPEND :
					      UBLK_STAT_ZONE_OTHER;
}

/* A hardware queue: what the kernel shares with us, and the tags' state. */
struct ublk_queue {
	struct ublk_dev *dev;
	struct backend *backend;
	const void *descs;	/* one descriptor per tag, desc_size bytes apart */
	size_t descs_sz;
	size_t desc_size;	/* 24, or dev_info.io_desc_size (IO_DESC_SIZE) */
	struct ublk_io *ios;
	void *bufs;
	size_t bufs_sz;
	int bufs_huge;		/* bufs may have huge pages: queue_bufs_huge() */
	void *metas;		/* integrity: every tag's metadata buffer */
	size_t metas_sz;
	unsigned q_id;
	unsigned depth;
	unsigned mode;		/* UBLK_QMODE_* */
	/*
	 * Serves every tag, or with batch I/O PREPs them and keeps the
	 * target's state (other threads may fetch from it too); NULL with
	 * per-I/O threads.
	 */
	struct ublk_thread *thread;
	int tgt_ready;		/* the target's queue_init succeeded: queue_exit is due */
	int trace_fd;		/* trace_marker, or -1 */
	cpu_set_t cpus;		/* the kernel's affinity for this queue */
	struct ublk_queue_stats stats;
};

/*
 * Tag @tag's descriptor.  With IO_DESC_SIZE (Linux 7.3) the kernel lays
 * them out io_desc_size bytes apart; its first 24 bytes are the usual ones.
 */
static inline const struct ublksrv_io_desc *ublk_queue_desc(const struct ublk_queue *q,
							     unsigned tag)
{
	return (const struct ublksrv_io_desc *)((const char *)q->descs +
						 (size_t)tag * q->desc_size);
}

/* How a queue's requests reach their data. */
#define UBLK_QMODE_USER_COPY	(1U << 0)	/* pread/pwrite on /dev/ublkcN */
#define UBLK_QMODE_ZERO_COPY	(1U << 1)	/* the request's pages, registered */
#define UBLK_QMODE_AUTO_REG	(1U << 2)	/* ... by the kernel itself */
#define UBLK_QMODE_BATCH	(1U << 3)	/* batch commands (UBLK_F_BATCH_IO) */
#define UBLK_QMODE_ZONED	(1U << 4)	/* zone ops; appends commit a sector */

struct ublk_batch;

/*
 * A server thread: one ring, serving a set of (queue, tag) pairs.  By
 * default thread i serves every tag of queue i; with per-I/O threads
 * (PER_IO_DAEMON) the tags of all queues are dealt out among them; with
 * batch I/O it serves the tags its FETCHes bring, from one queue or more,
 * which other threads may fetch from too (batch_serves in batch.c).
 */
struct ublk_thread {
	struct uring ring;
	struct ublk_dev *dev;
	unsigned idx;
	unsigned nr_ios;	/* (queue, tag) pairs it serves */
	unsigned cmd_inflight;	/* io commands the kernel holds */
	unsigned tgt_inflight;	/* backend SQEs in flight */
	unsigned tgt_notag_inflight;	/* backend SQEs of no tag (UBLK_TGT_NO_TAG) */
	int tgt_stopping;	/* cancelling those: no new ones */
	int aborted;		/* the kernel aborted a command: the queue goes away */
	int failed;		/* a command or io_uring_enter failed: it ends alone */
	int leave;		/* relaxed atomic: the device's commands were aborted
				 * elsewhere: end once no request is ours */
	unsigned aux_inflight;	/* buffer (un)register commands in flight */
	/*
	 * Batch COMMITs queued since the last io_uring_enter: the kernel
	 * posts their CQEs as it submits them, so the wait asks for one more.
	 */
	unsigned submit_cqes;
	unsigned reaping;	/* CQEs ready when the current reap began */
	uint64_t served;	/* requests fetched (relaxed atomic: dump reads it) */
	/*
	 * How a result goes back to the kernel: NULL for COMMIT_AND_FETCH_REQ
	 * per tag; batch I/O gathers them for one COMMIT_IO_CMDS.
	 */
	void (*commit)(struct ublk_thread *t, struct ublk_queue *q,
		       unsigned tag, int result);
	struct ublk_batch *batch;	/* batch I/O state, or NULL */
	uint64_t commits;	/* batch I/O: COMMIT_IO_CMDS sent (relaxed atomic) */
	uint64_t committed;	/* ... and the results they carried */
	pthread_t thread;
	pid_t tid;
	cpu_set_t cpus;		/* where to pin it; empty: anywhere */
	int setup_ret;
	int state;		/* UBLK_THREAD_*, written by the thread */
};

enum {
	UBLK_THREAD_STARTING,
	UBLK_THREAD_RUNNING,
	UBLK_THREAD_EXITED,
};

/*
 * Test and benchmark switches; ublk/ reads no environment, the CLI fills
 * them in.  ublk_dev_add and ublk_dev_attach zero the device: set them
 * after those, before ublk_dev_start_queues.
 */
struct ublk_switches {
	int no_commit;		/* never commit a request: a hung server */
	int plain_ring;		/* no SINGLE_ISSUER, DEFER_TASKRUN, COOP_TASKRUN */
	int no_ring_fd;		/* leave each ring's fd unregistered */
	const char *die_at;	/* setup point to die at (ublk_test_die_point), or NULL */
	/*
	 * Batch I/O: one buffer for a thread's FETCHes, so that under load
	 * a FETCH ends (-ENOBUFS) and another thread's takes its queue over.
	 */
	int one_fetch_buf;
};

/* Start @t; it reports on t->dev->event_fd as its state changes. */
int ublk_thread_start(struct ublk_thread *t);

/* A buffer shared with clients, registered with the driver (SHMEM_ZC). */
struct ublk_shmem {
	char *base;		/* our mapping */
	size_t len;
	unsigned index;		/* the driver's: descriptors name it */
	int read_only;		/* mapped and pinned read-only: serves writes only */
};

#define UBLK_SHMEM_MAX	4

struct ublk_dev {
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params params;
	struct ublk_ctrl *ctrl;
	struct backend *backend;
	struct ublk_queue *queues;
	/*
	 * Copies of info's fields for the threads: the main thread refreshes
	 * info (GET_DEV_INFO zeroes it first) while they run.
	 */
	unsigned dev_id;
	unsigned nr_queues;
	struct ublk_thread *threads;
	unsigned nr_threads;	/* 0 before start: one per queue; any count with per_io or batch I/O */
	int per_io;		/* deal tags out among the threads (PER_IO_DAEMON) */
	unsigned threads_started;
	int cdev_fd;
	int event_fd;		/* threads report setup and exit here */
	struct ublk_switches sw;
	int io_flusher;		/* PR_SET_IO_FLUSHER on the threads that serve I/O */
	int trace_fd;		/* trace_marker for --trace-marker, or -1 */
	struct ublk_shmem shmem[UBLK_SHMEM_MAX];
	unsigned nr_shmem;
	char err[256];		/* why the last step failed */
};

/* ADD_DEV with @info; fills in d->info with what the kernel chose. */
int ublk_dev_add(struct ublk_dev *d, struct ublk_ctrl *c, struct backend *b,
		 const struct ublksrv_ctrl_dev_info *info);
/* Take over device @id that another process added (GET_DEV_INFO). */
int ublk_dev_attach(struct ublk_dev *d, struct ublk_ctrl *c, struct backend *b,
		    unsigned id);
/* Build and send SET_PARAMS from the backend's size and limits. */
int ublk_dev_set_params(struct ublk_dev *d);
/*
 * Open /dev/ublkcN, map the queues and start the threads (d->nr_threads,
 * d->per_io); returns once each has fetched its tags.
 */
int ublk_dev_start_queues(struct ublk_dev *d);
/* START_DEV from the calling (non-queue) thread. */
int ublk_dev_start(struct ublk_dev *d);
/* END_USER_RECOVERY once the queues fetched again; refreshes d->info. */
int ublk_dev_end_recovery(struct ublk_dev *d);
/*
 * Write what every queue and tag is doing, and the counters, to @fd.
 * Read while the queues run: a snapshot, good for finding a hang.
 */
void ublk_dev_dump(const struct ublk_dev *d, int fd);
/* Threads still running. */
int ublk_dev_threads_alive(const struct ublk_dev *d);
/*
 * Threads that ended by a failure of their own (setup, a command, the
 * ring), not because the kernel aborted the device's commands.
 */
int ublk_dev_threads_failed(const struct ublk_dev *d);
/*
 * Another thread's commands were aborted (STOP_DEV, QUIESCE_DEV): the
 * device is going away, yet a command the kernel was busy with when it
 * cancelled (batch I/O's active FETCH) may never end.  Tell the running
 * threads to end once they serve no request (closing a ring cancels what
 * it still holds) and wake them.  0, or a negative errno.
 */
int ublk_dev_threads_leave(struct ublk_dev *d);
/* The thread serving queue @q (its first one, with batch I/O), or its first tag; -1. */
pid_t ublk_dev_queue_tid(const struct ublk_dev *d, unsigned q);
/* Wait for every thread to end, then unmap the queues and close /dev/ublkcN. */
void ublk_dev_join_queues(struct ublk_dev *d);
/*
 * Test switch: SIGKILL the process, as a crash would, when d->sw.die_at
 * names @point: after_add, queue_setup, before_start.
 */
void ublk_test_die_point(const struct ublk_dev *d, const char *point);
/*
 * SHMEM_ZC (shmem.c): map the file @fd (hugetlbfs or tmpfs: pages the
 * driver can pin) shared and register it, before the queues start.
 * Requests whose data lies in it are then served in place.  @read_only:
 * mapped and pinned read-only, it serves writes only.
 */
int ublk_dev_shmem_add(struct ublk_dev *d, int fd, int read_only);
/* Unmap them (ublk_dev_join_queues does); the driver unpins at DEL_DEV. */
void ublk_dev_shmem_release(struct ublk_dev *d);
/* Undo ublk_dev_add: stop, join, DEL_DEV; used on setup failure and exit. */
void ublk_dev_destroy(struct ublk_dev *d);

#endif
