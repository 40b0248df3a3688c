/* SPDX-License-Identifier: MIT */
/*
 * The ublk kernel ABI (include/uapi/linux/ublk_cmd.h), defined here so the
 * build never depends on the installed kernel headers.  Layouts must match
 * the kernel's byte for byte; the static asserts at the end check the sizes.
 */
#ifndef SUBLK_UBLK_ABI_H
#define SUBLK_UBLK_ABI_H

#include <stdint.h>
#include <sys/ioctl.h>

/* Control commands: legacy raw numbers; the ioctl encoding wraps them. */
#define UBLK_CMD_GET_QUEUE_AFFINITY	0x01
#define UBLK_CMD_GET_DEV_INFO		0x02
#define UBLK_CMD_ADD_DEV		0x04
#define UBLK_CMD_DEL_DEV		0x05
#define UBLK_CMD_START_DEV		0x06
#define UBLK_CMD_STOP_DEV		0x07
#define UBLK_CMD_SET_PARAMS		0x08
#define UBLK_CMD_GET_PARAMS		0x09
#define UBLK_CMD_START_USER_RECOVERY	0x10
#define UBLK_CMD_END_USER_RECOVERY	0x11
#define UBLK_CMD_GET_DEV_INFO2		0x12
/* These exist only in the ioctl encoding. */
#define UBLK_CMD_GET_FEATURES		0x13
#define UBLK_CMD_DEL_DEV_ASYNC		0x14
#define UBLK_CMD_UPDATE_SIZE		0x15
#define UBLK_CMD_QUIESCE_DEV		0x16
#define UBLK_CMD_TRY_STOP_DEV		0x17
#define UBLK_CMD_REG_BUF		0x18	/* SHMEM_ZC: returns the buffer's index */
#define UBLK_CMD_UNREG_BUF		0x19	/* SHMEM_ZC: data[0] = the index */

/*
 * UBLK_CMD_REG_BUF's payload (ctrl cmd addr/len): a shared mapping of
 * ours.  The layout of released kernels (7.3); 7.1's merge-window header
 * had a 32-bit len and no reserved field.
 */
struct ublk_shmem_buf_reg {
	uint64_t addr;		/* page-aligned address in the caller's memory */
	uint64_t len;		/* page-aligned bytes, at most 4 GiB */
	uint32_t flags;		/* UBLK_SHMEM_BUF_* */
	uint32_t reserved;
};
#define UBLK_SHMEM_BUF_SIZE_MAX		(1ULL << 32)

/* Pin without write access: the buffer can then serve only writes. */
#define UBLK_SHMEM_BUF_READ_ONLY	(1U << 0)

struct ublksrv_ctrl_cmd {
	uint32_t dev_id;
	uint16_t queue_id;	/* -1 when not for a queue */
	uint16_t len;
	uint64_t addr;
	uint64_t data[1];
	uint16_t dev_path_len;
	uint16_t pad;
	uint32_t reserved;
};

/* The encodings the kernel takes: _IOR for the read-only queries. */
#define UBLK_CTRL_IOR(nr)	_IOR('u', (nr), struct ublksrv_ctrl_cmd)
#define UBLK_CTRL_IOWR(nr)	_IOWR('u', (nr), struct ublksrv_ctrl_cmd)

/* I/O commands on /dev/ublkcN */
#define UBLK_IO_FETCH_REQ		0x20
#define UBLK_IO_COMMIT_AND_FETCH_REQ	0x21
#define UBLK_IO_NEED_GET_DATA		0x22
#define UBLK_IO_REGISTER_IO_BUF		0x23
#define UBLK_IO_UNREGISTER_IO_BUF	0x24

struct ublksrv_io_cmd {
	uint16_t q_id;
	uint16_t tag;
	int32_t result;
	union {
		uint64_t addr;
		uint64_t zone_append_lba;	/* COMMIT of a zone append */
	};
};

#define UBLK_IO_IOWR(nr)	_IOWR('u', (nr), struct ublksrv_io_cmd)

/*
 * Batch I/O (UBLK_F_BATCH_IO, Linux 7.0): per-queue commands instead of
 * one per tag, always ioctl-encoded, with struct ublk_batch_io (16 bytes,
 * as struct ublksrv_io_cmd) in the SQE's command area.
 */
#define UBLK_IO_PREP_IO_CMDS		0x25	/* arm tags once: their buffers */
#define UBLK_IO_COMMIT_IO_CMDS		0x26	/* results; re-arms the tags */
#define UBLK_IO_FETCH_IO_CMDS		0x27	/* multishot: tags of new requests */

struct ublk_batch_io {
	uint16_t q_id;
	uint16_t flags;		/* UBLK_BATCH_F_* */
	uint16_t nr_elem;
	uint8_t elem_bytes;
	uint8_t reserved;
	uint64_t reserved2;
};

#define UBLK_BATCH_F_HAS_ZONE_LBA		(1U << 0)
#define UBLK_BATCH_F_HAS_BUF_ADDR		(1U << 1)
#define UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK	(1U << 2)

/* An element of PREP and COMMIT; buf_addr follows with HAS_BUF_ADDR. */
struct ublk_elem_header {
	uint16_t tag;
	uint16_t buf_index;	/* AUTO_BUF_REG: the buffer-table slot */
	int32_t result;		/* COMMIT */
};

/* Completion results of FETCH / COMMIT_AND_FETCH */
#define UBLK_IO_RES_OK			0
#define UBLK_IO_RES_NEED_GET_DATA	1
/* UBLK_IO_RES_ABORT is -ENODEV */

#define UBLKSRV_IO_BUF_OFFSET	0x80000000ULL
#define UBLK_MAX_QUEUE_DEPTH	4096
#define UBLK_IO_BUF_BITS	25
#define UBLK_TAG_OFF		UBLK_IO_BUF_BITS
#define UBLK_TAG_BITS		16
#define UBLK_QID_OFF		(UBLK_TAG_OFF + UBLK_TAG_BITS)
#define UBLK_QID_BITS		12
#define UBLK_MAX_NR_QUEUES	(1U << UBLK_QID_BITS)
/* USER_COPY with INTEGRITY: this bit of the offset reaches the metadata */
#define UBLKSRV_IO_INTEGRITY_FLAG	(1ULL << 62)

/* Feature flags (dev_info.flags and GET_FEATURES) */
#define UBLK_F_SUPPORT_ZERO_COPY	(1ULL << 0)
#define UBLK_F_URING_CMD_COMP_IN_TASK	(1ULL << 1)
#define UBLK_F_NEED_GET_DATA		(1ULL << 2)
#define UBLK_F_USER_RECOVERY		(1ULL << 3)
#define UBLK_F_USER_RECOVERY_REISSUE	(1ULL << 4)
#define UBLK_F_UNPRIVILEGED_DEV		(1ULL << 5)
#define UBLK_F_CMD_IOCTL_ENCODE		(1ULL << 6)
#define UBLK_F_USER_COPY		(1ULL << 7)
#define UBLK_F_ZONED			(1ULL << 8)
#define UBLK_F_USER_RECOVERY_FAIL_IO	(1ULL << 9)
#define UBLK_F_UPDATE_SIZE		(1ULL << 10)
#define UBLK_F_AUTO_BUF_REG		(1ULL << 11)
#define UBLK_F_QUIESCE			(1ULL << 12)
#define UBLK_F_PER_IO_DAEMON		(1ULL << 13)
#define UBLK_F_BUF_REG_OFF_DAEMON	(1ULL << 14)
#define UBLK_F_BATCH_IO			(1ULL << 15)
#define UBLK_F_INTEGRITY		(1ULL << 16)
#define UBLK_F_SAFE_STOP_DEV		(1ULL << 17)
#define UBLK_F_NO_AUTO_PART_SCAN	(1ULL << 18)
#define UBLK_F_SHMEM_ZC			(1ULL << 19)
#define UBLK_F_IO_DESC_SIZE		(1ULL << 20)
#define UBLK_F_NR_KNOWN			21

/* Device states */
#define UBLK_S_DEV_DEAD		0
#define UBLK_S_DEV_LIVE		1
#define UBLK_S_DEV_QUIESCED	2
#define UBLK_S_DEV_FAIL_IO	3

struct ublksrv_ctrl_dev_info {
	uint16_t nr_hw_queues;
	uint16_t queue_depth;
	uint16_t state;
	uint16_t io_desc_size;
	uint32_t max_io_buf_bytes;
	uint32_t dev_id;
	int32_t ublksrv_pid;
	uint32_t pad1;
	uint64_t flags;
	uint64_t ublksrv_flags;	/* the server's own, unseen by the driver */
	uint32_t owner_uid;
	uint32_t owner_gid;
	uint64_t reserved1;
	uint64_t reserved2;
};

/* Request ops and flags in ublksrv_io_desc.op_flags */
#define UBLK_IO_OP_READ		0
#define UBLK_IO_OP_WRITE	1
#define UBLK_IO_OP_FLUSH	2
#define UBLK_IO_OP_DISCARD	3
#define UBLK_IO_OP_WRITE_SAME	4
#define UBLK_IO_OP_WRITE_ZEROES	5
/* Zoned devices (UBLK_F_ZONED, Linux 6.6) */
#define UBLK_IO_OP_ZONE_OPEN		10
#define UBLK_IO_OP_ZONE_CLOSE		11
#define UBLK_IO_OP_ZONE_FINISH		12
#define UBLK_IO_OP_ZONE_APPEND		13
#define UBLK_IO_OP_ZONE_RESET_ALL	14
#define UBLK_IO_OP_ZONE_RESET		15
/* start_sector: the first zone; nr_zones (for nr_sectors): how many */
#define UBLK_IO_OP_REPORT_ZONES		18

#define UBLK_IO_F_FUA		(1U << 13)
#define UBLK_IO_F_NOUNMAP	(1U << 15)
#define UBLK_IO_F_NEED_REG_BUF	(1U << 17)
#define UBLK_IO_F_INTEGRITY	(1U << 18)	/* the request carries metadata */
/* SHMEM_ZC: the data is in a registered buffer (ublk_shmem_zc_index) */
#define UBLK_IO_F_SHMEM_ZC	(1U << 19)

struct ublksrv_io_desc {
	uint32_t op_flags;	/* op: bits 0-7, flags: bits 8-31 */
	union {
		uint32_t nr_sectors;
		uint32_t nr_zones;	/* UBLK_IO_OP_REPORT_ZONES */
	};
	uint64_t start_sector;
	uint64_t addr;
};

static inline unsigned ublksrv_get_op(const struct ublksrv_io_desc *iod)
{
	return iod->op_flags & 0xff;
}

/*
 * UBLK_IO_F_SHMEM_ZC: the descriptor's addr is no address but the place
 * of the request's data: bits 0-31 the byte offset in the buffer, 32-47
 * the buffer's index (what REG_BUF returned), 48-63 zero.
 */
static inline unsigned ublk_shmem_zc_index(uint64_t addr)
{
	return (unsigned)(addr >> 32) & 0xffff;
}

static inline uint32_t ublk_shmem_zc_offset(uint64_t addr)
{
	return (uint32_t)addr;
}

/* For UBLK_F_AUTO_BUF_REG: passed in the io command's addr */
#define UBLK_AUTO_BUF_REG_FALLBACK	(1U << 0)

struct ublk_param_basic {
#define UBLK_ATTR_READ_ONLY		(1U << 0)
#define UBLK_ATTR_ROTATIONAL		(1U << 1)
#define UBLK_ATTR_VOLATILE_CACHE	(1U << 2)
#define UBLK_ATTR_FUA			(1U << 3)
	uint32_t attrs;
	uint8_t logical_bs_shift;
	uint8_t physical_bs_shift;
	uint8_t io_opt_shift;
	uint8_t io_min_shift;
	uint32_t max_sectors;
	uint32_t chunk_sectors;
	uint64_t dev_sectors;
	uint64_t virt_boundary_mask;
};

struct ublk_param_discard {
	uint32_t discard_alignment;
	uint32_t discard_granularity;
	uint32_t max_discard_sectors;
	uint32_t max_write_zeroes_sectors;
	uint16_t max_discard_segments;
	uint16_t reserved0;
};

struct ublk_param_devt {
	uint32_t char_major;
	uint32_t char_minor;
	uint32_t disk_major;
	uint32_t disk_minor;
};

struct ublk_param_zoned {
	uint32_t max_open_zones;
	uint32_t max_active_zones;
	uint32_t max_zone_append_sectors;
	uint8_t reserved[20];
};

struct ublk_param_dma_align {
	uint32_t alignment;
	uint8_t pad[4];
};

struct ublk_param_segment {
	uint64_t seg_boundary_mask;
	uint32_t max_segment_size;
	uint16_t max_segments;
	uint8_t pad[2];
};

/*
 * Integrity (UBLK_F_INTEGRITY, Linux 7.0): per interval of 2^interval_exp
 * bytes, metadata_size bytes of metadata, with a protection-information
 * tuple at pi_offset when csum_type is not NONE.  The flags and checksum
 * types are linux/fs.h's LBMD_PI_*.
 */
#define LBMD_PI_CAP_INTEGRITY		(1U << 0)	/* the device checks PI itself */
#define LBMD_PI_CAP_REFTAG		(1U << 1)	/* the PI carries a reference tag */
#define LBMD_PI_CSUM_NONE		0
#define LBMD_PI_CSUM_IP			1
#define LBMD_PI_CSUM_CRC16_T10DIF	2
#define LBMD_PI_CSUM_CRC64_NVME		4

struct ublk_param_integrity {
	uint32_t flags;			/* LBMD_PI_CAP_* */
	uint16_t max_integrity_segments;	/* 0: no limit */
	uint8_t interval_exp;
	uint8_t metadata_size;		/* nonzero */
	uint8_t pi_offset;
	uint8_t csum_type;		/* LBMD_PI_CSUM_* */
	uint8_t tag_size;
	uint8_t pad[5];
};

struct ublk_params {
	uint32_t len;
#define UBLK_PARAM_TYPE_BASIC		(1U << 0)
#define UBLK_PARAM_TYPE_DISCARD		(1U << 1)
#define UBLK_PARAM_TYPE_DEVT		(1U << 2)
#define UBLK_PARAM_TYPE_ZONED		(1U << 3)
#define UBLK_PARAM_TYPE_DMA_ALIGN	(1U << 4)
#define UBLK_PARAM_TYPE_SEGMENT		(1U << 5)
#define UBLK_PARAM_TYPE_INTEGRITY	(1U << 6)
	uint32_t types;
	struct ublk_param_basic basic;
	struct ublk_param_discard discard;
	struct ublk_param_devt devt;
	struct ublk_param_zoned zoned;
	struct ublk_param_dma_align dma;
	struct ublk_param_segment seg;
	struct ublk_param_integrity integrity;
};

_Static_assert(sizeof(struct ublksrv_ctrl_cmd) == 32, "ctrl cmd");
_Static_assert(sizeof(struct ublksrv_ctrl_dev_info) == 64, "dev info");
_Static_assert(sizeof(struct ublksrv_io_cmd) == 16, "io cmd");
_Static_assert(sizeof(struct ublksrv_io_desc) == 24, "io desc");
_Static_assert(sizeof(struct ublk_shmem_buf_reg) == 24, "shmem buf reg");
_Static_assert(sizeof(struct ublk_param_basic) == 32, "basic params");
_Static_assert(sizeof(struct ublk_param_discard) == 20, "discard params");
_Static_assert(sizeof(struct ublk_param_integrity) == 16, "integrity params");
_Static_assert(sizeof(struct ublk_params) == 152, "params");

#endif
