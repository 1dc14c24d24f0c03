package io.sharefs.fuse;

import io.sharefs.meta.ChangeListener;
import io.sharefs.meta.Inode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the kernel's caches of names and attributes true to changes made on other nodes, so they can
 * be cached for long: the kernel then answers {@code stat} and path walks alone, and another node's
 * change still shows within milliseconds.
 *
 * <p>The kernel knows files by the node ids libfuse's high-level library hands out, which it keeps to
 * itself. {@link ReplyTap} reads them from the entry replies (LOOKUP, CREATE, MKDIR, ...) as they
 * leave: this class maps each inode number to its node id (and, for a hard link cached under several
 * names, to the others). The metadata state machine reports what each applied entry from another node
 * changed ({@link ChangeListener}); a thread of its own then writes FUSE notifications
 * ({@code FUSE_NOTIFY_INVAL_INODE} for changed inodes, attributes and cached pages;
 * {@code FUSE_NOTIFY_INVAL_ENTRY} for changed names) to a duplicate of the mount's device descriptor,
 * which stays valid, and fails harmlessly, after an unmount. Never from the apply thread or a request
 * thread: the kernel may hold a directory's lock on a local request that waits for the log, and an
 * entry notification takes that lock.
 *
 * <p>Until an inode's notification has gone out it is <em>pending</em>: opens of it use direct I/O
 * then ({@link #settled}), so reads are not cut short at a size the kernel cached before the change.
 */
public final class KernelCache implements ChangeListener, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(KernelCache.class);
  static final int NOTIFY_INVAL_INODE = 2;
  static final int NOTIFY_INVAL_ENTRY = 3;
  static final int ENOENT = 2;
  /** Delays before asking again when the kernel does not know a node id yet (see {@link #invalidateInode}). */
  private static final long[] RETRY_MS = {2, 20, 200, 2000};
  /** How long after its recording an ENOENT for a node id may still be a reply on its way. */
  private static final long YOUNG_NS = TimeUnit.MILLISECONDS.toNanos(java.util.Arrays.stream(RETRY_MS).sum() + 1_000);
  /** Inodes with more than one live node id kept (hard links cached under several names). */
  private static final int MAX_EXTRA = 65_536;

  /** Where notifications go: the FUSE device. */
  interface Device {
    /** Writes one notification; returns 0, or the errno the kernel answered. */
    int write(byte[] message, int length);

    /**
     * Lets go of the device while a write may still be running on another thread: later writes go
     * nowhere, and the descriptor number stays taken until {@link #close}.
     */
    void release();

    /** Closes the descriptor; only once no write can run any more. */
    void close();
  }

  /** The C library calls a device needs. */
  public interface LibC {
    int fcntl(int fd, int cmd, int arg);

    int open(String path, int flags);

    int dup3(int from, int to, int flags);

    int close(int fd);

    @SaveError
    @ssize_t long write(int fd, @In byte[] buf, @size_t long count);
  }

  private static final int F_DUPFD_CLOEXEC = 1030;
  private static final int O_CLOEXEC = 02000000;
  private static final int O_WRONLY_CLOEXEC = 01 | O_CLOEXEC;

  /**
   * A duplicate of the mount's /dev/fuse descriptor {@code fd} (close-on-exec: a {@code fusermount}
   * child must not hold the connection open), or null if it cannot be made.
   */
  static Device duplicate(LibC libc, int fd) {
    int dup = libc.fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
      return null;
    }
    jnr.ffi.Runtime runtime = jnr.ffi.Runtime.getRuntime(libc);
    return new Device() {
      private boolean closed; // under this: once closed, the number may belong to someone else

      @Override
      public int write(byte[] message, int length) {
        long n = libc.write(dup, message, length);
        return n == length ? 0 : n < 0 ? jnr.ffi.LastError.getLastError(runtime) : -1;
      }

      @Override
      public synchronized void release() {
        if (closed) {
          return;
        }
        int devNull = libc.open("/dev/null", O_WRONLY_CLOEXEC);
        if (devNull >= 0) {
          libc.dup3(devNull, dup, O_CLOEXEC); // atomically: this descriptor no longer holds the connection
          libc.close(devNull);
        }
      }

      @Override
      public synchronized void close() {
        if (!closed) {
          closed = true;
          libc.close(dup);
        }
      }
    };
  }

  private record Work(int kind, long ino, String name, int attempt) {}

  private record EntryKey(long parent, String name) {}

  private static final int INODE = 0;
  private static final int ENTRY = 1;
  private static final int FORGET = 2;
  private static final int EVERYTHING = 3;
  private static final Work STOP = new Work(-1, 0, null, 0);

  private final LongLongMap nodeOf = new LongLongMap();
  private final ConcurrentHashMap<Long, long[]> extraNodes = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Long, Long> pendingInodes = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<EntryKey, Long> pendingEntries = new ConcurrentHashMap<>();
  private final LinkedBlockingQueue<Work> queue = new LinkedBlockingQueue<>();
  private final AtomicLong generation = new AtomicLong();
  /**
   * Counts changed inodes; the last {@link #RECENT} of them are kept in a ring, so that the tap can
   * tell whether the inode of a lookup changed while the lookup's reply was being made.
   */
  private final AtomicLong changes = new AtomicLong();
  static final int RECENT = 1024;
  private final java.util.concurrent.atomic.AtomicLongArray recent = new java.util.concurrent.atomic.AtomicLongArray(RECENT);
  private final LongAdder inodeNotices = new LongAdder();
  private final LongAdder entryNotices = new LongAdder();
  private final LongAdder unknown = new LongAdder();
  private final LongAdder failures = new LongAdder();
  private final byte[] message = new byte[16 + 16 + 256];
  /**
   * The last {@link #RECORDS} node ids recorded, with when: an ENOENT for one of these may be a reply
   * still on its way and is asked again; one for an older id is a node the kernel forgot.
   */
  static final int RECORDS = 4096;
  private final java.util.concurrent.atomic.AtomicLongArray recordedIds =
      new java.util.concurrent.atomic.AtomicLongArray(RECORDS);
  private final java.util.concurrent.atomic.AtomicLongArray recordedAt =
      new java.util.concurrent.atomic.AtomicLongArray(RECORDS);
  private final AtomicLong records = new AtomicLong();
  private final java.util.function.LongSupplier nanoClock;
  /** Set if the invalidator died: nothing is then settled, and every open uses direct I/O. */
  private volatile boolean failed;
  /** Sweeps over every known node id still to run (after a snapshot replaced the tables). */
  private final java.util.concurrent.atomic.AtomicInteger sweeps = new java.util.concurrent.atomic.AtomicInteger();
  private volatile boolean active;
  private Device device;
  private Thread invalidator;
  private ScheduledExecutorService retries;

  /** Starts notifying the kernel through {@code device}; false, and nothing tracked, if it is null. */
  synchronized boolean start(Device device) {
    if (device == null || invalidator != null) {
      return false;
    }
    this.device = device;
    nodeOf.put(Inode.ROOT_INO, 1); // FUSE_ROOT_ID: the root is never looked up
    retries = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "kernel-cache-retry"));
    invalidator = daemon(this::run, "kernel-cache-invalidator");
    invalidator.start();
    active = true;
    return true;
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /** True once notifications go out: names and attributes may then be cached for long. */
  public boolean active() {
    return active;
  }

  /** False while a notification for a change of {@code ino} has yet to reach the kernel. */
  public boolean settled(long ino) {
    return !failed && sweeps.get() == 0 && !pendingInodes.containsKey(ino);
  }

  public KernelCache() {
    this(System::nanoTime);
  }

  KernelCache(java.util.function.LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
  }

  /** The kernel's node {@code nodeid} is inode {@code ino} (from an entry reply about to be sent). */
  void record(long ino, long nodeid) {
    int slot = (int) (records.getAndIncrement() % RECORDS);
    recordedAt.set(slot, nanoClock.getAsLong());
    recordedIds.set(slot, nodeid);
    long old = nodeOf.put(ino, nodeid);
    if (old != 0 && old != nodeid) {
      // Another name of the same inode (a hard link), or a name the kernel forgot and looked up again.
      extraNodes.compute(ino, (k, v) -> {
        if (v == null) {
          return extraNodes.size() >= MAX_EXTRA ? null : new long[] {old};
        }
        // The ids other than the new primary, the one it replaced first, at most four.
        long[] out = new long[Math.min(v.length + 1, 4)];
        int n = 0;
        out[n++] = old;
        for (long x : v) {
          if (x != old && x != nodeid && n < out.length) {
            out[n++] = x;
          }
        }
        return java.util.Arrays.copyOf(out, n);
      });
    }
  }

  /** The count of changed inodes so far: what {@link #changedSince} takes. */
  long changes() {
    return changes.get();
  }

  /**
   * True if {@code ino} may have changed after {@link #changes} returned {@code since}: it is among
   * the inodes changed since, or more changed than the ring remembers.
   */
  boolean changedSince(long ino, long since) {
    long now = changes.get();
    if (now - since >= RECENT) {
      return true;
    }
    for (long c = since; c < now; c++) {
      if (recent.get((int) (c % RECENT)) == ino) {
        return true;
      }
    }
    // Slots the scan read may have been reused meanwhile (change #since's slot is the next written).
    return changes.get() - since >= RECENT;
  }

  /** Notes a changed inode: first into the ring, then the count that makes it visible. */
  private void noteChange(long ino) {
    long c = changes.get(); // written only under the state machine's apply lock
    recent.set((int) (c % RECENT), ino);
    changes.set(c + 1);
  }

  /** Inodes whose kernel node id is known. */
  public long knownNodes() {
    return nodeOf.size();
  }

  public long inodeNotices() {
    return inodeNotices.sum();
  }

  public long entryNotices() {
    return entryNotices.sum();
  }

  /** Notifications the kernel answered with "not cached" (for node ids it has forgotten). */
  public long unknownNotices() {
    return unknown.sum();
  }

  public long failedNotices() {
    return failures.sum();
  }

  /** True if notifications run and the kernel may hold a node of {@code ino}. */
  private boolean known(long ino) {
    return active && (nodeOf.get(ino) != 0 || extraNodes.containsKey(ino));
  }

  @Override
  public void inodeChanged(long ino) {
    noteChange(ino);
    invalidate(ino);
  }

  @Override
  public void entryChanged(long parent, byte[] name) {
    if (active && nodeOf.get(parent) != 0) {
      EntryKey k = new EntryKey(parent, new String(name, StandardCharsets.ISO_8859_1));
      if (pendingEntries.put(k, generation.incrementAndGet()) == null) {
        queue.add(new Work(ENTRY, parent, k.name(), 0));
      }
    }
  }

  @Override
  public void inodeDeleted(long ino) {
    if (known(ino)) {
      queue.add(new Work(FORGET, ino, null, 0)); // after any notification already queued for it
    }
  }

  /**
   * Every node id is invalidated by one sweep on the invalidator's thread, every inode counting as
   * pending until it ends. Names are not: which ones the kernel holds is not known here. A name
   * another node gave to a file of another type meanwhile (a file replaced by a directory) fails with
   * EIO on this node until the kernel looks it up again (within {@code --entry-timeout}).
   */
  @Override
  public void everythingChanged() {
    changes.addAndGet(RECENT + 1);
    if (active) {
      sweeps.incrementAndGet();
      queue.add(new Work(EVERYTHING, 0, null, 0));
    }
  }

  /**
   * This node's own change to {@code ino} did not turn out as its kernel was told (a write-behind op
   * that failed at commit): drop what the kernel cached of it.
   */
  public void invalidate(long ino) {
    if (known(ino)) {
      enqueueInode(ino, 0);
    }
  }

  private void enqueueInode(long ino, int attempt) {
    if (pendingInodes.put(ino, generation.incrementAndGet()) == null) {
      queue.add(new Work(INODE, ino, null, attempt));
    }
  }

  private void run() {
    try {
      loop();
    } catch (Throwable t) {
      failed = true;
      LOG.error("the kernel cache invalidator stopped: other nodes' changes now reach this node's kernel only "
          + "when its caches expire, and every open uses direct I/O", t);
    } finally {
      device.close(); // this thread alone writes to it
    }
  }

  private void loop() {
    while (true) {
      Work w;
      try {
        w = queue.take();
      } catch (InterruptedException e) {
        return;
      }
      if (w == STOP) {
        return;
      }
      try {
        switch (w.kind()) {
          case INODE -> invalidateInode(w);
          case ENTRY -> invalidateEntry(w);
          case EVERYTHING -> sweep();
          default -> {
            nodeOf.remove(w.ino());
            extraNodes.remove(w.ino());
          }
        }
      } catch (RuntimeException e) {
        // Not left pending (that would send every open of it to direct I/O for good, and keep
        // later changes from being queued): the attribute timeout bounds what the kernel keeps.
        LOG.warn("kernel cache invalidation failed", e);
        failures.increment();
        if (w.kind() == INODE) {
          pendingInodes.remove(w.ino());
        } else if (w.kind() == ENTRY) {
          pendingEntries.remove(new EntryKey(w.ino(), w.name()));
        }
      }
    }
  }

  /**
   * Drops the kernel's attributes and pages of every node id of the inode. The kernel answers ENOENT for
   * a node id it does not hold: forgotten, or not yet made, when the entry reply that named it is still
   * on its way to the process that asked (the tap records the id before the reply leaves). So an ENOENT
   * for an id recorded in the last few seconds is asked again a few times over ~2.2 s, the inode
   * staying pending; one for an older id is a node the kernel forgot, and settles at once. Ids are kept
   * all the same (the kernel's FORGETs are not seen here); they go when the inode is deleted, or when
   * a new lookup replaces them.
   */
  private void invalidateInode(Work w) {
    long ino = w.ino();
    Long gen = pendingInodes.get(ino);
    long nodeid = nodeOf.get(ino);
    boolean missing = nodeid != 0 && notifyInode(nodeid) == ENOENT && recentlyRecorded(nodeid);
    long[] extra = extraNodes.get(ino);
    if (extra != null) {
      for (long other : extra) {
        notifyInode(other);
      }
    }
    if (missing && w.attempt() < RETRY_MS.length) {
      try {
        retries.schedule(() -> queue.add(new Work(INODE, ino, null, w.attempt() + 1)), RETRY_MS[w.attempt()],
            TimeUnit.MILLISECONDS);
        return;
      } catch (java.util.concurrent.RejectedExecutionException closing) {
        return;
      }
    }
    if (gen != null && !pendingInodes.remove(ino, gen)) {
      queue.add(new Work(INODE, ino, null, 0)); // changed again meanwhile: once more
    }
  }

  /** True if {@code nodeid} was recorded within the retries' span (the kernel may not have made it yet). */
  private boolean recentlyRecorded(long nodeid) {
    long now = nanoClock.getAsLong();
    for (int i = 0; i < RECORDS; i++) {
      if (recordedIds.get(i) == nodeid && now - recordedAt.get(i) < YOUNG_NS) {
        return true;
      }
    }
    return false;
  }

  private void sweep() {
    try {
      nodeOf.forEach((ino, nodeid) -> {
        if (notifyInode(nodeid) == ENOENT && recentlyRecorded(nodeid)) {
          enqueueInode(ino, 1); // a reply on its way: the retries follow it
        }
      });
      extraNodes.values().forEach(ids -> {
        for (long nodeid : ids) {
          notifyInode(nodeid);
        }
      });
    } finally {
      sweeps.decrementAndGet();
    }
  }

  private void invalidateEntry(Work w) {
    EntryKey k = new EntryKey(w.ino(), w.name());
    Long gen = pendingEntries.get(k);
    byte[] name = w.name().getBytes(StandardCharsets.ISO_8859_1);
    long parent = nodeOf.get(w.ino());
    if (parent != 0) {
      notifyEntry(parent, name);
    }
    long[] extra = extraNodes.get(w.ino());
    if (extra != null) {
      for (long other : extra) {
        notifyEntry(other, name);
      }
    }
    if (gen != null && !pendingEntries.remove(k, gen)) {
      queue.add(new Work(ENTRY, w.ino(), w.name(), 0));
    }
  }

  /** {@code fuse_out_header} (len, error = notification code, unique 0) + {@code fuse_notify_inval_inode_out}. */
  int inodeMessage(long nodeid) {
    ByteBuffer b = ByteBuffer.wrap(message).order(ByteOrder.nativeOrder());
    b.putInt(40).putInt(NOTIFY_INVAL_INODE).putLong(0);
    b.putLong(nodeid).putLong(0).putLong(0); // offset 0, length 0: attributes and every cached page
    return 40;
  }

  /** Header + {@code fuse_notify_inval_entry_out} (parent, namelen, flags) + the name, NUL-terminated. */
  int entryMessage(long parent, byte[] name) {
    int len = 32 + name.length + 1;
    ByteBuffer b = ByteBuffer.wrap(message).order(ByteOrder.nativeOrder());
    b.putInt(len).putInt(NOTIFY_INVAL_ENTRY).putLong(0);
    b.putLong(parent).putInt(name.length).putInt(0).put(name).put((byte) 0);
    return len;
  }

  byte[] message() {
    return message;
  }

  private int notifyInode(long nodeid) {
    inodeNotices.increment();
    return send(inodeMessage(nodeid));
  }

  private int notifyEntry(long parent, byte[] name) {
    entryNotices.increment();
    return send(entryMessage(parent, name));
  }

  /** Writes the message built in {@link #message}; returns 0, or the errno the kernel answered. */
  private int send(int length) {
    int errno = device.write(message, length);
    if (errno == 0) {
      return 0;
    }
    if (errno == ENOENT) {
      unknown.increment();
    } else {
      failures.increment();
      if (failures.sum() <= 3) {
        LOG.warn("the kernel refused a cache invalidation of {} bytes: errno {}", length, errno);
      }
    }
    return errno;
  }

  @Override
  public synchronized void close() {
    active = false;
    Thread t = invalidator;
    if (t == null) {
      return;
    }
    invalidator = null;
    queue.clear();
    queue.add(STOP);
    retries.shutdownNow();
    try {
      t.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (t.isAlive()) {
      // Stuck in a notification (the kernel waits for a directory's lock): this descriptor lets go of the
      // connection now (the stuck write keeps its own hold until it returns); the thread closes it.
      LOG.warn("a kernel cache invalidation is still running at unmount; letting go of the FUSE device");
      device.release();
    }
  }
}
