/* SPDX-License-Identifier: MIT */
/*
 * Between the files of the I/O path; not for the CLI.  They call
 * downwards only:
 *
 *   dev.c     device lifecycle: maps the queues, starts the threads
 *   thread.c  a thread's ring and loop: hands each CQE to batch.c or queue.c
 *   batch.c   batch I/O: arms, fetches and commits tags in lists
 *   queue.c   per-tag serving: fetch, target, commit; the target interface
 *
 * queue.c reaches batch.c's commit only through t->commit.
 */
#ifndef SUBLK_UBLK_INTERNAL_H
#define SUBLK_UBLK_INTERNAL_H

#include "ublk.h"

#define CDEV_FIXED_FD	0	/* /dev/ublkcN is fixed file 0 on every ring */

/*
 * A zeroed URING_CMD SQE for io command @nr (encoded as @cmd_op) on
 * /dev/ublkcN, user_data naming @q_id and @slot (a tag, or a batch buffer);
 * its command area is sqe->cmd.  NULL when @t's ring is full.
 */
struct io_uring_sqe *queue_cmd_sqe(struct ublk_thread *t, unsigned q_id,
				    unsigned slot, unsigned nr, uint32_t cmd_op);

/* A request arrived for @tag: make its data reachable, then serve it. */
void queue_serve(struct ublk_queue *q, unsigned tag);
/* Queue FETCH_REQ for every tag @t serves (per-tag commands, not batch). */
int queue_fetch_tags(struct ublk_thread *t);
/* A CQE of a per-tag command or of target I/O, on @t's ring. */
void queue_handle_cqe(struct ublk_thread *t, const struct io_uring_cqe *cqe);

/*
 * Batch I/O (UBLK_F_BATCH_IO): a thread fetches from one queue or more,
 * a queue is fetched from by one thread or more (batch_serves).  Setup
 * arms every tag of the queues the thread is first of (q->thread) with
 * one PREP_IO_CMDS each and starts a multishot FETCH_IO_CMDS per queue
 * whose CQEs carry lists of tags; results gather per queue in a commit
 * buffer that goes out as one COMMIT_IO_CMDS per loop iteration,
 * re-arming the tags; batch_setup makes t->commit gather them.
 */
int batch_setup(struct ublk_thread *t);
/* batch_setup's first half: the state and buffer ring, nothing sent (tests). */
int batch_init(struct ublk_thread *t);
/* Does thread @t fetch from queue @q?  d->nr_threads and nr_queues set. */
int batch_serves(const struct ublk_dev *d, unsigned t, unsigned q);
/* The buffer table slot of @q's @tag in every ring that fetches it. */
unsigned batch_buf_index(const struct ublk_dev *d, unsigned q, unsigned tag);
#define BATCH_FETCH_BGID	0	/* buffer group FETCH_IO_CMDS picks from */
/* Send the gathered results, if any; before each wait. */
void batch_flush(struct ublk_thread *t);
int batch_is_cmd(unsigned op);
void batch_handle_cqe(struct ublk_thread *t, const struct io_uring_cqe *cqe);
/* After the ring is gone. */
void batch_teardown(struct ublk_thread *t);

#endif
