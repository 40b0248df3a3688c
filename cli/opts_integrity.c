// SPDX-License-Identifier: MIT
/*
 * The integrity options of `add` (INTEGRITY, Linux 7.0), spelled as the
 * kernel selftests' kublk spells them: --metadata_size, --pi_offset,
 * --tag_size, --csum_type, --integrity_capable, --integrity_reftag; and
 * loop's --metadata_file (kublk's second file), parsed in opts.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define opt_err(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

/* --csum_type names; crc64 is another name for nvme. */
static const struct {
	char name[8];
	uint8_t type;
	uint8_t pi_size;	/* bytes of the PI tuple */
} csum_types[] = {
	{ "none", LBMD_PI_CSUM_NONE, 0 },
	{ "ip", LBMD_PI_CSUM_IP, 8 },
	{ "t10dif", LBMD_PI_CSUM_CRC16_T10DIF, 8 },
	{ "nvme", LBMD_PI_CSUM_CRC64_NVME, 16 },
	{ "crc64", LBMD_PI_CSUM_CRC64_NVME, 16 },
};

#define NR_CSUM_TYPES	(sizeof(csum_types) / sizeof(csum_types[0]))

const char *opts_csum_name(uint8_t type)
{
	unsigned i;

	for (i = 0; i < NR_CSUM_TYPES; i++)
		if (csum_types[i].type == type)
			return csum_types[i].name;
	return "none";
}

static unsigned csum_pi_size(uint8_t type)
{
	unsigned i;

	for (i = 0; i < NR_CSUM_TYPES; i++)
		if (csum_types[i].type == type)
			return csum_types[i].pi_size;
	return 0;
}

/* A byte-sized value (--metadata_size, --pi_offset, --tag_size). */
static int opt_byte(const char *s, unsigned min, uint8_t *out)
{
	unsigned long v;

	if (opts_parse_uint(s, 255, &v) < 0 || v < min)
		return -EINVAL;
	*out = (uint8_t)v;
	return 0;
}

int opts_integrity_opt(struct backend_integrity *in, const char *name,
		       const char *arg, char *err, size_t errlen)
{
	unsigned i;

	if (!strcmp(name, "integrity_capable")) {
		in->flags |= LBMD_PI_CAP_INTEGRITY;
	} else if (!strcmp(name, "integrity_reftag")) {
		in->flags |= LBMD_PI_CAP_REFTAG;
	} else if (!strcmp(name, "metadata_size")) {
		if (opt_byte(arg, 1, &in->metadata_size))
			return opt_err("bad --metadata_size '%s' (1 to 255 bytes a block)", arg);
	} else if (!strcmp(name, "pi_offset")) {
		if (opt_byte(arg, 0, &in->pi_offset))
			return opt_err("bad --pi_offset '%s' (0 to 255)", arg);
	} else if (!strcmp(name, "tag_size")) {
		if (opt_byte(arg, 0, &in->tag_size))
			return opt_err("bad --tag_size '%s' (0 to 255)", arg);
	} else {	/* csum_type */
		for (i = 0; i < NR_CSUM_TYPES; i++)
			if (!strcmp(arg, csum_types[i].name))
				break;
		if (i == NR_CSUM_TYPES)
			return opt_err("bad --csum_type '%s' (none, ip, t10dif, nvme or crc64)", arg);
		in->csum_type = csum_types[i].type;
	}
	return 0;
}

/* Where the metadata lives: in memory (mem, fault), nowhere (null), a file (loop). */
static int check_metadata_home(const struct add_opts *o, char *err, size_t errlen)
{
	const char *t = o->conf.type;

	if (!strcmp(t, "loop")) {
		if (!o->conf.meta_file)
			return opt_err("-t loop keeps metadata in a file: --metadata_size needs --metadata_file PATH");
		return 0;
	}
	if (strcmp(t, "mem") && strcmp(t, "fault") && strcmp(t, "null"))
		return opt_err("--metadata_size goes with -t mem, fault, null or loop (the targets that keep or make up metadata)");
	return 0;
}

int opts_check_integrity(struct add_opts *o, char *err, size_t errlen)
{
	const struct backend_integrity *in = &o->conf.integrity;

	if (o->conf.meta_file && strcmp(o->conf.type, "loop"))
		return opt_err("--metadata_file goes with -t loop");
	if (!in->metadata_size) {
		if (in->flags || in->pi_offset || in->csum_type || in->tag_size)
			return opt_err("--integrity_capable, --integrity_reftag, --pi_offset, --csum_type and --tag_size need --metadata_size");
		if (o->conf.meta_file)
			return opt_err("--metadata_file needs --metadata_size (the bytes of metadata a block)");
		return 0;
	}
	if (check_metadata_home(o, err, errlen))
		return -EINVAL;
	if (o->flags & (UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_UNPRIVILEGED_DEV))
		return opt_err("--metadata_size moves metadata by user copy: not with -z or --unprivileged");
	if (in->csum_type == LBMD_PI_CSUM_NONE && (in->flags & LBMD_PI_CAP_REFTAG))
		return opt_err("--integrity_reftag needs a --csum_type");
	if (in->pi_offset + csum_pi_size(in->csum_type) > in->metadata_size)
		return opt_err("the %u-byte PI at --pi_offset %u does not fit in --metadata_size %u",
			       csum_pi_size(in->csum_type), in->pi_offset,
			       in->metadata_size);
	o->flags |= UBLK_F_INTEGRITY | UBLK_F_USER_COPY;
	return 0;
}
