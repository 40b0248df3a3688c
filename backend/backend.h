/* SPDX-License-Identifier: MIT */
/*
 * Backends ("targets" in ublksrv's words): what serves the block requests.
 * The interface they implement, struct backend_ops, and what a queue
 * offers them are ublk/'s (ublk/target.h); this header is the registry.
 *
 * Each backend file exports exactly one `const struct backend_ops` and keeps
 * the rest static.
 */
#ifndef SUBLK_BACKEND_H
#define SUBLK_BACKEND_H

#include "../ublk/target.h"

extern const struct backend_ops backend_null_ops;
extern const struct backend_ops backend_mem_ops;
extern const struct backend_ops backend_loop_ops;
extern const struct backend_ops backend_fault_ops;
extern const struct backend_ops backend_nbd_ops;
extern const struct backend_ops backend_stripe_ops;
extern const struct backend_ops backend_zoned_ops;

/* Look a backend up by name; NULL if there is none. */
const struct backend_ops *backend_find(const char *name);
/* A space-separated list of backend names, for messages. */
const char *backend_names(void);

#endif
