/*
 * iommufd-sim: the LD_PRELOAD shim.  Interposes the libc calls QEMU makes
 * on /dev/iommu and VFIO cdev fds and routes the simulated ones to the
 * core; everything else goes to the next definition (RTLD_NEXT).
 *
 * Fds are recognised lazily (first ';' ioctl) by the memfd name, and state
 * is keyed by the file's (st_dev, st_ino) so dup'd fds share it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS      /* define both plain and 64 names ourselves */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sim.h"

/* Only the interposed libc names leave the library. */
#define EXPORT __attribute__((visibility("default")))

#define MAX_FD 65536
#define CTX_NAME "iommufd-sim"
#define DEV_PREFIX "/memfd:iommufd-sim-vfio"
#define CTX_PREFIX "/memfd:iommufd-sim"

enum { FK_NONE, FK_CTX, FK_DEV };

typedef struct FdEnt { int kind; void *obj; } FdEnt;

static FdEnt fdtab[MAX_FD];                 /* under sim_lock */
static atomic_uchar fd_ours[MAX_FD];        /* lock-free fast path */

/* Open files (contexts and devices) with at least one known fd. */
#define MAX_FILES 256
static FdEnt files[MAX_FILES];

/* ---- real libc entry points ---- */
#define REAL(ret, name, ...) \
    static ret (*real_##name)(__VA_ARGS__); \
    static void resolve_##name(void) \
    { \
        if (!real_##name) { \
            real_##name = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name); \
        } \
    }

REAL(int, open, const char *, int, ...)
REAL(int, open64, const char *, int, ...)
REAL(int, __open64_2, const char *, int)
REAL(int, __open_2, const char *, int)
REAL(int, openat, int, const char *, int, ...)
REAL(int, openat64, int, const char *, int, ...)
REAL(int, __openat64_2, int, const char *, int)
REAL(int, __openat_2, int, const char *, int)
REAL(int, close, int)
REAL(int, dup, int)
REAL(int, dup2, int, int)
REAL(int, dup3, int, int, int)
REAL(int, fcntl, int, int, ...)
REAL(int, fcntl64, int, int, ...)
REAL(int, ioctl, int, unsigned long, ...)
REAL(ssize_t, pread, int, void *, size_t, off_t)
REAL(ssize_t, pread64, int, void *, size_t, off_t)
REAL(ssize_t, __pread_chk, int, void *, size_t, off_t, size_t)
REAL(ssize_t, __pread64_chk, int, void *, size_t, off_t, size_t)
REAL(ssize_t, pwrite, int, const void *, size_t, off_t)
REAL(ssize_t, pwrite64, int, const void *, size_t, off_t)
REAL(void *, mmap, void *, size_t, int, int, int, off_t)
REAL(void *, mmap64, void *, size_t, int, int, int, off_t)

__attribute__((constructor))
static void shim_init(void)
{
    sim_obs_init();
}

static bool fd_valid(int fd)
{
    return fd >= 0 && fd < MAX_FD;
}

static bool is_ours(int fd)
{
    return fd_valid(fd) && atomic_load(&fd_ours[fd]);
}

static dev_t obj_dev(const FdEnt *e)
{
    return e->kind == FK_CTX ? ((SimCtx *)e->obj)->st_dev
                             : ((SimDevice *)e->obj)->st_dev;
}

static ino_t obj_ino(const FdEnt *e)
{
    return e->kind == FK_CTX ? ((SimCtx *)e->obj)->st_ino
                             : ((SimDevice *)e->obj)->st_ino;
}

static int *obj_nfds(const FdEnt *e)
{
    return e->kind == FK_CTX ? &((SimCtx *)e->obj)->nfds
                             : &((SimDevice *)e->obj)->nfds;
}

static FdEnt *file_find(dev_t d, ino_t i)
{
    for (int k = 0; k < MAX_FILES; k++) {
        if (files[k].kind && obj_dev(&files[k]) == d &&
            obj_ino(&files[k]) == i) {
            return &files[k];
        }
    }
    return NULL;
}

static FdEnt *file_add(int kind, void *obj)
{
    for (int k = 0; k < MAX_FILES; k++) {
        if (!files[k].kind) {
            files[k] = (FdEnt){ kind, obj };
            return &files[k];
        }
    }
    return NULL;
}

static void fd_map(int fd, const FdEnt *f)
{
    fdtab[fd] = *f;
    (*obj_nfds(f))++;
    atomic_store(&fd_ours[fd], 1);
}

/* Forget @fd; the last fd of a file releases it (lock held). */
static void fd_unmap(int fd)
{
    FdEnt e = fdtab[fd];
    int *n;

    if (!fd_valid(fd) || !e.kind) {
        return;
    }
    fdtab[fd] = (FdEnt){ 0 };
    atomic_store(&fd_ours[fd], 0);
    n = obj_nfds(&e);
    if (--(*n) > 0) {
        return;
    }
    for (int k = 0; k < MAX_FILES; k++) {
        if (files[k].obj == e.obj) {
            files[k] = (FdEnt){ 0 };
        }
    }
    if (e.kind == FK_CTX) {
        sim_ctx_maybe_release(e.obj);
    } else {
        sim_log("device %s released", ((SimDevice *)e.obj)->cfg.name);
        sim_device_release(e.obj);
    }
}

static char *read_config(int fd)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);

    while (buf && len < cap - 1) {
        ssize_t n = syscall(SYS_pread64, fd, buf + len, cap - 1 - len,
                            (off_t)len);

        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    if (buf) {
        buf[len] = 0;
    }
    return buf;
}

/*
 * Identify @fd (lock held).  Returns the entry, or NULL if the fd is not
 * simulated; *err is set for a simulated fd whose state cannot be built.
 */
static FdEnt *recognise(int fd, int *err)
{
    char path[64], link[256];
    struct stat st;
    FdEnt *f;
    ssize_t n;

    *err = 0;
    if (!fd_valid(fd)) {
        return NULL;
    }
    if (fdtab[fd].kind) {
        return &fdtab[fd];
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    n = readlink(path, link, sizeof(link) - 1);
    if (n < 0) {
        return NULL;
    }
    link[n] = 0;
    if (strncmp(link, CTX_PREFIX, strlen(CTX_PREFIX)) ||
        syscall(SYS_fstat, fd, &st)) {
        return NULL;
    }
    f = file_find(st.st_dev, st.st_ino);
    if (!f) {
        void *obj;
        int kind = strncmp(link, DEV_PREFIX, strlen(DEV_PREFIX)) ? FK_CTX
                                                                  : FK_DEV;

        if (kind == FK_CTX) {
            obj = sim_ctx_new(st.st_dev, st.st_ino);
            *err = obj ? 0 : -ENOMEM;
        } else {
            char *text = read_config(fd);

            obj = text ? sim_device_new(st.st_dev, st.st_ino, text, err)
                       : NULL;
            if (!text) {
                *err = -ENOMEM;
            }
            free(text);
        }
        if (!obj) {
            return NULL;
        }
        f = file_add(kind, obj);
        if (!f) {
            *err = -EMFILE;
            if (kind == FK_CTX) {
                sim_ctx_release(obj);
            } else {
                sim_device_release(obj);
            }
            return NULL;
        }
        sim_log("fd %d recognised as %s (%s)", fd,
                kind == FK_CTX ? "iommufd" : "vfio device", link);
    }
    fd_map(fd, f);
    return &fdtab[fd];
}

SimCtx *sim_shim_ctx_of_fd(int fd, int *err)
{
    FdEnt *f = recognise(fd, err);

    if (f && f->kind == FK_CTX) {
        return f->obj;
    }
    if (!*err) {
        *err = syscall(SYS_fcntl, fd, F_GETFD) < 0 ? -EBADF : -EBADFD;
    }
    return NULL;
}

/* ---- open ---- */
static bool is_dev_iommu(int dirfd, const char *path)
{
    (void)dirfd;
    return path && !strcmp(path, "/dev/iommu");
}

/* Answer open("/dev/iommu") with a fresh context on a memfd of ours. */
static int open_iommu(int flags)
{
    FdEnt f = { FK_CTX, NULL };
    struct stat st;
    int fd, ret;

    sim_lock();
    ret = sim_fail_check("OPEN_IOMMU");
    if (ret) {
        sim_unlock();
        errno = -ret;
        return -1;
    }
    fd = (int)syscall(SYS_memfd_create, CTX_NAME,
                      (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
    if (fd < 0 || syscall(SYS_fstat, fd, &st) || !fd_valid(fd) ||
        !(f.obj = sim_ctx_new(st.st_dev, st.st_ino)) || !file_add(FK_CTX,
                                                                  f.obj)) {
        int e = fd < 0 ? errno : ENOMEM;

        if (f.obj) {
            sim_ctx_release(f.obj);
        }
        if (fd >= 0) {
            syscall(SYS_close, fd);
        }
        sim_unlock();
        errno = e;
        return -1;
    }
    fd_map(fd, &f);
    sim_count("open.iommu", 1);
    sim_log("open /dev/iommu -> fd %d", fd);
    sim_unlock();
    return fd;
}

static mode_t va_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ?
           (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_WRAPPER(name) \
    EXPORT int name(const char *path, int flags, ...) \
    { \
        va_list ap; \
        mode_t mode; \
        va_start(ap, flags); \
        mode = va_mode(flags, ap); \
        va_end(ap); \
        if (is_dev_iommu(AT_FDCWD, path)) { \
            return open_iommu(flags); \
        } \
        resolve_##name(); \
        return real_##name(path, flags, mode); \
    }

OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)

#define OPENAT_WRAPPER(name) \
    EXPORT int name(int dirfd, const char *path, int flags, ...) \
    { \
        va_list ap; \
        mode_t mode; \
        va_start(ap, flags); \
        mode = va_mode(flags, ap); \
        va_end(ap); \
        if (is_dev_iommu(dirfd, path)) { \
            return open_iommu(flags); \
        } \
        resolve_##name(); \
        return real_##name(dirfd, path, flags, mode); \
    }

OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

EXPORT int __open64_2(const char *path, int flags)
{
    if (is_dev_iommu(AT_FDCWD, path)) {
        return open_iommu(flags);
    }
    resolve___open64_2();
    return real___open64_2(path, flags);
}

EXPORT int __open_2(const char *path, int flags)
{
    if (is_dev_iommu(AT_FDCWD, path)) {
        return open_iommu(flags);
    }
    resolve___open_2();
    return real___open_2(path, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    if (is_dev_iommu(dirfd, path)) {
        return open_iommu(flags);
    }
    resolve___openat64_2();
    return real___openat64_2(dirfd, path, flags);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    if (is_dev_iommu(dirfd, path)) {
        return open_iommu(flags);
    }
    resolve___openat_2();
    return real___openat_2(dirfd, path, flags);
}

/* ---- close / dup ---- */
EXPORT int close(int fd)
{
    if (is_ours(fd)) {
        sim_lock();
        fd_unmap(fd);
        sim_unlock();
    }
    resolve_close();
    return real_close(fd);
}

/* After a successful dup of @oldfd to @newfd, share the state. */
static void dup_track(int oldfd, int newfd)
{
    if (newfd < 0 || oldfd == newfd) {
        return;
    }
    sim_lock();
    if (is_ours(newfd)) {
        fd_unmap(newfd);        /* dup2/dup3 closed the old target */
    }
    if (is_ours(oldfd) && fd_valid(newfd)) {
        FdEnt f = fdtab[oldfd];

        fd_map(newfd, &f);
    }
    sim_unlock();
}

EXPORT int dup(int fd)
{
    int n;

    resolve_dup();
    n = real_dup(fd);
    dup_track(fd, n);
    return n;
}

EXPORT int dup2(int fd, int fd2)
{
    int n;

    resolve_dup2();
    n = real_dup2(fd, fd2);
    dup_track(fd, n);
    return n;
}

EXPORT int dup3(int fd, int fd2, int flags)
{
    int n;

    resolve_dup3();
    n = real_dup3(fd, fd2, flags);
    dup_track(fd, n);
    return n;
}

#define FCNTL_WRAPPER(name) \
    EXPORT int name(int fd, int cmd, ...) \
    { \
        va_list ap; \
        void *arg; \
        int n; \
        va_start(ap, cmd); \
        arg = va_arg(ap, void *); \
        va_end(ap); \
        resolve_##name(); \
        n = real_##name(fd, cmd, arg); \
        if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) { \
            dup_track(fd, n); \
        } \
        return n; \
    }

FCNTL_WRAPPER(fcntl)
FCNTL_WRAPPER(fcntl64)

/* ---- ioctl ---- */
EXPORT int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    void *arg;
    FdEnt *f;
    long ret;
    int err;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (_IOC_TYPE(req) == IOMMUFD_TYPE) {   /* VFIO_TYPE is ';' too */
        sim_lock();
        f = recognise(fd, &err);
        if (f || err) {
            if (err) {
                ret = err;
            } else if (f->kind == FK_CTX) {
                ret = sim_iommufd_ioctl(f->obj, req, (uint64_t)(uintptr_t)arg);
            } else {
                ret = sim_vfio_ioctl(f->obj, req, (uint64_t)(uintptr_t)arg);
            }
            sim_unlock();
            if (ret < 0) {
                errno = (int)-ret;
                return -1;
            }
            return (int)ret;
        }
        sim_unlock();
    }
    resolve_ioctl();
    return real_ioctl(fd, req, arg);
}

/* ---- region access ---- */
static bool dev_fd(int fd, SimDevice **dev)
{
    if (!is_ours(fd)) {
        return false;
    }
    sim_lock();
    if (fdtab[fd].kind == FK_DEV) {
        *dev = fdtab[fd].obj;
        return true;            /* returns with the lock held */
    }
    sim_unlock();
    return false;
}

static ssize_t sim_rw(SimDevice *dev, const void *buf, size_t n, off_t off,
                      bool write)
{
    ssize_t ret = write ? sim_vfio_pwrite(dev, (uint64_t)(uintptr_t)buf, n,
                                          off)
                        : sim_vfio_pread(dev, (uint64_t)(uintptr_t)buf, n, off);

    sim_unlock();
    if (ret < 0) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

#define PREAD_WRAPPER(name) \
    EXPORT ssize_t name(int fd, void *buf, size_t n, off_t off) \
    { \
        SimDevice *dev; \
        if (dev_fd(fd, &dev)) { \
            return sim_rw(dev, buf, n, off, false); \
        } \
        resolve_##name(); \
        return real_##name(fd, buf, n, off); \
    }

#define PWRITE_WRAPPER(name) \
    EXPORT ssize_t name(int fd, const void *buf, size_t n, off_t off) \
    { \
        SimDevice *dev; \
        if (dev_fd(fd, &dev)) { \
            return sim_rw(dev, buf, n, off, true); \
        } \
        resolve_##name(); \
        return real_##name(fd, buf, n, off); \
    }

PREAD_WRAPPER(pread)
PREAD_WRAPPER(pread64)

/* _FORTIFY_SOURCE turns pread() into a buffer size checking variant. */
#define PREAD_CHK_WRAPPER(name) \
    EXPORT ssize_t name(int fd, void *buf, size_t n, off_t off, size_t buflen) \
    { \
        SimDevice *dev; \
        if (n <= buflen && dev_fd(fd, &dev)) { \
            return sim_rw(dev, buf, n, off, false); \
        } \
        resolve_##name(); \
        return real_##name(fd, buf, n, off, buflen); \
    }

PREAD_CHK_WRAPPER(__pread_chk)
PREAD_CHK_WRAPPER(__pread64_chk)
PWRITE_WRAPPER(pwrite)
PWRITE_WRAPPER(pwrite64)

/* vfio-pci refuses mmap of a region without the MMAP flag; /dev/iommu has
 * no mmap at all. */
#define MMAP_WRAPPER(name) \
    EXPORT void *name(void *addr, size_t len, int prot, int flags, int fd, \
               off_t off) \
    { \
        if (is_ours(fd)) { \
            int kind; \
            sim_lock(); \
            kind = fdtab[fd].kind; \
            sim_log("mmap on %s fd %d refused", \
                    kind == FK_DEV ? "device" : "iommufd", fd); \
            sim_unlock(); \
            if (kind) { \
                errno = kind == FK_DEV ? EINVAL : ENODEV; \
                return MAP_FAILED; \
            } \
        } \
        resolve_##name(); \
        return real_##name(addr, len, prot, flags, fd, off); \
    }

MMAP_WRAPPER(mmap)
MMAP_WRAPPER(mmap64)
