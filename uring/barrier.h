/* SPDX-License-Identifier: MIT */
/*
 * Ordering for memory shared with the kernel, written with C11 atomics so
 * it is right on weakly ordered CPUs (arm64) as well as on x86.
 */
#ifndef SUBLK_URING_BARRIER_H
#define SUBLK_URING_BARRIER_H

#define uring_load_acquire(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define uring_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define uring_load_relaxed(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define uring_smp_mb()			__atomic_thread_fence(__ATOMIC_SEQ_CST)

#endif
