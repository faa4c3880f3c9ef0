/*
 * iommufd-sim: access to caller memory.
 *
 * QEMU hands us raw pointers.  The kernel would fault them in with
 * copy_from_user(); we copy with process_vm_readv/writev on our own pid so
 * that a bad pointer turns into EFAULT instead of a crash in the shim.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sim.h"

/*
 * valgrind does not see process_vm_readv/writev writing memory: tell it,
 * so that runs under memcheck are clean.
 */
#if defined(__has_include) && __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define MARK_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED(p, n)
#else
#define MARK_DEFINED(p, n) ((void)(p), (void)(n))
#endif

/* Copy @len bytes from @src to @dst (both in this process), all or nothing. */
static int vm_copy(void *dst, const void *src, size_t len)
{
    while (len) {
        struct iovec l = { .iov_base = dst, .iov_len = len };
        struct iovec r = { .iov_base = (void *)src, .iov_len = len };
        ssize_t n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);

        if (n <= 0) {
            return -EFAULT;
        }
        MARK_DEFINED(dst, (size_t)n);
        dst = (char *)dst + n;
        src = (const char *)src + n;
        len -= (size_t)n;
    }
    return 0;
}

/* Write @len bytes from our buffer @src to caller address @dst. */
static int vm_write(void *dst, const void *src, size_t len)
{
    while (len) {
        struct iovec l = { .iov_base = (void *)src, .iov_len = len };
        struct iovec r = { .iov_base = dst, .iov_len = len };
        ssize_t n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);

        if (n <= 0) {
            return -EFAULT;
        }
        MARK_DEFINED(dst, (size_t)n);
        dst = (char *)dst + n;
        src = (const char *)src + n;
        len -= (size_t)n;
    }
    return 0;
}

/* include/linux/uaccess.h:copy_from_user: a bad pointer is EFAULT */
int sim_copy_from_user(void *dst, uint64_t uptr, size_t len)
{
    if (!len) {
        return 0;
    }
    if (!uptr || uptr + len < uptr) {
        return -EFAULT;
    }
    return vm_copy(dst, (const void *)(uintptr_t)uptr, len);
}

/* include/linux/uaccess.h:copy_to_user: a bad pointer is EFAULT */
int sim_copy_to_user(uint64_t uptr, const void *src, size_t len)
{
    if (!len) {
        return 0;
    }
    if (!uptr || uptr + len < uptr) {
        return -EFAULT;
    }
    return vm_write((void *)(uintptr_t)uptr, src, len);
}

int sim_clear_user(uint64_t uptr, size_t len)
{
    static const char zeros[4096];

    while (len) {
        size_t n = len < sizeof(zeros) ? len : sizeof(zeros);
        int ret = sim_copy_to_user(uptr, zeros, n);

        if (ret) {
            return ret;
        }
        uptr += n;
        len -= n;
    }
    return 0;
}

/*
 * Both ends are host addresses of this process; process_vm_readv validates
 * the local (destination) side as well as the remote (source) side.
 */
int sim_host_copy(uint64_t dst, uint64_t src, size_t len)
{
    if (!len) {
        return 0;
    }
    if (!dst || !src) {
        return -EFAULT;
    }
    return vm_copy((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, len);
}

/* Read /proc/self/maps without going through our own interposers. */
static char *read_maps(void)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps",
                          O_RDONLY | O_CLOEXEC);
    size_t cap = 65536, len = 0;
    char *buf;

    if (fd < 0) {
        return NULL;
    }
    buf = malloc(cap);
    while (buf) {
        ssize_t n;

        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);

            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        n = syscall(SYS_read, fd, buf + len, cap - len - 1);
        if (n <= 0) {
            buf[len] = 0;
            break;
        }
        len += (size_t)n;
    }
    syscall(SYS_close, fd);
    return buf;
}

/*
 * The kernel pins the pages of IOAS_MAP (FOLL_WRITE for writeable maps,
 * drivers/iommu/iommufd/pages.c:pfn_reader_user_pin), so an unmapped or
 * wrongly protected user range is EFAULT; the sim checks at every MAP.  Walk the sorted
 * VMA list and require [va, va + len) to be covered without holes.
 */
int sim_check_user_range(uint64_t va, uint64_t len, bool write)
{
    uint64_t cur = va, end = va + len;
    char *maps = read_maps(), *line;
    int ret = -EFAULT;

    if (!maps) {
        return -ENOMEM;
    }
    for (line = maps; line && *line && cur < end; ) {
        unsigned long long s, e;
        char perms[8] = "";
        char *nl = strchr(line, '\n');

        if (sscanf(line, "%llx-%llx %7s", &s, &e, perms) == 3 &&
            s <= cur && cur < e) {
            if (perms[0] != 'r' || (write && perms[1] != 'w')) {
                break;
            }
            cur = e;
        }
        line = nl ? nl + 1 : NULL;
    }
    if (cur >= end) {
        ret = 0;
    }
    free(maps);
    return ret;
}
