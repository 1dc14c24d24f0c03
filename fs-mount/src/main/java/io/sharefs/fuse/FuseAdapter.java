package io.sharefs.fuse;

import io.sharefs.meta.Errno;
import io.sharefs.meta.FsException;
import io.sharefs.meta.RecordLocks;
import io.sharefs.vfs.Ctx;
import io.sharefs.vfs.DirEntry;
import io.sharefs.vfs.Vfs;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.IntSupplier;
import jnr.ffi.Pointer;
import jnr.ffi.types.dev_t;
import jnr.ffi.types.gid_t;
import jnr.ffi.types.mode_t;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.uid_t;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseContext;
import ru.serce.jnrfuse.struct.Flock;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

/**
 * The jnr-fuse binding: every callback converts its arguments, delegates once to the {@link Vfs} and
 * returns, through {@link #call}, which alone maps exceptions to errnos, times the call and keeps any
 * Throwable out of native code. flock and fcntl record locks go to the VFS (cluster-wide).
 */
public final class FuseAdapter extends FuseStubFS {
  private static final Logger LOG = LoggerFactory.getLogger(FuseAdapter.class);
  private static final ThreadLocal<byte[]> BUFFER = ThreadLocal.withInitial(() -> new byte[128 * 1024]);

  private final Vfs vfs;
  private final OpObserver observer;
  private final CountDownLatch initialised = new CountDownLatch(1);
  private volatile ReplyTap tap;
  private final KernelCache kernel = new KernelCache();

  public FuseAdapter(Vfs vfs, OpObserver observer) {
    this.vfs = vfs;
    this.observer = observer;
    // libfuse 2 drops utimens calls that set only one of atime/mtime (UTIME_OMIT, as tar's futimens
    // does) unless the filesystem declares flag_utime_omit_ok, bit 2 of the flags word.
    Pointer ops = jnr.ffi.Struct.getMemory(fuseOperations);
    long flagsOffset = flagsOffset(fuseOperations);
    ops.putInt(flagsOffset, ops.getInt(flagsOffset) | (1 << 2));
    installHotCallbacks();
  }

  /** Byte offset of the bitfield word after the 38 function pointers that precede it in fuse_operations. */
  private static long flagsOffset(ru.serce.jnrfuse.struct.FuseOperations ops) {
    try {
      return memberOffset(ops, "flag_nullpath_ok");
    } catch (RuntimeException e) {
      return 38L * jnr.ffi.Runtime.getSystemRuntime().addressSize();
    }
  }

  /** Throws a clear IOException if libfuse 2 cannot be loaded. */
  public static void checkLibfuse() throws java.io.IOException {
    try {
      loadLibfuse(ru.serce.jnrfuse.LibFuse.class);
    } catch (Throwable e) {
      throw new java.io.IOException("libfuse.so.2 is not installed: run `apt-get install -y fuse3 libfuse2` as root");
    }
  }

  /** Binds {@code type} to libfuse 2, found by name as jnr-fuse finds it, else by its file name. */
  private static <T> T loadLibfuse(Class<T> type) {
    try {
      return jnr.ffi.LibraryLoader.create(type).failImmediately().load("fuse");
    } catch (Throwable e) {
      return jnr.ffi.LibraryLoader.create(type).failImmediately().load("libfuse.so.2");
    }
  }

  /** Counts down once the kernel has completed the FUSE handshake. */
  public CountDownLatch initialised() {
    return initialised;
  }

  @Override
  protected String getFSName() {
    return "sharefs";
  }

  private int call(String op, IntSupplier body) {
    long start = System.nanoTime();
    int rc;
    try {
      rc = body.getAsInt();
    } catch (FsException e) {
      rc = -e.errno();
      if (e.errno() == Errno.EIO) {
        LOG.warn("{} failed with EIO: {}", op, e.getMessage()); // the caller sees only the errno
      }
    } catch (Throwable t) {
      LOG.error("{} failed unexpectedly", op, t);
      rc = -Errno.EIO;
    }
    observer.observe(op, System.nanoTime() - start, rc < 0 ? -rc : 0);
    return rc;
  }

  private Ctx ctx() {
    Pointer p = ContextHolder.LIB.fuse_get_context();
    if (p == null) {
      throw new FsException(Errno.EIO, "fuse_get_context() outside a request"); // never guess root
    }
    FuseContext c = reuse(CONTEXT, p, m -> new FuseContext(jnr.ffi.Runtime.getSystemRuntime()));
    return new Ctx((int) c.uid.get(), (int) c.gid.get(), (int) c.pid.get());
  }

  private static byte[] buffer(long size) {
    byte[] b = BUFFER.get();
    if (b.length < size) {
      b = new byte[(int) size];
      BUFFER.set(b);
    }
    return b;
  }

  @Override
  public Pointer init(Pointer conn) {
    try {
      Pointer context = ContextHolder.LIB.fuse_get_context();
      if (context != null) {
        tap = ReplyTap.install(loadLibfuse(ReplyTap.SessionLib.class), FuseContext.of(context).fuse.get(), kernel);
      }
    } catch (Throwable t) {
      LOG.warn("cannot look up the FUSE session: closing read-only files keeps its FLUSH round trip, "
          + "and the kernel's caches are not invalidated", t);
    }
    if (kernel.active()) {
      vfs.trackKernelCache(kernel::settled, new Vfs.KernelStale() {
        @Override
        public void inode(long ino) {
          kernel.invalidate(ino);
        }

        @Override
        public void entry(long parent, byte[] name) {
          kernel.invalidate(parent);
          kernel.entryChanged(parent, name);
        }
      });
    }
    initialised.countDown();
    return null;
  }

  /** Read-only opens whose close() sends no FLUSH; 0 when libfuse's channel could not be wrapped. */
  public long noFlushOpens() {
    ReplyTap n = tap;
    return n == null ? 0 : n.marked();
  }

  @Override
  public int getattr(String path, FileStat stat) {
    return call("getattr", () -> {
      long since = kernel.changes();
      io.sharefs.meta.Inode i = vfs.getattr(path);
      StatMapper.fill(i, stat);
      markEntry(i, since);
      return 0;
    });
  }

  @Override
  public int fgetattr(String path, FileStat stat, FuseFileInfo fi) {
    return call("fgetattr", () -> {
      long since = kernel.changes();
      io.sharefs.meta.Inode i = vfs.fgetattr(path, fi.fh.get());
      StatMapper.fill(i, stat);
      markEntry(i, since);
      return 0;
    });
  }

  /**
   * libfuse answers a lookup (or create, mkdir, ...) with what getattr found: the tap notes which inode,
   * and the kernel cache's change count from before the tables were read.
   */
  private void markEntry(io.sharefs.meta.Inode i, long since) {
    ReplyTap t = tap;
    if (t != null) {
      t.markEntry(i.ino(), since);
    }
  }

  /** What the kernel caches and how it is kept fresh; wire it to the metadata's applied changes. */
  public KernelCache kernelCache() {
    return kernel;
  }

  @Override
  public int readlink(String path, Pointer buf, @size_t long size) {
    return call("readlink", () -> {
      byte[] t = vfs.readlink(path);
      int n = (int) Math.min(t.length, size - 1);
      buf.put(0, t, 0, n);
      buf.putByte(n, (byte) 0);
      return 0;
    });
  }

  @Override
  public int mknod(String path, @mode_t long mode, @dev_t long rdev) {
    return call("mknod", () -> {
      vfs.mknod(ctx(), path, (int) mode, rdev);
      return 0;
    });
  }

  @Override
  public int mkdir(String path, @mode_t long mode) {
    return call("mkdir", () -> {
      vfs.mkdir(ctx(), path, (int) mode);
      return 0;
    });
  }

  @Override
  public int unlink(String path) {
    return call("unlink", () -> {
      vfs.unlink(ctx(), path);
      return 0;
    });
  }

  @Override
  public int rmdir(String path) {
    return call("rmdir", () -> {
      vfs.rmdir(ctx(), path);
      return 0;
    });
  }

  @Override
  public int symlink(String target, String linkPath) {
    return call("symlink", () -> {
      vfs.symlink(ctx(), target, linkPath);
      return 0;
    });
  }

  @Override
  public int rename(String from, String to) {
    return call("rename", () -> {
      vfs.rename(ctx(), from, to, 0);
      return 0;
    });
  }

  @Override
  public int link(String from, String to) {
    return call("link", () -> {
      vfs.link(ctx(), from, to);
      return 0;
    });
  }

  @Override
  public int chmod(String path, @mode_t long mode) {
    return call("chmod", () -> {
      vfs.chmod(ctx(), path, (int) mode);
      return 0;
    });
  }

  @Override
  public int chown(String path, @uid_t long uid, @gid_t long gid) {
    return call("chown", () -> {
      vfs.chown(ctx(), path, uid, gid);
      return 0;
    });
  }

  @Override
  public int truncate(String path, @off_t long size) {
    return call("truncate", () -> {
      vfs.truncate(ctx(), path, size);
      return 0;
    });
  }

  @Override
  public int ftruncate(String path, @off_t long size, FuseFileInfo fi) {
    return call("ftruncate", () -> {
      vfs.ftruncate(ctx(), path, fi.fh.get(), size);
      return 0;
    });
  }

  @Override
  public int utimens(String path, Timespec[] ts) {
    return call("utimens", () -> {
      vfs.utimens(ctx(), path, ts[0].tv_sec.get(), ts[0].tv_nsec.longValue(), ts[1].tv_sec.get(),
          ts[1].tv_nsec.longValue());
      return 0;
    });
  }

  @Override
  public int create(String path, @mode_t long mode, FuseFileInfo fi) {
    return call("create", () -> {
      fi.fh.set(vfs.create(ctx(), path, (int) mode, fi.flags.get()));
      return 0;
    });
  }

  @Override
  public int open(String path, FuseFileInfo fi) {
    return call("open", () -> {
      long fh = vfs.open(ctx(), path, fi.flags.get());
      fi.fh.set(fh);
      if (vfs.needsDirectIo(fh)) {
        setDirectIo(fi);
      }
      ReplyTap n = tap;
      if (n != null && vfs.skipsFlush(fh)) {
        n.markReply(fh);
      }
      return 0;
    });
  }

  /** Sets fuse_file_info.direct_io: bit 0 of the bitfield word just before {@code fh}. */
  private static void setDirectIo(FuseFileInfo fi) {
    Pointer mem = jnr.ffi.Struct.getMemory(fi);
    long word = memberOffset(fi, "fh") - 4;
    mem.putInt(word, mem.getInt(word) | 1);
  }

  private static long memberOffset(Object struct, String field) {
    try {
      Object member = struct.getClass().getField(field).get(struct);
      for (Class<?> c = member.getClass(); c != null; c = c.getSuperclass()) {
        for (java.lang.reflect.Method m : c.getDeclaredMethods()) {
          if (m.getName().equals("offset") && m.getParameterCount() == 0) {
            m.setAccessible(true);
            return ((Number) m.invoke(member)).longValue();
          }
        }
      }
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot locate " + field + " in " + struct.getClass(), e);
    }
    throw new IllegalStateException("cannot locate " + field + " in " + struct.getClass());
  }

  @Override
  public int read(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
    return call("read", () -> {
      byte[] b = buffer(size);
      int n = vfs.read(fi.fh.get(), b, (int) size, offset);
      buf.put(0, b, 0, n);
      return n;
    });
  }

  @Override
  public int write(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
    return call("write", () -> {
      byte[] b = buffer(size);
      buf.get(0, b, 0, (int) size);
      return vfs.write(fi.fh.get(), b, (int) size, offset);
    });
  }

  @Override
  public int flush(String path, FuseFileInfo fi) {
    return call("flush", () -> {
      vfs.flush(ctx(), fi.fh.get());
      return 0;
    });
  }

  @Override
  public int fsync(String path, int isdatasync, FuseFileInfo fi) {
    return call("fsync", () -> {
      vfs.fsync(ctx(), fi.fh.get());
      return 0;
    });
  }

  @Override
  public int release(String path, FuseFileInfo fi) {
    return call("release", () -> {
      vfs.release(ctx(), fi.fh.get());
      return 0;
    });
  }

  @Override
  public int flock(String path, FuseFileInfo fi, int op) {
    return call("flock", () -> {
      vfs.flock(ctx(), path, fi.fh.get(), fi.lock_owner.get(), op);
      return 0;
    });
  }

  private static final int F_GETLK = 5;
  private static final int F_SETLKW = 7;

  /**
   * fcntl record locks. libfuse hands over absolute ranges (l_whence = SEEK_SET, l_len 0 = to EOF)
   * and sends an unlock of the whole file for the closing owner on every close().
   */
  @Override
  public int lock(String path, FuseFileInfo fi, int cmd, Flock flock) {
    return call("lock", () -> {
      long start = flock.l_start.get();
      long len = flock.l_len.get();
      if (start < 0 || len < 0) {
        throw new FsException(Errno.EINVAL);
      }
      long end = len == 0 || start > RecordLocks.EOF - len ? RecordLocks.EOF : start + len - 1;
      int type = flock.l_type.get();
      if (cmd == F_GETLK) {
        Vfs.LockConflict c = vfs.testRecordLock(ctx(), path, fi.fh.get(), fi.lock_owner.get(), type, start, end);
        if (c == null) {
          flock.l_type.set(Flock.F_UNLCK);
        } else {
          flock.l_type.set(c.type());
          flock.l_start.set(c.start());
          flock.l_len.set(c.end() == RecordLocks.EOF ? 0 : c.end() - c.start() + 1);
          flock.l_pid.set(c.pid());
        }
        return 0;
      }
      vfs.setRecordLock(ctx(), path, fi.fh.get(), fi.lock_owner.get(), type, start, end, cmd == F_SETLKW);
      return 0;
    });
  }

  @Override
  public int opendir(String path, FuseFileInfo fi) {
    return call("opendir", () -> {
      if (!vfs.getattr(path).isDir()) {
        throw new FsException(Errno.ENOTDIR);
      }
      return 0;
    });
  }

  @Override
  public int readdir(String path, Pointer buf, FuseFillDir filler, @off_t long offset, FuseFileInfo fi) {
    return call("readdir", () -> {
      vfs.readdir(path, (DirEntry e) -> filler.apply(buf, e.name(), null, 0));
      return 0;
    });
  }

  @Override
  public int releasedir(String path, FuseFileInfo fi) {
    return 0;
  }

  @Override
  public int fsyncdir(String path, FuseFileInfo fi) {
    return 0; // directory changes are durable once applied
  }

  @Override
  public int statfs(String path, Statvfs stbuf) {
    return call("statfs", () -> {
      StatMapper.fill(vfs.statfs(), stbuf);
      return 0;
    });
  }

  @Override
  public int access(String path, int mask) {
    return call("access", () -> {
      vfs.getattr(path); // modes are checked by the kernel (default_permissions)
      return 0;
    });
  }

  @Override
  public int setxattr(String path, String name, Pointer value, @size_t long size, int flags) {
    return call("setxattr", () -> {
      byte[] v = new byte[(int) size];
      value.get(0, v, 0, v.length);
      vfs.setxattr(ctx(), path, name, v, flags);
      return 0;
    });
  }

  @Override
  public int getxattr(String path, String name, Pointer value, @size_t long size) {
    return call("getxattr", () -> {
      byte[] v = vfs.getxattr(path, name);
      if (size == 0) {
        return v.length;
      }
      if (size < v.length) {
        return -Errno.ERANGE;
      }
      value.put(0, v, 0, v.length);
      return v.length;
    });
  }

  @Override
  public int listxattr(String path, Pointer list, @size_t long size) {
    return call("listxattr", () -> {
      List<String> names = vfs.listxattr(path);
      int total = 0;
      for (String n : names) {
        total += n.getBytes(StandardCharsets.UTF_8).length + 1;
      }
      if (size == 0) {
        return total;
      }
      if (size < total) {
        return -Errno.ERANGE;
      }
      long at = 0;
      for (String n : names) {
        byte[] b = n.getBytes(StandardCharsets.UTF_8);
        list.put(at, b, 0, b.length);
        list.putByte(at + b.length, (byte) 0);
        at += b.length + 1;
      }
      return total;
    });
  }

  @Override
  public int removexattr(String path, String name) {
    return call("removexattr", () -> {
      vfs.removexattr(ctx(), path, name);
      return 0;
    });
  }

  // ---------------------------------------------------------------- hot callbacks

  // jnr-fuse wraps each callback in new objects: the path decoded by a generic converter, a fresh
  // FuseFileInfo, FileStat or Flock, and a FuseContext for every fuse_get_context(). On the calls every
  // lookup, open, read, write and close makes, that glue took ~10 of the ~55 µs of CPU a node spent
  // per warm file served (async-profiler, 2026-11-22). These closures replace jnr-fuse's entries in
  // fuse_operations for those calls: they decode the path themselves and point per-thread structs at
  // the native memory, then call the same methods as jnr-fuse's glue.

  /** {@code int op(const char *path, void *arg)}: getattr, open, flush, release. */
  public interface PathArg {
    @jnr.ffi.annotations.Delegate
    int call(Pointer path, Pointer arg);
  }

  /** {@code int fgetattr(const char *path, struct stat *st, struct fuse_file_info *fi)}. */
  public interface PathArgArg {
    @jnr.ffi.annotations.Delegate
    int call(Pointer path, Pointer arg1, Pointer arg2);
  }

  /** read and write: {@code int op(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)}. */
  public interface PathIo {
    @jnr.ffi.annotations.Delegate
    int call(Pointer path, Pointer buf, @size_t long size, @off_t long offset, Pointer fi);
  }

  /** {@code int lock(const char *path, struct fuse_file_info *fi, int cmd, struct flock *lock)}. */
  public interface PathLock {
    @jnr.ffi.annotations.Delegate
    int call(Pointer path, Pointer fi, int cmd, Pointer flock);
  }

  /** {@code int getxattr(const char *path, const char *name, char *value, size_t size)}. */
  public interface PathGetXattr {
    @jnr.ffi.annotations.Delegate
    int call(Pointer path, Pointer name, Pointer value, @size_t long size);
  }

  /** The one libfuse function the hot callbacks call back into. */
  public interface ContextLib {
    Pointer fuse_get_context();
  }

  /** Loaded with the first request, not with the class: {@link #checkLibfuse} must run first. */
  private static final class ContextHolder {
    static final ContextLib LIB = loadLibfuse(ContextLib.class);
  }
  private static final ThreadLocal<byte[]> NAME = ThreadLocal.withInitial(() -> new byte[4096]);
  private static final ThreadLocal<FileStat> STAT = new ThreadLocal<>();
  private static final ThreadLocal<FuseFileInfo> FILE_INFO = new ThreadLocal<>();
  private static final ThreadLocal<Flock> FLOCK = new ThreadLocal<>();
  private static final ThreadLocal<FuseContext> CONTEXT = new ThreadLocal<>();

  /** Native code holds only the closures' addresses: these references keep them alive. */
  private final List<Object> hotCallbacks = new java.util.ArrayList<>();

  private void installHotCallbacks() {
    install("getattr", PathArg.class, (PathArg) (p, st) -> getattr(string(p), reuse(STAT, st, FileStat::of)));
    install("fgetattr", PathArgArg.class,
        (PathArgArg) (p, st, fi) -> fgetattr(string(p), reuse(STAT, st, FileStat::of), fileInfo(fi)));
    install("open", PathArg.class, (PathArg) (p, fi) -> open(string(p), fileInfo(fi)));
    install("flush", PathArg.class, (PathArg) (p, fi) -> flush(string(p), fileInfo(fi)));
    install("release", PathArg.class, (PathArg) (p, fi) -> release(string(p), fileInfo(fi)));
    install("read", PathIo.class, (PathIo) (p, buf, size, off, fi) -> read(string(p), buf, size, off, fileInfo(fi)));
    install("write", PathIo.class, (PathIo) (p, buf, size, off, fi) -> write(string(p), buf, size, off, fileInfo(fi)));
    install("lock", PathLock.class,
        (PathLock) (p, fi, cmd, fl) -> lock(string(p), fileInfo(fi), cmd, reuse(FLOCK, fl, Flock::of)));
    install("getxattr", PathGetXattr.class,
        (PathGetXattr) (p, name, value, size) -> getxattr(string(p), string(name), value, size));
  }

  private <T> void install(String op, Class<T> type, T closure) {
    hotCallbacks.add(closure);
    Pointer fp = jnr.ffi.Runtime.getSystemRuntime().getClosureManager().getClosurePointer(type, closure);
    jnr.ffi.Struct.getMemory(fuseOperations).putPointer(memberOffset(fuseOperations, op), fp);
  }

  private static FuseFileInfo fileInfo(Pointer fi) {
    return fi == null ? null : reuse(FILE_INFO, fi, FuseFileInfo::of);
  }

  /** This thread's struct of that type, pointed at {@code memory}. */
  private static <S extends jnr.ffi.Struct> S reuse(ThreadLocal<S> mine, Pointer memory,
      java.util.function.Function<Pointer, S> create) {
    S s = mine.get();
    if (s == null) {
      s = create.apply(memory);
      mine.set(s);
    }
    s.useMemory(memory);
    return s;
  }

  /** A NUL-terminated C string (a path or an xattr name) as UTF-8. */
  static String string(Pointer p) {
    if (p == null) {
      return null;
    }
    int n = p.indexOf(0, (byte) 0);
    byte[] b = NAME.get();
    if (b.length < n) {
      b = new byte[n];
      NAME.set(b);
    }
    p.get(0, b, 0, n);
    return new String(b, 0, n, StandardCharsets.UTF_8);
  }
}
