/* SPDX-License-Identifier: MIT */
/*
 * Between the I/O loop (queue.c) and batch I/O (batch.c); not for the CLI.
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
struct io_uring_sqe *thread_cmd_sqe(struct ublk_thread *t, unsigned q_id,
				    unsigned slot, unsigned nr, uint32_t cmd_op);

/* A request arrived for @tag: make its data reachable, then serve it. */
void queue_serve(struct ublk_queue *q, unsigned tag);

/*
 * Batch I/O (UBLK_F_BATCH_IO): a thread serves one queue.  Setup arms
 * every tag with one PREP_IO_CMDS and starts a multishot FETCH_IO_CMDS
 * whose CQEs carry lists of tags; results gather in a commit buffer that
 * goes out as one COMMIT_IO_CMDS per loop iteration, re-arming the tags.
 */
int batch_setup(struct ublk_thread *t, struct ublk_queue *q);
/* Queue @tag's result for the next COMMIT_IO_CMDS. */
void batch_commit(struct ublk_thread *t, struct ublk_queue *q, unsigned tag,
		  int result);
/* Send the gathered results, if any; before each wait. */
void batch_flush(struct ublk_thread *t);
int batch_is_cmd(unsigned op);
void batch_handle_cqe(struct ublk_thread *t, const struct io_uring_cqe *cqe);
/* After the ring is gone. */
void batch_teardown(struct ublk_thread *t);

#endif
