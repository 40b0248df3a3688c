/* SPDX-License-Identifier: MIT */
/*
 * Raw io_uring system calls.  Each returns what the kernel returns:
 * a count or fd on success, -errno on failure.  Private to uring/.
 */
#ifndef SUBLK_URING_SYSCALL_H
#define SUBLK_URING_SYSCALL_H

#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "abi.h"

static inline int sys_io_uring_setup(unsigned entries, struct io_uring_params *p)
{
	long ret = syscall(__NR_io_uring_setup, entries, p);

	return ret < 0 ? -errno : (int)ret;
}

static inline int sys_io_uring_enter(int fd, unsigned to_submit,
				     unsigned min_complete, unsigned flags)
{
	long ret = syscall(__NR_io_uring_enter, fd, to_submit, min_complete,
			   flags, NULL, (size_t)_NSIG / 8);

	return ret < 0 ? -errno : (int)ret;
}

static inline int sys_io_uring_register(int fd, unsigned opcode,
					const void *arg, unsigned nr_args)
{
	long ret = syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);

	return ret < 0 ? -errno : (int)ret;
}

#endif
