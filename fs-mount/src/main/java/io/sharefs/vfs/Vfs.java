package io.sharefs.vfs;

import io.sharefs.block.BlockStore;
import io.sharefs.block.BlockStoreException;
import io.sharefs.meta.Dentry;
import io.sharefs.meta.Errno;
import io.sharefs.meta.FileMode;
import io.sharefs.meta.FsException;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.MetaPipeline;
import io.sharefs.meta.MetaStore;
import io.sharefs.meta.RecordLocks;
import io.sharefs.meta.op.CommitWriteOp;
import io.sharefs.meta.op.CreateOp;
import io.sharefs.meta.op.ForgetOp;
import io.sharefs.meta.op.LinkOp;
import io.sharefs.meta.op.LockOp;
import io.sharefs.meta.op.RecordLockOp;
import io.sharefs.meta.op.ReleaseNodeLocksOp;
import io.sharefs.meta.op.MetaOp;
import io.sharefs.meta.op.RemoveXattrOp;
import io.sharefs.meta.op.RenameOp;
import io.sharefs.meta.op.ReserveInosOp;
import io.sharefs.meta.op.SetAttrOp;
import io.sharefs.meta.op.SetXattrOp;
import io.sharefs.meta.op.UnlinkOp;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The filesystem semantics, over a {@link MetaStore} and a {@link BlockStore}: path resolution,
 * handles, open-file content, name rules and xattr namespaces. Paths are the absolute, normalised
 * paths the kernel hands FUSE (symlinks already followed). Permission checks on modes and owners are
 * the kernel's ({@code default_permissions}); this layer enforces what the kernel leaves to the
 * filesystem.
 */
public final class Vfs implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Vfs.class);

  public static final int O_ACCMODE = 3;
  public static final int O_RDONLY = 0;
  public static final int O_WRONLY = 1;
  public static final int O_RDWR = 2;
  public static final int O_TRUNC = 01000;
  public static final int O_APPEND = 02000;
  public static final long UTIME_NOW = (1L << 30) - 1;
  public static final long UTIME_OMIT = (1L << 30) - 2;
  public static final int PATH_MAX = 4096;

  private final MetaStore meta;
  private final BlockStore blocks;
  private final VfsConfig config;
  private final Path dataDir;
  private final LongSupplier clock;
  private final Map<Long, OpenFile> openFiles = new ConcurrentHashMap<>();
  private final Map<Long, Handle> handles = new ConcurrentHashMap<>();
  private final AtomicLong nextHandle = new AtomicLong(1);
  private final MetaPipeline pipeline;
  private final PendingView pending = new PendingView();
  /** Inodes a write-behind op failed on since the last fsync/close reported it. */
  private final java.util.Set<Long> failedInos = ConcurrentHashMap.newKeySet();
  private final AtomicLong writeBehindFailures = new AtomicLong();
  private long nextIno;
  private long endIno;
  static final int INO_RESERVATION = 4096;

  /** An open file description. {@code lockOwners}: owners holding flock locks through it. */
  private record Handle(long ino, int flags, OpenFile file, java.util.Set<Long> lockOwners) {
    Handle(long ino, int flags, OpenFile file) {
      this(ino, flags, file, ConcurrentHashMap.newKeySet());
    }

    boolean writable() {
      return (flags & O_ACCMODE) != O_RDONLY;
    }
  }

  private String nodeId = "local";

  /** The node id lock owners are qualified with (cluster-wide flock). */
  public Vfs withNodeId(String id) {
    this.nodeId = id;
    return this;
  }

  public Vfs(MetaStore meta, BlockStore blocks, VfsConfig config, Path dataDir, LongSupplier clockNs) {
    this.meta = meta;
    this.blocks = blocks;
    this.config = config;
    this.dataDir = dataDir;
    this.clock = clockNs;
    this.pipeline = new MetaPipeline(meta);
  }

  /** Test hook: write-behind callers wait once this many ops are queued (see {@link MetaPipeline#awaitRoom}). */
  Vfs withQueueLimitForTesting(int max) {
    pipeline.maxQueuedForTesting(max);
    return this;
  }

  public Vfs(MetaStore meta, BlockStore blocks, VfsConfig config, Path dataDir) {
    this(meta, blocks, config, dataDir, Vfs::wallClockNs);
  }

  static long wallClockNs() {
    java.time.Instant now = java.time.Instant.now();
    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
  }

  /** Drops orphans left by a crash: inodes at nlink 0 no handle can hold any more. */
  public void recoverOrphans() {
    for (long ino : meta.orphans()) {
      LOG.info("dropping orphan inode {} left by an earlier run", ino);
      submit(new ForgetOp(ino), Ctx.ROOT);
    }
  }

  // ---------------------------------------------------------------- lookups

  public Inode getattr(String path) {
    try {
      return withOpenState(resolve(path));
    } catch (FsException e) {
      if (e.errno() != Errno.ENOENT || !config.closeToOpen()) {
        throw e;
      }
      meta.syncWithLeader(); // a file just created elsewhere may not have reached this replica yet
      return withOpenState(resolve(path));
    }
  }

  public Inode fgetattr(String path, long fh) {
    Handle h = handles.get(fh);
    if (h == null) {
      return getattr(path);
    }
    Inode i = inode(h.ino());
    if (i == null) {
      throw new FsException(Errno.ENOENT);
    }
    return withOpenState(i);
  }

  public byte[] readlink(String path) {
    Inode i = resolve(path);
    if (!i.isSymlink()) {
      throw new FsException(Errno.EINVAL);
    }
    return i.symlinkTarget();
  }

  /** Lists a directory, "." and ".." first. */
  public void readdir(String path, Consumer<DirEntry> out) {
    Inode dir = resolve(path);
    if (!dir.isDir()) {
      throw new FsException(Errno.ENOTDIR);
    }
    out.accept(new DirEntry(".", dir.ino(), FileMode.S_IFDIR));
    out.accept(new DirEntry("..", dir.parent() == 0 ? dir.ino() : dir.parent(), FileMode.S_IFDIR));
    if (!pending.isEmpty()) {
      pipeline.drain(); // entries this node created are listed once they are in the replica
    }
    meta.readdir(dir.ino(), null, d -> {
      out.accept(new DirEntry(new String(d.name(), StandardCharsets.UTF_8), d.ino(), d.type()));
      return true;
    });
  }

  public StatFs statfs() {
    long total = 0;
    long free = 0;
    long avail = 0;
    try {
      FileStore fs = Files.getFileStore(dataDir);
      total = fs.getTotalSpace();
      free = fs.getUnallocatedSpace();
      avail = fs.getUsableSpace();
    } catch (java.io.IOException e) {
      LOG.warn("statfs of {} failed: {}", dataDir, e.getMessage());
    }
    long bs = 4096;
    long files = Math.max(meta.inodeCount(), 1);
    long filesFree = Math.max(avail / 512, 1_000_000);
    return new StatFs(bs, total / bs, free / bs, avail / bs, files + filesFree, filesFree, MetaOp.NAME_MAX);
  }

  // ---------------------------------------------------------------- namespace

  public Inode mknod(Ctx ctx, String path, int mode, long rdev) {
    if (FileMode.type(mode) == 0) {
      mode |= FileMode.S_IFREG;
    }
    Parent p = parentOf(path);
    return createEntry(ctx, p, mode, rdev, null);
  }

  public Inode mkdir(Ctx ctx, String path, int mode) {
    Parent p = parentOf(path);
    return createEntry(ctx, p, FileMode.S_IFDIR | (mode & FileMode.PERM_MASK), 0, null);
  }

  public Inode symlink(Ctx ctx, String target, String path) {
    byte[] t = target.getBytes(StandardCharsets.UTF_8);
    if (t.length >= PATH_MAX) {
      throw new FsException(Errno.ENAMETOOLONG);
    }
    Parent p = parentOf(path);
    return createEntry(ctx, p, FileMode.S_IFLNK | 0777, 0, t);
  }

  /**
   * Creates an entry. With write-behind the node names the inode itself (from a reserved range),
   * answers with the inode the op will create, and commits it in the background; a conflicting
   * create elsewhere that wins the race is reported by the next fsync or close of the file.
   */
  private Inode createEntry(Ctx ctx, Parent p, int mode, long rdev, byte[] target) {
    if (!config.writeBehind()) {
      return submit(new CreateOp(p.dir.ino(), p.name, mode, rdev, target), ctx).orThrow();
    }
    int bad = MetaOp.checkName(p.name);
    if (bad != 0) {
      throw new FsException(bad);
    }
    Inode created;
    pipeline.awaitRoom();
    synchronized (pending) {
      Inode dir = inode(p.dir.ino());
      if (dir == null || dir.nlink() == 0) {
        throw new FsException(Errno.ENOENT);
      }
      if (entry(dir.ino(), p.name) != null) {
        throw new FsException(Errno.EEXIST);
      }
      long ino = reserveIno();
      CreateOp op = new CreateOp(dir.ino(), p.name, mode, rdev, target, ino);
      op.settle(clock.getAsLong(), ctx.uid(), ctx.gid());
      created = op.newInode(dir, ino);
      // A new regular file's content commit follows at close: let the two share an entry.
      behind(op, null, ino, new Dentry(dir.ino(), p.name, ino, 0), pending.predict().inode(created)
          .inode(op.touchedParent(dir)).entry(new Dentry(dir.ino(), p.name, ino, mode & FileMode.S_IFMT)),
          FileMode.type(mode) == FileMode.S_IFREG);
    }
    return created;
  }

  /** The next inode number of this node's reserved range; reserves another range when it runs out. */
  private long reserveIno() {
    if (nextIno == endIno) {
      MetaResult r = submit(new ReserveInosOp(INO_RESERVATION), Ctx.ROOT);
      if (r.errno() != 0) {
        throw new FsException(r.errno());
      }
      nextIno = r.value();
      endIno = nextIno + INO_RESERVATION;
    }
    return nextIno++;
  }

  /**
   * Hands a settled op to the pipeline without waiting for it; its predictions are taken back once
   * it is applied or failed; a failure is logged, counted and reported by the next fsync or
   * close of the inode, and what the kernel was told of the inode (and of {@code name}, if the op
   * made or removed one) is invalidated.
   */
  private void behind(MetaOp op, MetaPipeline.Before before, long ino, Dentry name,
      PendingView.Prediction prediction) {
    behind(op, before, ino, name, prediction, false);
  }

  /** {@code more}: this node expects another op on the inode within moments (see MetaPipeline.LINGER_NANOS). */
  private void behind(MetaOp op, MetaPipeline.Before before, long ino, Dentry name,
      PendingView.Prediction prediction, boolean more) {
    pipeline.submitAsync(op, before, more).whenComplete((r, e) -> {
      prediction.settle();
      int errno = e != null ? (e instanceof FsException fe ? fe.errno() : Errno.EIO) : r.errno();
      if (errno != 0) {
        writeBehindFailures.incrementAndGet();
        failedInos.add(ino);
        kernelStale.inode(ino);
        if (name != null) {
          kernelStale.entry(name.parent(), name.name());
        }
        LOG.error("write-behind {} of inode {} failed after close/create had returned: errno {}{}", op.name(), ino,
            errno, e != null ? " (" + e.getMessage() + ")" : "");
      }
    });
  }

  /** EIO if a write-behind op on the inode failed since this was last asked (fsync and close report it). */
  private void reportFailure(long ino) {
    if (failedInos.remove(ino)) {
      throw new FsException(Errno.EIO, "an earlier write-behind commit of inode " + ino + " failed");
    }
  }

  public Inode link(Ctx ctx, String from, String to) {
    Inode src = resolve(from);
    Parent p = parentOf(to);
    return submit(new LinkOp(src.ino(), p.dir.ino(), p.name), ctx).orThrow();
  }

  public void unlink(Ctx ctx, String path) {
    remove(ctx, path, false);
  }

  public void rmdir(Ctx ctx, String path) {
    remove(ctx, path, true);
  }

  private void remove(Ctx ctx, String path, boolean dir) {
    Parent p = parentOf(path);
    synchronized (openFiles) {
      Dentry d = entry(p.dir.ino(), p.name);
      boolean open = d != null && openFiles.containsKey(d.ino());
      UnlinkOp op = new UnlinkOp(p.dir.ino(), p.name, dir, open);
      if (config.writeBehind() && !dir) {
        unlinkBehind(ctx, op, d, open);
        return;
      }
      submit(op, ctx).orThrow();
    }
  }

  /**
   * unlink(2) written behind: the entry, the parent's times and the victim's link count are predicted
   * (rmdir stays synchronous: emptiness is only known once this node's creates are in the replica).
   */
  private void unlinkBehind(Ctx ctx, UnlinkOp op, Dentry d, boolean open) {
    if (d == null) {
      throw new FsException(Errno.ENOENT);
    }
    op.settle(clock.getAsLong(), ctx.uid(), ctx.gid());
    pipeline.awaitRoom();
    synchronized (pending) {
      Inode victim = inode(d.ino());
      Inode dir = inode(d.parent());
      if (victim == null || dir == null) {
        throw new FsException(Errno.EIO);
      }
      if (victim.isDir()) {
        throw new FsException(Errno.EISDIR);
      }
      Inode after = op.afterDropLink(victim, open);
      PendingView.Prediction p = pending.predict().entry(new Dentry(d.parent(), d.name(), 0, 0))
          .inode(op.touched(dir, 0));
      behind(op, null, victim.ino(), d, after == null ? p.deleted(victim.ino()) : p.inode(after));
    }
  }

  public void rename(Ctx ctx, String from, String to, int flags) {
    Parent src = parentOf(from);
    Parent dst = parentOf(to);
    synchronized (openFiles) {
      Dentry target = entry(dst.dir.ino(), dst.name);
      boolean open = target != null && openFiles.containsKey(target.ino());
      submit(new RenameOp(src.dir.ino(), src.name, dst.dir.ino(), dst.name, flags, open), ctx).orThrow();
    }
  }

  // ---------------------------------------------------------------- attributes

  public Inode chmod(Ctx ctx, String path, int mode) {
    Inode i = resolve(path);
    Inode deferred = deferAttrs(i, SetAttrOp.MODE, mode, 0, 0, 0, 0);
    return deferred != null ? deferred : setAttr(ctx, SetAttrOp.chmod(i.ino(), mode));
  }

  /**
   * While a file has unwritten changes on this node, attribute changes ride along with its content
   * commit at close (tar's write, futimens, fchown, fchmod, close becomes two log entries, not five).
   * Returns the inode as seen now, or null if the file is not being written here.
   */
  private Inode deferAttrs(Inode i, int valid, int mode, int uid, int gid, long atimeNs, long mtimeNs) {
    OpenFile f = openFiles.get(i.ino());
    if (f == null) {
      return null;
    }
    synchronized (f) {
      if (!f.modified()) {
        return null;
      }
      f.setAttrs(valid, mode, uid, gid, atimeNs, mtimeNs, clock.getAsLong());
      return f.overlay(i);
    }
  }

  public Inode chown(Ctx ctx, String path, long uid, long gid) {
    Inode i = resolve(path);
    int u = uid == 0xFFFFFFFFL || uid < 0 ? -1 : (int) uid;
    int g = gid == 0xFFFFFFFFL || gid < 0 ? -1 : (int) gid;
    if (u < 0 && g < 0) {
      return setAttr(ctx, SetAttrOp.times(i.ino(), false, 0, false, 0)); // ctime only
    }
    Inode deferred = deferAttrs(i, (u >= 0 ? SetAttrOp.UID : 0) | (g >= 0 ? SetAttrOp.GID : 0), 0, u, g, 0, 0);
    return deferred != null ? deferred : setAttr(ctx, SetAttrOp.chown(i.ino(), u, g));
  }

  public Inode truncate(Ctx ctx, String path, long size) {
    return truncateInode(ctx, resolve(path), size);
  }

  public Inode ftruncate(Ctx ctx, String path, long fh, long size) {
    Handle h = handles.get(fh);
    return truncateInode(ctx, h != null ? inode(h.ino()) : resolve(path), size);
  }

  private Inode truncateInode(Ctx ctx, Inode i, long size) {
    if (i == null) {
      throw new FsException(Errno.ENOENT);
    }
    if (i.isDir()) {
      throw new FsException(Errno.EISDIR);
    }
    if (size < 0) {
      throw new FsException(Errno.EINVAL);
    }
    OpenFile f = openFiles.get(i.ino());
    if (f == null) {
      return submit(SetAttrOp.truncate(i.ino(), size), ctx).orThrow();
    }
    synchronized (f) {
      f.truncate(size, clock.getAsLong());
      return commit(ctx, f, false);
    }
  }

  /** utimens(2); each time in ns since the epoch, or UTIME_NOW / UTIME_OMIT in {@code *Nsec}. */
  public Inode utimens(Ctx ctx, String path, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec) {
    Inode i = resolve(path);
    long now = clock.getAsLong();
    boolean setA = atimeNsec != UTIME_OMIT;
    boolean setM = mtimeNsec != UTIME_OMIT;
    long a = atimeNsec == UTIME_NOW ? now : atimeSec * 1_000_000_000L + atimeNsec;
    long m = mtimeNsec == UTIME_NOW ? now : mtimeSec * 1_000_000_000L + mtimeNsec;
    Inode deferred = deferAttrs(i, (setA ? SetAttrOp.ATIME : 0) | (setM ? SetAttrOp.MTIME : 0), 0, 0, 0, a, m);
    return deferred != null ? deferred : setAttr(ctx, SetAttrOp.times(i.ino(), setA, a, setM, m));
  }

  /** Mode, owner and time changes: written behind when configured (they cannot fail on an existing inode). */
  private Inode setAttr(Ctx ctx, SetAttrOp op) {
    if (!config.writeBehind() || !op.attributesOnly()) {
      return submit(op, ctx).orThrow();
    }
    op.settle(clock.getAsLong(), ctx.uid(), ctx.gid());
    Inode predicted;
    pipeline.awaitRoom();
    synchronized (pending) {
      Inode cur = inode(op.ino());
      if (cur == null) {
        throw new FsException(Errno.ENOENT);
      }
      predicted = op.applyTo(cur);
      behind(op, null, op.ino(), null, pending.predict().inode(predicted));
    }
    return predicted;
  }

  // ---------------------------------------------------------------- xattrs

  public void setxattr(Ctx ctx, String path, String name, byte[] value, int flags) {
    requireXattrs();
    Inode i = resolve(path);
    checkXattrName(i, name, true);
    submit(new SetXattrOp(i.ino(), name.getBytes(StandardCharsets.UTF_8), value, flags), ctx).orThrow();
  }

  public byte[] getxattr(String path, String name) {
    requireXattrs();
    Inode i = resolve(path);
    checkXattrName(i, name, false);
    byte[] v = meta.getXattr(i.ino(), name.getBytes(StandardCharsets.UTF_8));
    if (v == null) {
      throw new FsException(Errno.ENODATA);
    }
    return v;
  }

  public List<String> listxattr(String path) {
    requireXattrs();
    Inode i = resolve(path);
    List<String> out = new ArrayList<>();
    for (byte[] n : meta.listXattrs(i.ino())) {
      out.add(new String(n, StandardCharsets.UTF_8));
    }
    return out;
  }

  public void removexattr(Ctx ctx, String path, String name) {
    requireXattrs();
    Inode i = resolve(path);
    checkXattrName(i, name, true);
    submit(new RemoveXattrOp(i.ino(), name.getBytes(StandardCharsets.UTF_8)), ctx).orThrow();
  }

  private void requireXattrs() {
    if (!config.xattrs()) {
      throw new FsException(Errno.ENOSYS); // mounted with --no-xattrs
    }
  }

  private static void checkXattrName(Inode i, String name, boolean write) {
    if (name.isEmpty() || name.getBytes(StandardCharsets.UTF_8).length > SetXattrOp.NAME_MAX) {
      throw new FsException(name.isEmpty() ? Errno.EINVAL : Errno.ERANGE);
    }
    if (name.startsWith("user.")) {
      // As on Linux: user xattrs only on regular files and directories.
      if (write && !i.isReg() && !i.isDir()) {
        throw new FsException(Errno.EPERM);
      }
      return;
    }
    if (name.startsWith("trusted.") || name.startsWith("security.")) {
      return;
    }
    throw new FsException(Errno.ENOTSUP); // system.* (POSIX ACLs) and unknown namespaces
  }

  // ---------------------------------------------------------------- file content

  /** Creates and opens a regular file; returns the handle. */
  public long create(Ctx ctx, String path, int mode, int flags) {
    Parent p = parentOf(path);
    Inode created = createEntry(ctx, p, FileMode.S_IFREG | (mode & FileMode.PERM_MASK), 0, null);
    return openInode(created, flags);
  }

  public long open(Ctx ctx, String path, int flags) {
    if (config.closeToOpen()) {
      meta.syncWithLeader(); // close-to-open: see everything closed anywhere before this open
    }
    Inode i = resolve(path);
    if (i.isDir() && (flags & O_ACCMODE) != O_RDONLY) {
      throw new FsException(Errno.EISDIR);
    }
    long fh = openInode(i, flags);
    if ((flags & O_TRUNC) != 0 && (flags & O_ACCMODE) != O_RDONLY && i.isReg()) {
      truncateInode(ctx, i, 0);
    }
    return fh;
  }

  private long openInode(Inode i, int flags) {
    OpenFile f;
    synchronized (openFiles) {
      f = openFiles.computeIfAbsent(i.ino(),
          k -> new OpenFile(i, blocks, config.inlineThreshold(), config.maxDirtyBlocksPerFile()));
      synchronized (f) {
        if (f.refs == 0 || !f.modified()) {
          f.reset(i); // close-to-open: adopt the latest committed content
        }
        f.refs++;
      }
    }
    long fh = nextHandle.getAndIncrement();
    handles.put(fh, new Handle(i.ino(), flags, f));
    return fh;
  }

  /**
   * Whether the adapter may tell the kernel to send no FLUSH when {@code fh} is closed: true for a
   * read-only handle, which has nothing to commit, of a file nobody on this node has used fcntl locks
   * on. FLUSH also drops the closing owner's fcntl locks: {@link #release} drops those of owners whose
   * latest lock came through the handle instead.
   */
  public boolean skipsFlush(long fh) {
    Handle h = handles.get(fh);
    return h != null && !h.writable() && !fcntlInodes.contains(h.ino());
  }

  private volatile java.util.function.LongPredicate kernelSettled;
  /** What to drop from the kernel's cache when a write-behind op fails. */
  public interface KernelStale {
    void inode(long ino);

    void entry(long parent, byte[] name);
  }

  private volatile KernelStale kernelStale = new KernelStale() {
    @Override
    public void inode(long ino) {}

    @Override
    public void entry(long parent, byte[] name) {}
  };

  /**
   * From now on other nodes' changes reach the kernel's caches as invalidations: {@code settled} tells
   * whether every change of an inode applied here has been invalidated in the kernel, and only files
   * for which it has not are opened for direct I/O (instead of every file changed within the fresh
   * window). {@code stale} is told of the inode (and name) of a write-behind op that failed: the
   * kernel holds what the op's prediction told it.
   */
  public void trackKernelCache(java.util.function.LongPredicate settled, KernelStale stale) {
    this.kernelStale = stale;
    this.kernelSettled = settled;
  }

  /**
   * True if the kernel may hold attributes of this file from before its last change (made on another
   * node within the fresh window): the adapter then opens it for direct I/O so reads are not clamped
   * to a stale cached size.
   */
  public boolean needsDirectIo(long fh) {
    java.util.function.LongPredicate settled = kernelSettled;
    if (settled != null) {
      Handle h = handles.get(fh);
      return h != null && !settled.test(h.ino());
    }
    if (config.freshWindowNs() <= 0) {
      return false;
    }
    Handle h = handles.get(fh);
    Inode i = h == null ? null : inode(h.ino());
    return i != null && Math.max(i.mtimeNs(), i.ctimeNs()) > clock.getAsLong() - config.freshWindowNs();
  }

  public int read(long fh, byte[] dst, int len, long off) {
    Handle h = handle(fh);
    if ((h.flags & O_ACCMODE) == O_WRONLY) {
      throw new FsException(Errno.EBADF);
    }
    synchronized (h.file) {
      return h.file.read(dst, len, off);
    }
  }

  public int write(long fh, byte[] src, int len, long off) {
    Handle h = handle(fh);
    if (!h.writable()) {
      throw new FsException(Errno.EBADF);
    }
    synchronized (h.file) {
      long at = (h.flags & O_APPEND) != 0 ? h.file.size() : off;
      try {
        h.file.write(src, len, at, clock.getAsLong());
      } catch (BlockStoreException e) {
        throw BlockReader.storageError(e);
      }
      return len;
    }
  }

  /** close(2) of one descriptor: commits pending data so it is durable and visible once close returns. */
  public void flush(Ctx ctx, long fh) {
    Handle h = handle(fh);
    synchronized (h.file) {
      if (h.file.modified()) {
        commit(ctx, h.file, false);
      }
    }
    reportFailure(h.ino());
  }

  /** Durable once it returns: this file's content and every metadata change this node made before. */
  public void fsync(Ctx ctx, long fh) {
    Handle h = handle(fh);
    synchronized (h.file) {
      if (h.file.modified()) {
        commit(ctx, h.file, true);
      }
    }
    pipeline.drain();
    reportFailure(h.ino());
    try {
      blocks.sync();
    } catch (BlockStoreException e) {
      throw BlockReader.storageError(e);
    }
  }

  public void release(Ctx ctx, long fh) {
    Handle h = handles.remove(fh);
    if (h == null) {
      return;
    }
    for (long owner : h.lockOwners()) {
      // flock locks die with the open file description that took them
      submit(new LockOp(h.ino(), nodeId, owner, LockOp.UNLOCK), ctx);
    }
    java.util.Set<Long> owners = recordOwners.get(h.ino());
    if (owners != null) {
      // A handle without FLUSH (skipsFlush): drop the fcntl locks of owners whose latest lock
      // came through it, as FLUSH would have at close(). An owner that has locked through another
      // descriptor since keeps its locks (this RELEASE may arrive after that lock, or long after
      // close() if the descriptor was shared). After a FLUSH nothing is left to drop: its unlock
      // forgot the owner's latest handle.
      for (long owner : List.copyOf(owners)) {
        try {
          unlockRecordsAtRelease(ctx, h.ino(), owner, fh);
        } catch (FsException e) {
          LOG.warn("could not drop the fcntl locks of owner {} on inode {} at release: {}", owner, h.ino(),
              e.getMessage());
        }
      }
    }
    boolean last;
    synchronized (openFiles) {
      synchronized (h.file) {
        try {
          if (h.file.modified() && h.file.refs == 1) {
            commit(ctx, h.file, false);
          }
        } finally {
          last = --h.file.refs == 0;
          if (last) {
            openFiles.remove(h.ino);
          }
        }
      }
      if (last) {
        Inode i = inode(h.ino);
        if (i != null && i.nlink() == 0) {
          submit(new ForgetOp(h.ino), ctx);
          fcntlInodes.remove(h.ino);
        }
      }
    }
  }

  public static final int LOCK_SH = 1;
  public static final int LOCK_EX = 2;
  public static final int LOCK_NB = 4;
  public static final int LOCK_UN = 8;

  /**
   * flock(2), cluster-wide: the lock lives in the replicated metadata, owned by (node, kernel lock
   * owner). A blocking request retries until the holder lets go; LOCK_NB fails with EWOULDBLOCK.
   */
  public void flock(Ctx ctx, String path, long fh, long owner, int op) {
    Handle h = handles.get(fh);
    long ino = h != null ? h.ino() : resolve(path).ino();
    int type = (op & LOCK_UN) != 0 ? LockOp.UNLOCK : (op & LOCK_EX) != 0 ? LockOp.EXCLUSIVE : LockOp.SHARED;
    retryWhileLocked(ctx, new LockOp(ino, nodeId, owner, type), (op & LOCK_NB) == 0);
    if (h != null) {
      if (type == LockOp.UNLOCK) {
        h.lockOwners().remove(owner);
      } else {
        h.lockOwners().add(owner);
      }
    }
  }

  /** A record lock that keeps a request from being granted, as F_GETLK reports it. */
  public record LockConflict(int type, long start, long end, int pid) {}

  /** Owners on this node that may hold record locks, per inode: unlocks for anyone else skip the log. */
  private final Map<Long, java.util.Set<Long>> recordOwners = new ConcurrentHashMap<>();
  /** Inodes fcntl locks were taken or tested on this node: their read-only opens keep FLUSH. */
  private final java.util.Set<Long> fcntlInodes = ConcurrentHashMap.newKeySet();

  private record LockKey(long ino, long owner) {}

  /** The handle each (inode, owner)'s latest fcntl lock on this node came through. */
  private final Map<LockKey, Long> lastLockHandle = new ConcurrentHashMap<>();
  private final Object[] lockStripes = java.util.stream.Stream.generate(Object::new).limit(64).toArray();

  /**
   * fcntl(2) F_SETLK/F_SETLKW, cluster-wide: sets bytes start..end (inclusive, {@link RecordLocks#EOF}
   * for "to the end") of {@code owner}'s locks to read, write or unlocked. A conflict is EAGAIN, or
   * with {@code wait} a retry until the holder lets go (EINTR if the caller died meanwhile).
   */
  public void setRecordLock(Ctx ctx, String path, long fh, long owner, int type, long start, long end, boolean wait) {
    Handle h = handles.get(fh);
    long ino = h != null ? h.ino() : resolve(path).ino();
    if (type != RecordLocks.UNLOCK) { // libfuse's FLUSH unlocks on every close(): those do not count
      fcntlInodes.add(ino);
    }
    setRecordLock(ctx, ino, owner, type, start, end, wait, h == null ? 0 : fh);
  }

  /**
   * One owner's locks on one inode change under its stripe: each attempt notes the owner (and the
   * handle {@code viaFh} it locks through) and is applied before another thread can unlock that
   * owner and clear those notes, so the notes never miss a lock the cluster holds. Waits between
   * attempts happen outside the stripe.
   */
  private void setRecordLock(Ctx ctx, long ino, long owner, int type, long start, long end, boolean wait,
      long viaFh) {
    if (type == RecordLocks.UNLOCK) {
      unlockRecords(ctx, ino, owner, start, end);
      return;
    }
    RecordLockOp op = new RecordLockOp(ino, nodeId, owner, ctx.pid(), type, start, end);
    retryWhileLocked(ctx, op, wait, lockStripe(ino, owner), () -> {
      recordOwners.computeIfAbsent(ino, k -> ConcurrentHashMap.newKeySet()).add(owner);
      if (viaFh != 0) {
        lastLockHandle.put(new LockKey(ino, owner), viaFh);
      }
    });
  }

  private void unlockRecords(Ctx ctx, long ino, long owner, long start, long end) {
    synchronized (lockStripe(ino, owner)) {
      // libfuse unlocks on every close(): without a lock here there is nothing to tell the cluster.
      java.util.Set<Long> owners = recordOwners.get(ino);
      if (owners == null || !owners.contains(owner)) {
        return;
      }
      retryWhileLocked(ctx, new RecordLockOp(ino, nodeId, owner, ctx.pid(), RecordLocks.UNLOCK, start, end), false);
      if (start == 0 && end == RecordLocks.EOF) {
        recordOwners.computeIfPresent(ino, (k, s) -> {
          s.remove(owner);
          return s.isEmpty() ? null : s;
        });
        lastLockHandle.remove(new LockKey(ino, owner));
      }
    }
  }

  /** At the RELEASE of a handle that had no FLUSH: the owner's locks, if its latest lock came through it. */
  private void unlockRecordsAtRelease(Ctx ctx, long ino, long owner, long fh) {
    synchronized (lockStripe(ino, owner)) {
      if (lastLockHandle.remove(new LockKey(ino, owner), fh)) {
        unlockRecords(ctx, ino, owner, 0, RecordLocks.EOF);
      }
    }
  }

  private Object lockStripe(long ino, long owner) {
    return lockStripes[Math.floorMod(java.util.Objects.hash(ino, owner), lockStripes.length)];
  }

  /** fcntl(2) F_GETLK: the first lock of another owner that would block the request, or null. */
  public LockConflict testRecordLock(Ctx ctx, String path, long fh, long owner, int type, long start, long end) {
    Handle h = handles.get(fh);
    long ino = h != null ? h.ino() : resolve(path).ino();
    fcntlInodes.add(ino);
    for (RecordLocks.Held held : meta.recordLocks(ino)) {
      if (held.node().equals(nodeId) && held.owner() == owner) {
        continue;
      }
      RecordLocks.Range r = held.locks().conflict(start, end, type);
      if (r != null) {
        return new LockConflict(r.type(), r.start(), r.end(), held.node().equals(nodeId) ? held.locks().pid() : 0);
      }
    }
    return null;
  }

  private void retryWhileLocked(Ctx ctx, MetaOp op, boolean wait) {
    retryWhileLocked(ctx, op, wait, null, null);
  }

  /** With a {@code stripe}, each attempt runs {@code before} and the op holding it; waits do not. */
  private void retryWhileLocked(Ctx ctx, MetaOp op, boolean wait, Object stripe, Runnable before) {
    long backoffMs = 2;
    while (true) {
      MetaResult r;
      if (stripe == null) {
        r = submit(op, ctx);
      } else {
        synchronized (stripe) {
          before.run();
          r = submit(op, ctx);
        }
      }
      if (r.errno() == 0) {
        return;
      }
      if (r.errno() != Errno.EAGAIN || !wait) {
        throw new FsException(r.errno());
      }
      if (ctx.pid() > 0 && !java.nio.file.Files.exists(Path.of("/proc/" + ctx.pid()))) {
        throw new FsException(Errno.EINTR); // the waiting process is gone
      }
      try {
        Thread.sleep(backoffMs);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new FsException(Errno.EINTR);
      }
      backoffMs = Math.min(50, backoffMs * 2);
    }
  }

  /** Drops locks this node held before a restart. */
  public void releaseNodeLocks() {
    submit(new ReleaseNodeLocksOp(nodeId), Ctx.ROOT);
  }

  /** Blocks this node's open files hold, committed or not yet: the block collector keeps them. */
  public void forEachHeldBlock(Consumer<byte[]> out) {
    for (OpenFile f : new ArrayList<>(openFiles.values())) {
      synchronized (f) {
        f.forEachStoredBlock(out);
      }
    }
  }

  /** Open handles, for leak checks in tests and for metrics. */
  public int openHandles() {
    return handles.size();
  }

  /**
   * Commits the open file's pending content. Written behind (unless {@code durable}) when configured:
   * the file's new state is predicted, and the pipeline waits for its blocks to reach their places
   * before it proposes the commit.
   */
  private Inode commit(Ctx ctx, OpenFile f, boolean durable) {
    reportFailure(f.ino);
    OpenFile.Pending p;
    List<byte[]> stored = new ArrayList<>();
    try {
      p = f.prepareCommit();
      for (var r : p.blocks()) {
        if (!r.isHole()) {
          stored.add(r.hash());
        }
      }
    } catch (BlockStoreException e) {
      throw BlockReader.storageError(e);
    }
    CommitWriteOp op = new CommitWriteOp(f.ino, p.size(), p.blocks(), p.inline(), p.mtimeNs(), f.pendingAttrs());
    if (config.writeBehind() && !durable) {
      op.settle(clock.getAsLong(), ctx.uid(), ctx.gid());
      Inode predicted = null;
      pipeline.awaitRoom();
      synchronized (pending) {
        Inode cur = inode(f.ino);
        if (cur != null && cur.isReg()) {
          predicted = op.applyTo(cur);
          behind(op, () -> blocks.awaitReplicated(stored), f.ino, null, pending.predict().inode(predicted));
        }
      }
      if (predicted != null) {
        f.committed(predicted);
        return predicted;
      }
    }
    try {
      blocks.awaitReplicated(stored);
    } catch (BlockStoreException e) {
      throw BlockReader.storageError(e);
    }
    MetaResult r = submit(op, ctx);
    if (r.errno() == Errno.ENOENT) {
      // The inode is gone for good (not merely unlinked): nothing left to commit to.
      Inode now = inode(f.ino);
      f.committed(now != null ? now : emptyLike(f));
      return null;
    }
    Inode committed = r.orThrow();
    if (p.inline().length > 0 && committed.inlineData().length == 0) {
      Inode.Builder b = committed.toBuilder(); // results carry no inline bytes (MetaOps.encodeResult)
      b.inlineData = p.inline();
      committed = b.build();
    }
    f.committed(committed);
    return committed;
  }

  private static Inode emptyLike(OpenFile f) {
    Inode.Builder b = new Inode.Builder();
    b.ino = f.ino;
    b.mode = FileMode.S_IFREG;
    return b.build();
  }

  private Handle handle(long fh) {
    Handle h = handles.get(fh);
    if (h == null) {
      throw new FsException(Errno.EBADF);
    }
    return h;
  }

  /** Attributes as this node's open handles see them (pending size and mtime). */
  private Inode withOpenState(Inode i) {
    OpenFile f = openFiles.get(i.ino());
    if (f == null) {
      return i;
    }
    synchronized (f) {
      if (!f.modified()) {
        return i;
      }
      return f.overlay(i);
    }
  }

  // ---------------------------------------------------------------- resolution

  private record Parent(Inode dir, byte[] name) {}

  private MetaResult submit(MetaOp op, Ctx ctx) {
    op.settle(clock.getAsLong(), ctx.uid(), ctx.gid());
    return pipeline.submit(op);
  }

  /** The inode as this node will see it once its own pending ops are applied. */
  private Inode inode(long ino) {
    java.util.Optional<Inode> p = pending.inode(ino);
    return p != null ? p.orElse(null) : meta.getInode(ino);
  }

  private Dentry entry(long parent, byte[] name) {
    Dentry p = pending.dentry(parent, name);
    if (p != null) {
      return p.ino() == 0 ? null : p;
    }
    return meta.lookup(parent, name);
  }

  /** Resolves the parent directory of {@code path} and validates the last name. */
  private Parent parentOf(String path) {
    checkPath(path);
    int slash = path.lastIndexOf('/');
    String parentPath = slash <= 0 ? "/" : path.substring(0, slash);
    byte[] name = path.substring(slash + 1).getBytes(StandardCharsets.UTF_8);
    if (name.length > MetaOp.NAME_MAX) {
      throw new FsException(Errno.ENAMETOOLONG);
    }
    if (name.length == 0) {
      throw new FsException(Errno.EINVAL); // the root has no parent entry
    }
    Inode dir = resolve(parentPath);
    if (!dir.isDir()) {
      throw new FsException(Errno.ENOTDIR);
    }
    return new Parent(dir, name);
  }

  /** Resolves an absolute path to its inode, component by component, on the local replica. */
  public Inode resolve(String path) {
    checkPath(path);
    Inode cur = inode(Inode.ROOT_INO);
    int i = 1;
    int n = path.length();
    while (i < n) {
      int j = path.indexOf('/', i);
      if (j < 0) {
        j = n;
      }
      if (j > i) {
        if (!cur.isDir()) {
          throw new FsException(Errno.ENOTDIR);
        }
        byte[] name = path.substring(i, j).getBytes(StandardCharsets.UTF_8);
        if (name.length > MetaOp.NAME_MAX) {
          throw new FsException(Errno.ENAMETOOLONG);
        }
        Dentry d = entry(cur.ino(), name);
        if (d == null) {
          throw new FsException(Errno.ENOENT);
        }
        cur = inode(d.ino());
        if (cur == null) {
          LOG.error("dangling entry {} -> inode {}", path.substring(0, j), d.ino());
          throw new FsException(Errno.EIO);
        }
      }
      i = j + 1;
    }
    return cur;
  }

  private static void checkPath(String path) {
    if (path == null || path.isEmpty() || path.charAt(0) != '/') {
      throw new FsException(Errno.EINVAL, "not an absolute path: " + path);
    }
    if (path.length() >= PATH_MAX) {
      throw new FsException(Errno.ENAMETOOLONG);
    }
  }

  @Override
  public void close() {
    for (Handle h : new ArrayList<>(handles.values())) {
      try {
        synchronized (h.file) {
          if (h.file.modified()) {
            commit(Ctx.ROOT, h.file, true);
          }
        }
      } catch (RuntimeException e) {
        LOG.error("could not commit inode {} at shutdown: {}", h.ino, e.getMessage());
      }
    }
    handles.clear();
    openFiles.clear();
    pipeline.close();
  }

  /** This node's metadata pipeline, for its metrics. */
  public MetaPipeline pipeline() {
    return pipeline;
  }

  /** Write-behind ops that failed after their caller had gone on. */
  public long writeBehindFailures() {
    return writeBehindFailures.get();
  }
}
