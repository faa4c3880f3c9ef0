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
#include <sys/uio.h>
#include <unistd.h>

#include "sim.h"

/* Only the interposed libc names leave the library. */
#define EXPORT __attribute__((visibility("default")))

#define MAX_FD 65536
#define SIM_UIO_MAXIOV 1024         /* include/uapi/linux/uio.h:UIO_MAXIOV */
#define CTX_NAME "iommufd-sim"
#define DEV_PREFIX "/memfd:iommufd-sim-vfio"
#define CTX_PREFIX "/memfd:iommufd-sim"

enum { FK_NONE, FK_CTX, FK_DEV, FK_EVQ };

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
REAL(ssize_t, read, int, void *, size_t)
REAL(ssize_t, __read_chk, int, void *, size_t, size_t)
REAL(ssize_t, readv, int, const struct iovec *, int)
REAL(ssize_t, write, int, const void *, size_t)
REAL(ssize_t, writev, int, const struct iovec *, int)

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
    if (e->kind == FK_EVQ) {
        return ((SimObj *)e->obj)->evq.st_dev;
    }
    return e->kind == FK_CTX ? ((SimCtx *)e->obj)->st_dev
                             : ((SimDevice *)e->obj)->st_dev;
}

static ino_t obj_ino(const FdEnt *e)
{
    if (e->kind == FK_EVQ) {
        return ((SimObj *)e->obj)->evq.st_ino;
    }
    return e->kind == FK_CTX ? ((SimCtx *)e->obj)->st_ino
                             : ((SimDevice *)e->obj)->st_ino;
}

static int *obj_nfds(const FdEnt *e)
{
    if (e->kind == FK_EVQ) {
        return &((SimObj *)e->obj)->evq.nfds;
    }
    return e->kind == FK_CTX ? &((SimCtx *)e->obj)->nfds
                             : &((SimDevice *)e->obj)->nfds;
}

static void evq_close_private(SimVeventq *q)
{
    if (q->prfd >= 0) {
        syscall(SYS_close, q->prfd);
    }
    if (q->wfd >= 0) {
        syscall(SYS_close, q->wfd);
    }
    q->prfd = q->wfd = -1;
    q->signalled = false;
}

/*
 * The last fd of a vEVENTQ file closed:
 * drivers/iommu/iommufd/eventq.c:iommufd_eventq_fops_release drops the
 * object's users reference (it can be destroyed now; it lives on until
 * then, still queueing vEVENTs) and the reference on the iommufd file,
 * which may release the context.
 */
static void evq_release(SimObj *obj)
{
    SimVeventq *q = &obj->evq;
    SimCtx *ctx = q->ctx;

    evq_close_private(q);
    sim_log("veventq %u file released", obj->id);
    q->ctx = NULL;
    ctx->nevqfiles--;
    sim_ctx_maybe_release(ctx);
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
    } else if (e.kind == FK_EVQ) {
        evq_release(e.obj);
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

/* A private duplicate of @fd, out of the way of low fd numbers if it can. */
static int priv_dup(int fd)
{
    int n = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 256);

    return n >= 0 ? n : (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0);
}

/* Move @fd out of the way of low fd numbers if it can. */
static int hide_fd(int fd)
{
    int n = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 256);

    if (n < 0) {
        return fd;
    }
    syscall(SYS_close, fd);
    return n;
}

/*
 * drivers/iommu/iommufd/eventq.c:iommufd_eventq_init: an anonymous file
 * (here a pipe: the caller gets the read end, the lowest free fd, with
 * O_CLOEXEC) holding a reference on the iommufd file.
 */
int sim_shim_veventq_open(SimCtx *ctx, SimObj *obj)
{
    SimVeventq *q = &obj->evq;
    struct stat st;
    int p[2], prfd;
    FdEnt *f;

    if (syscall(SYS_pipe2, p, O_CLOEXEC)) {
        return -errno;
    }
    prfd = priv_dup(p[0]);
    if (prfd < 0 || !fd_valid(p[0]) || syscall(SYS_fstat, p[0], &st)) {
        int e = prfd < 0 ? errno : EMFILE;

        syscall(SYS_close, p[0]);
        syscall(SYS_close, p[1]);
        if (prfd >= 0) {
            syscall(SYS_close, prfd);
        }
        return -e;
    }
    q->rfd = p[0];
    q->prfd = prfd;
    q->wfd = hide_fd(p[1]);
    q->st_dev = st.st_dev;
    q->st_ino = st.st_ino;
    q->ctx = ctx;
    f = file_add(FK_EVQ, obj);
    if (!f) {
        syscall(SYS_close, q->rfd);
        evq_close_private(q);
        q->ctx = NULL;
        return -EMFILE;
    }
    ctx->nevqfiles++;
    fd_map(q->rfd, f);
    return q->rfd;
}

/*
 * The object goes while its file is open: only when VEVENTQ_ALLOC's reply
 * could not be written, so the fd was never handed out
 * (drivers/iommu/iommufd/eventq.c:iommufd_veventq_alloc, put_unused_fd).
 */
void sim_shim_veventq_abort(SimObj *obj)
{
    SimVeventq *q = &obj->evq;

    for (int fd = 0; fd < MAX_FD && q->nfds > 0; fd++) {
        if (fdtab[fd].kind == FK_EVQ && fdtab[fd].obj == obj) {
            fdtab[fd] = (FdEnt){ 0 };
            atomic_store(&fd_ours[fd], 0);
            q->nfds--;
            syscall(SYS_close, fd);
        }
    }
    for (int k = 0; k < MAX_FILES; k++) {
        if (files[k].obj == obj) {
            files[k] = (FdEnt){ 0 };
        }
    }
    evq_close_private(q);
    if (q->ctx) {
        q->ctx->nevqfiles--;    /* the context is in an ioctl: not released */
        q->ctx = NULL;
    }
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

/* anon_inode_getfile(..., O_RDWR): the pipe's read end says O_RDONLY. */
static int evq_getfl(int fd, int fl)
{
    sim_lock();
    if (fdtab[fd].kind == FK_EVQ) {
        fl = (fl & ~O_ACCMODE) | O_RDWR;
    }
    sim_unlock();
    return fl;
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
        if (cmd == F_GETFL && n >= 0 && is_ours(fd)) { \
            n = evq_getfl(fd, n); \
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
            } else if (f->kind == FK_EVQ) {
                ret = -ENOTTY;  /* the vEVENTQ file has no ioctls */
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
                    kind == FK_DEV ? "device" : \
                    kind == FK_EVQ ? "veventq" : "iommufd", fd); \
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

/* ---- vEVENTQ file: read, readv; pread, write refused ---- */

/* The vEVENTQ behind @fd, with the lock held, or NULL (lock not held). */
static SimObj *evq_fd(int fd)
{
    if (!is_ours(fd)) {
        return NULL;
    }
    sim_lock();
    if (fdtab[fd].kind == FK_EVQ) {
        return fdtab[fd].obj;
    }
    sim_unlock();
    return NULL;
}

static ssize_t evq_ret(ssize_t ret)
{
    sim_unlock();
    if (ret < 0) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

/*
 * fs/read_write.c:ksys_read -> iommufd_veventq_fops_read (at f_pos, which
 * the read never moves: always 0).
 */
EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    SimObj *obj = evq_fd(fd);

    if (obj) {
        return evq_ret(sim_veventq_read(obj, (uint64_t)(uintptr_t)buf, n));
    }
    resolve_read();
    return real_read(fd, buf, n);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    SimObj *obj = n <= buflen ? evq_fd(fd) : NULL;

    if (obj) {
        return evq_ret(sim_veventq_read(obj, (uint64_t)(uintptr_t)buf, n));
    }
    resolve___read_chk();
    return real___read_chk(fd, buf, n, buflen);
}

/*
 * fs/read_write.c:vfs_readv and do_loop_readv_writev: an empty vector
 * reads 0; a file with ->read but no ->read_iter gets one read per
 * segment, stopping at the first error (returned only if nothing was
 * read) or short read.  Advancing past a full segment skips the empty
 * ones after it (iov_iter_advance), but an empty first segment is a read
 * of 0 bytes: EINVAL.  The vector itself is read with process_vm_readv
 * like any caller memory (EFAULT); more than SIM_UIO_MAXIOV entries is EINVAL
 * (import_iovec).
 */
EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    static struct iovec v[SIM_UIO_MAXIOV];     /* under sim_lock */
    SimObj *obj = evq_fd(fd);
    uint64_t total = 0;
    ssize_t ret = 0;
    int i = 0;

    if (!obj) {
        resolve_readv();
        return real_readv(fd, iov, cnt);
    }
    if (cnt < 0 || cnt > SIM_UIO_MAXIOV) {
        return evq_ret(-EINVAL);
    }
    if (cnt && sim_copy_from_user(v, (uint64_t)(uintptr_t)iov,
                                  (size_t)cnt * sizeof(v[0]))) {
        return evq_ret(-EFAULT);
    }
    for (int k = 0; k < cnt; k++) {
        total += v[k].iov_len;
    }
    while (total && i < cnt) {
        ssize_t nr = sim_veventq_read(obj, (uint64_t)(uintptr_t)v[i].iov_base,
                                      v[i].iov_len);

        if (nr < 0) {
            if (!ret) {
                ret = nr;
            }
            break;
        }
        ret += nr;
        if ((size_t)nr != v[i].iov_len) {
            break;
        }
        for (i++; i < cnt && !v[i].iov_len; i++) {
        }
    }
    return evq_ret(ret);
}

/*
 * fs/read_write.c:vfs_write: the file is O_RDWR but has no ->write, so
 * no FMODE_CAN_WRITE: EINVAL.  (pread/pwrite: no FMODE_PREAD/PWRITE on an
 * anonymous inode, ESPIPE, which the pipe gives too.)
 */
EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    if (evq_fd(fd)) {
        return evq_ret(-EINVAL);
    }
    resolve_write();
    return real_write(fd, buf, n);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (evq_fd(fd)) {
        return evq_ret(-EINVAL);
    }
    resolve_writev();
    return real_writev(fd, iov, cnt);
}

/* ---- in-process test hook (include/iommufd-sim.h) ---- */
EXPORT int iommufd_sim_inject_event(int devfd, const uint64_t evt[4])
{
    int ret = -EBADF;

    sim_lock();
    if (is_ours(devfd) && fdtab[devfd].kind == FK_DEV) {
        ret = sim_dma_inject_event(fdtab[devfd].obj, evt);
    }
    sim_unlock();
    return ret;
}
