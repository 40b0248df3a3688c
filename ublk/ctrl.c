// SPDX-License-Identifier: MIT
/*
 * Control commands: each is a uring_cmd on /dev/ublk-control carrying a
 * struct ublksrv_ctrl_cmd in the command area of a 128-byte SQE.  One
 * executor sends them; each command below is a short wrapper.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ublk.h"

/* Commands the kernel only knows in the ioctl encoding. */
#define CTRL_IOCTL_ONLY(nr)	((nr) >= UBLK_CMD_GET_FEATURES)

struct ctrl_op {
	unsigned nr;
	int read_only;		/* _IOR rather than _IOWR */
};

static const struct ctrl_op op_get_affinity = { UBLK_CMD_GET_QUEUE_AFFINITY, 1 };
static const struct ctrl_op op_get_info = { UBLK_CMD_GET_DEV_INFO, 1 };
static const struct ctrl_op op_get_info2 = { UBLK_CMD_GET_DEV_INFO2, 1 };
static const struct ctrl_op op_add = { UBLK_CMD_ADD_DEV, 0 };
static const struct ctrl_op op_del = { UBLK_CMD_DEL_DEV, 0 };
static const struct ctrl_op op_start = { UBLK_CMD_START_DEV, 0 };
static const struct ctrl_op op_stop = { UBLK_CMD_STOP_DEV, 0 };
static const struct ctrl_op op_set_params = { UBLK_CMD_SET_PARAMS, 0 };
static const struct ctrl_op op_get_params = { UBLK_CMD_GET_PARAMS, 1 };
static const struct ctrl_op op_start_recovery = { UBLK_CMD_START_USER_RECOVERY, 0 };
static const struct ctrl_op op_end_recovery = { UBLK_CMD_END_USER_RECOVERY, 0 };
static const struct ctrl_op op_get_features = { UBLK_CMD_GET_FEATURES, 1 };
static const struct ctrl_op op_del_async = { UBLK_CMD_DEL_DEV_ASYNC, 1 };
static const struct ctrl_op op_update_size = { UBLK_CMD_UPDATE_SIZE, 0 };
static const struct ctrl_op op_quiesce = { UBLK_CMD_QUIESCE_DEV, 0 };
static const struct ctrl_op op_try_stop = { UBLK_CMD_TRY_STOP_DEV, 0 };
static const struct ctrl_op op_reg_buf = { UBLK_CMD_REG_BUF, 0 };

static uint32_t ctrl_cmd_op(const struct ublk_ctrl *c, const struct ctrl_op *op)
{
	if (c->legacy && !CTRL_IOCTL_ONLY(op->nr))
		return op->nr;
	return op->read_only ? UBLK_CTRL_IOR(op->nr) : UBLK_CTRL_IOWR(op->nr);
}

/* Send one command and wait for its completion; returns the kernel's res. */
static int ctrl_submit(struct ublk_ctrl *c, const struct ctrl_op *op,
		       const struct ublksrv_ctrl_cmd *cmd)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	if (c->legacy && CTRL_IOCTL_ONLY(op->nr))
		return -EOPNOTSUPP;
	sqe = uring_get_sqe(&c->ring);
	if (!sqe)
		return -EBUSY;
	memcpy(uring_prep_cmd(sqe, c->fd, ctrl_cmd_op(c, op)), cmd, sizeof(*cmd));
	sqe->user_data = op->nr;

	do {
		ret = uring_submit_and_wait(&c->ring, 1);
		if (ret < 0)
			return ret;
	} while (!uring_cq_ready(&c->ring));

	cqe = uring_cqe_at(&c->ring, *c->ring.cq.khead);
	ret = cqe->res;
	uring_cq_advance(&c->ring, 1);
	log_debug("ctrl: cmd 0x%02x dev %d queue %d -> %d", op->nr,
		  (int)cmd->dev_id, (int16_t)cmd->queue_id, ret);
	return ret;
}

/*
 * Commands on an unprivileged device (and GET_DEV_INFO2 on any) carry the
 * path of its char device in front of their payload, so the kernel can
 * check the caller may open it: addr = "/dev/ublkcN\0" + payload.
 */
static int ctrl_exec_path(struct ublk_ctrl *c, const struct ctrl_op *op,
			  const struct ublksrv_ctrl_cmd *cmd)
{
	char buf[512];
	struct ublksrv_ctrl_cmd pcmd = *cmd;
	int plen, ret;

	plen = snprintf(buf, sizeof(buf), "/dev/ublkc%u", cmd->dev_id) + 1;
	if ((size_t)plen + cmd->len > sizeof(buf))
		return -E2BIG;
	if (cmd->len)
		memcpy(buf + plen, (void *)(uintptr_t)cmd->addr, cmd->len);
	pcmd.dev_path_len = (uint16_t)plen;
	pcmd.addr = (uint64_t)(uintptr_t)buf;
	pcmd.len = (uint16_t)(plen + cmd->len);
	ret = ctrl_submit(c, op, &pcmd);
	if (ret >= 0 && cmd->len)
		memcpy((void *)(uintptr_t)cmd->addr, buf + plen, cmd->len);
	return ret;
}

static int ctrl_exec(struct ublk_ctrl *c, const struct ctrl_op *op,
		     const struct ublksrv_ctrl_cmd *cmd)
{
	if (c->unpriv_id >= 0 && cmd->dev_id == (uint32_t)c->unpriv_id &&
	    op->nr != UBLK_CMD_ADD_DEV && op->nr != UBLK_CMD_GET_FEATURES)
		return ctrl_exec_path(c, op, cmd);
	return ctrl_submit(c, op, cmd);
}

static int ctrl_simple(struct ublk_ctrl *c, const struct ctrl_op *op,
		       unsigned id, uint64_t data0)
{
	struct ublksrv_ctrl_cmd cmd = {
		.dev_id = id,
		.queue_id = (uint16_t)-1,
		.data[0] = data0,
	};

	return ctrl_exec(c, op, &cmd);
}

static int ctrl_buf(struct ublk_ctrl *c, const struct ctrl_op *op,
		    unsigned id, uint64_t data0, void *buf, unsigned len)
{
	struct ublksrv_ctrl_cmd cmd = {
		.dev_id = id,
		.queue_id = (uint16_t)-1,
		.addr = (uint64_t)(uintptr_t)buf,
		.len = (uint16_t)len,
		.data[0] = data0,
	};

	return ctrl_exec(c, op, &cmd);
}

int ublk_ctrl_open(struct ublk_ctrl *c)
{
	uint64_t features = 0;
	int ret;

	memset(c, 0, sizeof(*c));
	c->unpriv_id = -1;
	c->fd = open(UBLK_CONTROL_PATH, O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	ret = uring_init(&c->ring, 4, IORING_SETUP_SQE128);
	if (ret < 0)
		goto err_close;

	/*
	 * GET_FEATURES exists only in the ioctl encoding (6.5+).  Without it
	 * the driver is 6.1-era and takes only the raw command numbers.
	 */
	ret = ctrl_buf(c, &op_get_features, 0, 0, &features, sizeof(features));
	if (ret == 0) {
		c->has_get_features = 1;
		c->features = features;
		c->legacy = !(features & UBLK_F_CMD_IOCTL_ENCODE);
	} else {
		c->features = UBLK_FEATURES_LEGACY;
		c->legacy = 1;
	}
	return 0;

err_close:
	close(c->fd);
	c->fd = -1;
	return ret;
}

void ublk_ctrl_close(struct ublk_ctrl *c)
{
	uring_exit(&c->ring);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void ublk_ctrl_use_legacy(struct ublk_ctrl *c)
{
	c->legacy = 1;
	c->features &= ~UBLK_F_CMD_IOCTL_ENCODE;
}

int ublk_ctrl_add_dev(struct ublk_ctrl *c, struct ublksrv_ctrl_dev_info *info)
{
	int ret = ctrl_buf(c, &op_add, info->dev_id, 0, info, sizeof(*info));

	if (ret == 0 && (info->flags & UBLK_F_UNPRIVILEGED_DEV))
		c->unpriv_id = (int)info->dev_id;
	return ret;
}

int ublk_ctrl_del_dev(struct ublk_ctrl *c, unsigned id)
{
	return ctrl_simple(c, &op_del, id, 0);
}

int ublk_ctrl_del_dev_async(struct ublk_ctrl *c, unsigned id)
{
	return ctrl_simple(c, &op_del_async, id, 0);
}

int ublk_ctrl_start_dev(struct ublk_ctrl *c, unsigned id, pid_t pid)
{
	return ctrl_simple(c, &op_start, id, (uint64_t)pid);
}

int ublk_ctrl_stop_dev(struct ublk_ctrl *c, unsigned id)
{
	return ctrl_simple(c, &op_stop, id, 0);
}

int ublk_ctrl_try_stop_dev(struct ublk_ctrl *c, unsigned id)
{
	return ctrl_simple(c, &op_try_stop, id, 0);
}

int ublk_ctrl_set_params(struct ublk_ctrl *c, unsigned id,
			 const struct ublk_params *p)
{
	return ctrl_buf(c, &op_set_params, id, 0, (void *)p, p->len);
}

int ublk_ctrl_get_params(struct ublk_ctrl *c, unsigned id,
			 struct ublk_params *p)
{
	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	p->types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD |
		   UBLK_PARAM_TYPE_DEVT;
	return ctrl_buf(c, &op_get_params, id, 0, p, sizeof(*p));
}

/*
 * GET_DEV_INFO2 names the device by path and so works on every device; it
 * also says whether later commands on it must carry the path.
 */
int ublk_ctrl_get_info(struct ublk_ctrl *c, unsigned id,
		       struct ublksrv_ctrl_dev_info *info)
{
	struct ublksrv_ctrl_cmd cmd = {
		.dev_id = id,
		.queue_id = (uint16_t)-1,
		.addr = (uint64_t)(uintptr_t)info,
		.len = sizeof(*info),
	};
	int ret;

	memset(info, 0, sizeof(*info));
	ret = ctrl_exec_path(c, &op_get_info2, &cmd);
	if (ret == -EOPNOTSUPP || ret == -EINVAL || ret == -ENOENT)
		ret = ctrl_submit(c, &op_get_info, &cmd);
	if (ret == 0)
		c->unpriv_id = (info->flags & UBLK_F_UNPRIVILEGED_DEV) ? (int)id : -1;
	return ret;
}

int ublk_ctrl_get_affinity(struct ublk_ctrl *c, unsigned id, unsigned q,
			   cpu_set_t *set)
{
	/* the queue id travels in data[0]; the mask is copied to addr */
	CPU_ZERO(set);
	return ctrl_buf(c, &op_get_affinity, id, q, set, sizeof(*set));
}

int ublk_ctrl_start_recovery(struct ublk_ctrl *c, unsigned id)
{
	return ctrl_simple(c, &op_start_recovery, id, 0);
}

int ublk_ctrl_end_recovery(struct ublk_ctrl *c, unsigned id, pid_t pid)
{
	return ctrl_simple(c, &op_end_recovery, id, (uint64_t)pid);
}

int ublk_ctrl_quiesce(struct ublk_ctrl *c, unsigned id, unsigned timeout_ms)
{
	return ctrl_simple(c, &op_quiesce, id, timeout_ms);
}

int ublk_ctrl_update_size(struct ublk_ctrl *c, unsigned id, uint64_t sectors)
{
	return ctrl_simple(c, &op_update_size, id, sectors);
}

int ublk_ctrl_reg_buf(struct ublk_ctrl *c, unsigned id, void *addr,
		      uint64_t len, uint32_t flags)
{
	struct ublk_shmem_buf_reg reg = {
		.addr = (uint64_t)(uintptr_t)addr,
		.len = len,
		.flags = flags,
	};

	return ctrl_buf(c, &op_reg_buf, id, 0, &reg, sizeof(reg));
}

static const char *const feature_names[UBLK_F_NR_KNOWN] = {
	"ZERO_COPY", "URING_CMD_COMP_IN_TASK", "NEED_GET_DATA",
	"USER_RECOVERY", "USER_RECOVERY_REISSUE", "UNPRIVILEGED_DEV",
	"CMD_IOCTL_ENCODE", "USER_COPY", "ZONED", "USER_RECOVERY_FAIL_IO",
	"UPDATE_SIZE", "AUTO_BUF_REG", "QUIESCE", "PER_IO_DAEMON",
	"BUF_REG_OFF_DAEMON", "BATCH_IO", "INTEGRITY", "SAFE_STOP_DEV",
	"NO_AUTO_PART_SCAN", "SHMEM_ZC", "IO_DESC_SIZE",
};

/* The first Linux release whose driver has each feature bit. */
static const char *const feature_since[UBLK_F_NR_KNOWN] = {
	"6.15", "6.0", "6.0", "6.1", "6.1", "6.3", "6.4", "6.5", "6.6",
	"6.13", "6.15", "6.16", "6.16", "6.16", "6.17", "7.0", "7.0",
	"7.0", "7.0", "7.1", "7.3",
};

const char *ublk_feature_since(unsigned bit)
{
	return bit < UBLK_F_NR_KNOWN ? feature_since[bit] : "?";
}

const char *ublk_feature_name(unsigned bit)
{
	return bit < UBLK_F_NR_KNOWN ? feature_names[bit] : NULL;
}

const char *ublk_state_name(unsigned state)
{
	static const char *const names[] = {
		"DEAD", "LIVE", "QUIESCED", "FAIL_IO",
	};

	return state < 4 ? names[state] : "UNKNOWN";
}
