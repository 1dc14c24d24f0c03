/*
 * fuse-floor: the cheapest FUSE filesystem the benchmark can compare sharefs with.
 *
 * It mirrors a backing directory through libfuse 2's high-level API, the same library and API
 * sharefs uses through jnr-fuse, and does nothing else: no replication, no metadata log, no
 * hashing, C instead of a JVM. Mounted with sharefs' kernel-cache options, the figures it reaches on
 * a machine are what any filesystem built this way can reach there; sharefs' figures divided by
 * these are sharefs' own cost.
 *
 * It has no flush operation, so the kernel stops sending FLUSH after the first close (libfuse
 * answers ENOSYS); no lock and no xattr operations either (the kernel then also stops asking for
 * security.capability before each write, as with sharefs' --no-xattrs). All of these only make it
 * cheaper; for writes, sharefs-async (which runs with --no-xattrs) is the like-for-like comparison.
 * Files are created by the daemon, so they belong to the user running it (the benchmark runs as root).
 *
 * Usage: fuse-floor BACKING_DIR MOUNTPOINT [libfuse options, e.g. -f -o kernel_cache]
 */
#define FUSE_USE_VERSION 26
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

static char backing[PATH_MAX];
static size_t backing_len;

/* The backing path of a mount path, or -ENAMETOOLONG. */
static int real(char out[PATH_MAX], const char *path) {
  size_t n = strlen(path);
  if (backing_len + n + 1 > PATH_MAX) {
    return -ENAMETOOLONG;
  }
  memcpy(out, backing, backing_len);
  memcpy(out + backing_len, path, n + 1);
  return 0;
}

#define REAL(p, path)          \
  char p[PATH_MAX];            \
  do {                         \
    int e_ = real(p, path);    \
    if (e_ != 0) return e_;    \
  } while (0)

static int ret(int r) { return r < 0 ? -errno : 0; }

static int f_getattr(const char *path, struct stat *st) {
  REAL(p, path);
  return ret(lstat(p, st));
}

static int f_fgetattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void) path;
  return ret(fstat((int) fi->fh, st));
}

static int f_readlink(const char *path, char *buf, size_t size) {
  REAL(p, path);
  ssize_t n = readlink(p, buf, size - 1);
  if (n < 0) {
    return -errno;
  }
  buf[n] = '\0';
  return 0;
}

static int f_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi) {
  (void) off;
  (void) fi;
  REAL(p, path);
  DIR *d = opendir(p);
  if (d == NULL) {
    return -errno;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = e->d_ino;
    st.st_mode = (mode_t) e->d_type << 12;
    if (fill(buf, e->d_name, &st, 0) != 0) {
      break;
    }
  }
  closedir(d);
  return 0;
}

static int f_mknod(const char *path, mode_t mode, dev_t rdev) {
  REAL(p, path);
  return ret(mknod(p, mode, rdev));
}

static int f_mkdir(const char *path, mode_t mode) {
  REAL(p, path);
  return ret(mkdir(p, mode));
}

static int f_unlink(const char *path) {
  REAL(p, path);
  return ret(unlink(p));
}

static int f_rmdir(const char *path) {
  REAL(p, path);
  return ret(rmdir(p));
}

static int f_symlink(const char *target, const char *path) {
  REAL(p, path);
  return ret(symlink(target, p));
}

static int f_rename(const char *from, const char *to) {
  REAL(a, from);
  REAL(b, to);
  return ret(rename(a, b));
}

static int f_link(const char *from, const char *to) {
  REAL(a, from);
  REAL(b, to);
  return ret(link(a, b));
}

static int f_chmod(const char *path, mode_t mode) {
  REAL(p, path);
  return ret(chmod(p, mode));
}

static int f_chown(const char *path, uid_t uid, gid_t gid) {
  REAL(p, path);
  return ret(lchown(p, uid, gid));
}

static int f_truncate(const char *path, off_t size) {
  REAL(p, path);
  return ret(truncate(p, size));
}

static int f_ftruncate(const char *path, off_t size, struct fuse_file_info *fi) {
  (void) path;
  return ret(ftruncate((int) fi->fh, size));
}

static int f_utimens(const char *path, const struct timespec ts[2]) {
  REAL(p, path);
  return ret(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW));
}

static int f_open(const char *path, struct fuse_file_info *fi) {
  REAL(p, path);
  int fd = open(p, fi->flags);
  if (fd < 0) {
    return -errno;
  }
  fi->fh = (uint64_t) fd;
  return 0;
}

static int f_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  REAL(p, path);
  int fd = open(p, fi->flags | O_CREAT, mode);
  if (fd < 0) {
    return -errno;
  }
  fi->fh = (uint64_t) fd;
  return 0;
}

static int f_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void) path;
  ssize_t n = pread((int) fi->fh, buf, size, off);
  return n < 0 ? -errno : (int) n;
}

static int f_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void) path;
  ssize_t n = pwrite((int) fi->fh, buf, size, off);
  return n < 0 ? -errno : (int) n;
}

static int f_statfs(const char *path, struct statvfs *st) {
  REAL(p, path);
  return ret(statvfs(p, st));
}

static int f_release(const char *path, struct fuse_file_info *fi) {
  (void) path;
  close((int) fi->fh);
  return 0;
}

static int f_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void) path;
  return ret(datasync ? fdatasync((int) fi->fh) : fsync((int) fi->fh));
}

static const struct fuse_operations ops = {
    .getattr = f_getattr,
    .fgetattr = f_fgetattr,
    .readlink = f_readlink,
    .readdir = f_readdir,
    .mknod = f_mknod,
    .mkdir = f_mkdir,
    .unlink = f_unlink,
    .rmdir = f_rmdir,
    .symlink = f_symlink,
    .rename = f_rename,
    .link = f_link,
    .chmod = f_chmod,
    .chown = f_chown,
    .truncate = f_truncate,
    .ftruncate = f_ftruncate,
    .utimens = f_utimens,
    .open = f_open,
    .create = f_create,
    .read = f_read,
    .write = f_write,
    .statfs = f_statfs,
    .release = f_release,
    .fsync = f_fsync,
};

int main(int argc, char *argv[]) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s BACKING_DIR MOUNTPOINT [libfuse options]\n", argv[0]);
    return 2;
  }
  if (realpath(argv[1], backing) == NULL) {
    fprintf(stderr, "fuse-floor: backing directory %s: %s\n", argv[1], strerror(errno));
    return 2;
  }
  backing_len = strlen(backing);
  if (backing_len == 1) {
    backing_len = 0; /* "/": mount paths already start with '/' */
  }
  umask(0);
  /* libfuse sees: argv[0] MOUNTPOINT [options] */
  argv[1] = argv[0];
  return fuse_main(argc - 1, argv + 1, &ops, NULL);
}
