package io.sharefs.fuse;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import jnr.ffi.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sees every reply libfuse sends to the kernel, for two things libfuse 2's high-level API does not do.
 *
 * <p><b>Read-only opens without FLUSH.</b> It answers read-only opens with {@code FOPEN_NOFLUSH}, so
 * that the kernel (Linux 5.16 and later) sends no FLUSH when such a file is closed: a warm
 * {@code open + read + close} then costs one FUSE round trip instead of two. A read-only descriptor
 * has nothing to commit at close; the one thing its FLUSH did was drop the closing process's
 * {@code fcntl} locks, which the VFS now does at RELEASE ({@code Vfs#release}). The high-level API
 * copies only {@code direct_io}, {@code keep_cache} and {@code nonseekable} into the open reply.
 *
 * <p><b>The kernel's node ids.</b> It reads the node id of each entry reply (LOOKUP, CREATE, MKDIR, ...)
 * for the {@link KernelCache}, which needs them to invalidate what the kernel cached.
 *
 * <p>How: this wraps the {@code send} function of the session's channel ({@code struct fuse_chan}
 * starts with its ops: receive, send, destroy; then the session pointer and the device fd, which
 * {@link #install} checks before touching anything). A callback notes its native thread with what its
 * reply must carry ({@link #markReply}: the handle the open returns; {@link #markEntry}: the inode the
 * getattr behind a lookup found); libfuse sends that reply from the same thread right after the
 * callback. The wrapper flags the reply when it is the 16-byte {@code fuse_open_out} of a success
 * carrying exactly that handle, and records the node id when it is a successful {@code fuse_entry_out}
 * (alone, or followed by a {@code fuse_open_out} for CREATE) whose attributes carry exactly that inode.
 * Every other reply passes through untouched, and so does everything when the layout does not match.
 * (The native thread, not a Java ThreadLocal: jffi attaches a native thread afresh for each of its
 * first 1,000 upcalls, each time as a new {@code java.lang.Thread}.)
 */
final class ReplyTap {
  private static final Logger LOG = LoggerFactory.getLogger(ReplyTap.class);
  static final int FOPEN_NOFLUSH = 1 << 5;
  private static final long CHAN_SEND = 8;
  private static final long CHAN_SESSION = 24;
  private static final long CHAN_FD = 32;
  private static final long OPEN_OUT_SIZE = 16;
  static final long ENTRY_OUT_SIZE = 128;
  /** fuse_entry_out: nodeid, generation, entry_valid, attr_valid, their nsecs, then fuse_attr (ino first). */
  private static final long ENTRY_VALID = 16;
  private static final long ENTRY_VALID_NSEC = 32;
  private static final long ENTRY_ATTR_VALID = 24;
  private static final long ENTRY_ATTR_VALID_NSEC = 36;
  private static final long ENTRY_INO = 40;
  private static final MemoryIO MEMORY = MemoryIO.getInstance();

  /** {@code int send(struct fuse_chan *ch, const struct iovec iov[], size_t count)}. */
  public interface Send {
    @jnr.ffi.annotations.Delegate
    int send(long chan, long iov, long count);
  }

  /** The libfuse 2 functions that lead from the {@code struct fuse} to its channel. */
  public interface SessionLib {
    Pointer fuse_get_session(Pointer fuse);

    Pointer fuse_session_next_chan(Pointer session, Pointer chan);

    int fuse_chan_fd(Pointer chan);
  }

  /** The C library's thread identity. */
  public interface Threads {
    long pthread_self();
  }

  private final long originalSend;
  private final Threads threads;
  private final KernelCache kernel;
  /** Native thread to the handle whose open reply that thread sends next. */
  private final ConcurrentHashMap<Long, Long> nextReply = new ConcurrentHashMap<>();
  /** Native thread to {inode, the kernel cache's change count} its next entry reply is about. */
  private final ConcurrentHashMap<Long, long[]> nextEntry = new ConcurrentHashMap<>();
  private final CallContext sendCall = CallContext.getCallContext(Type.SINT,
      new Type[] {Type.POINTER, Type.POINTER, Type.POINTER}, CallingConvention.DEFAULT, false);
  /** Native code holds only the closure's address: this reference keeps it alive. */
  private final Send wrapper = this::send;
  private final LongAdder marked = new LongAdder();

  private ReplyTap(long originalSend, Threads threads, KernelCache kernel) {
    this.originalSend = originalSend;
    this.threads = threads;
    this.kernel = kernel;
  }

  /**
   * Wraps the channel of {@code fuse} (the {@code struct fuse *} of the calling request's context) and
   * starts {@code kernel} on its device; null, with FLUSH at every close and no invalidation, when
   * libfuse's channel does not look as expected.
   */
  static ReplyTap install(SessionLib lib, Pointer fuse, KernelCache kernel) {
    try {
      Pointer session = fuse == null ? null : lib.fuse_get_session(fuse);
      Pointer chan = session == null ? null : lib.fuse_session_next_chan(session, null);
      if (chan == null) {
        LOG.info("FUSE channel not found: closing read-only files keeps its FLUSH round trip, "
            + "and the kernel's caches are not invalidated");
        return null;
      }
      long ch = chan.address();
      long send = MEMORY.getAddress(ch + CHAN_SEND);
      if (MEMORY.getAddress(ch + CHAN_SESSION) != session.address()
          || MEMORY.getInt(ch + CHAN_FD) != lib.fuse_chan_fd(chan) || send == 0) {
        LOG.warn("libfuse's channel layout is not the one sharefs knows: closing read-only files keeps "
            + "its FLUSH round trip, and the kernel's caches are not invalidated");
        return null;
      }
      Threads threads = jnr.ffi.LibraryLoader.create(Threads.class).failImmediately().load("c");
      KernelCache.LibC libc = jnr.ffi.LibraryLoader.create(KernelCache.LibC.class).failImmediately().load("c");
      if (!kernel.start(KernelCache.duplicate(libc, lib.fuse_chan_fd(chan)))) {
        LOG.warn("cannot duplicate the FUSE device descriptor: the kernel's caches are not invalidated");
      }
      ReplyTap hook = new ReplyTap(send, threads, kernel);
      long wrapper = jnr.ffi.Runtime.getSystemRuntime().getClosureManager()
          .getClosurePointer(Send.class, hook.wrapper).address();
      MEMORY.putAddress(ch + CHAN_SEND, wrapper); // one aligned word: senders see the old or the new one
      LOG.info("read-only opens are answered with FOPEN_NOFLUSH: their close() sends no FLUSH; "
          + "other nodes' changes invalidate the kernel's caches: {}", kernel.active());
      return hook;
    } catch (RuntimeException | LinkageError e) {
      LOG.warn("cannot wrap the FUSE channel: closing read-only files keeps its FLUSH round trip, "
          + "and the kernel's caches are not invalidated", e);
      return null;
    }
  }

  /** Called by the open callback on success: the reply this thread sends next opens {@code fh}. */
  void markReply(long fh) {
    nextReply.put(threads.pthread_self(), fh);
  }

  /**
   * Called by the getattr callbacks on success: if the reply this thread sends next is an entry
   * reply, it names inode {@code ino}, as read after the kernel cache's change count was {@code since}.
   */
  void markEntry(long ino, long since) {
    if (kernel.active()) {
      nextEntry.put(threads.pthread_self(), new long[] {ino, since});
    }
  }

  /** Open replies that carried the flag. */
  long marked() {
    return marked.sum();
  }

  private int send(long chan, long iov, long count) {
    try {
      if (!nextReply.isEmpty() || !nextEntry.isEmpty()) {
        // one chance each: a callback's own reply is its thread's next send
        long self = threads.pthread_self();
        Long fh = nextReply.remove(self);
        if (fh != null && addFlag(iov, count, fh)) {
          marked.increment();
        }
        long[] entry = nextEntry.remove(self);
        if (entry != null) {
          long nodeid = entryNode(iov, count, entry[0]);
          if (nodeid != 0) {
            kernel.record(entry[0], nodeid);
            if (kernel.changedSince(entry[0], entry[1])) {
              // The inode changed after the getattr behind this reply read the tables, and its
              // notification may have found no node id to go to: the kernel must not keep this.
              expireAttributes(iov);
            }
          }
        }
      }
    } catch (Throwable t) {
      // never keep a reply from the kernel: it would leave the caller's syscall waiting forever
    }
    return (int) Invoker.getInstance().invokeN3(sendCall, originalSend, chan, iov, count);
  }

  /**
   * The node id if the reply at {@code iov} is a successful entry reply about inode {@code ino}, else 0.
   */
  static long entryNode(long iov, long count, long ino) {
    long len = count == 2 ? MEMORY.getLong(iov + 24) : 0;
    if ((len != ENTRY_OUT_SIZE && len != ENTRY_OUT_SIZE + OPEN_OUT_SIZE)
        || MEMORY.getInt(MEMORY.getAddress(iov) + 4) != 0) {
      return 0;
    }
    long entryOut = MEMORY.getAddress(iov + 16);
    return MEMORY.getLong(entryOut + ENTRY_INO) == ino ? MEMORY.getLong(entryOut) : 0;
  }

  /** Sets the name and attribute timeouts of the entry reply at {@code iov} to zero. */
  static void expireAttributes(long iov) {
    long entryOut = MEMORY.getAddress(iov + 16);
    MEMORY.putLong(entryOut + ENTRY_VALID, 0);
    MEMORY.putInt(entryOut + ENTRY_VALID_NSEC, 0);
    MEMORY.putLong(entryOut + ENTRY_ATTR_VALID, 0);
    MEMORY.putInt(entryOut + ENTRY_ATTR_VALID_NSEC, 0);
  }

  /**
   * Adds the flag if the reply at {@code iov} is a successful open of {@code fh}. iov[0] is the
   * fuse_out_header (len, error, unique), iov[1] the payload; an iovec is (base, len).
   */
  static boolean addFlag(long iov, long count, long fh) {
    if (count != 2 || MEMORY.getLong(iov + 24) != OPEN_OUT_SIZE || MEMORY.getInt(MEMORY.getAddress(iov) + 4) != 0) {
      return false;
    }
    long openOut = MEMORY.getAddress(iov + 16); // fuse_open_out: fh, open_flags, padding
    if (MEMORY.getLong(openOut) != fh) {
      return false;
    }
    MEMORY.putInt(openOut + 8, MEMORY.getInt(openOut + 8) | FOPEN_NOFLUSH);
    return true;
  }
}
