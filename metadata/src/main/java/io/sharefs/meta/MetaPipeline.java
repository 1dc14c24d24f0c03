package io.sharefs.meta;

import io.sharefs.meta.op.BatchOp;
import io.sharefs.meta.op.MetaOp;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Orders every mutation of one node into the log and commits them in groups: while one entry is in
 * flight, the ops that arrive meanwhile queue up and go out together as the next entry ({@link BatchOp}).
 * One synchronous writer pays one round per op as before; many writers, or ops nobody waits for
 * (write-behind), share rounds. Ops leave in the order they were submitted, and each entry is applied
 * locally before the next is proposed, so an op never overtakes one submitted before it.
 */
public final class MetaPipeline implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MetaPipeline.class);

  /** Work to finish before an op may be proposed (e.g. its blocks reaching their replicas). */
  @FunctionalInterface
  public interface Before {
    void run() throws Exception;
  }

  /** {@code more}: the caller expects another op of its own within moments (see {@link #LINGER_NANOS}). */
  private record Item(MetaOp op, Before before, CompletableFuture<MetaResult> done, boolean more) {}

  /**
   * Queued by {@link #drain} so that an op it waits for does not linger: it either ends the wait or
   * is taken with the op (then there is no wait). Carries no op and is dropped.
   */
  private static final Item WAKE = new Item(null, null, null, false);

  /**
   * How long the sender holds back a lone op whose caller expects more to follow: a regular file just
   * created with write-behind, whose content commit comes at {@code close()}, usually within a
   * millisecond. Sent at once, the create takes a whole round and the content waits for it: another
   * node sees the file after two rounds in a row. Held back, both leave in one entry (after the
   * content's blocks reached their replicas, as any content commit). Any other op arriving
   * meanwhile ends the wait, and so do {@link #drain} and {@link #close}.
   */
  public static final long LINGER_NANOS = 2_000_000;

  private final MetaStore meta;
  private final LinkedBlockingQueue<Item> queue = new LinkedBlockingQueue<>();
  private final Thread sender;
  private volatile boolean closed;
  private volatile CompletableFuture<MetaResult> last = CompletableFuture.completedFuture(null);
  private final AtomicLong entries = new AtomicLong();
  private final AtomicLong ops = new AtomicLong();
  private final AtomicLong queued = new AtomicLong();
  /** Ops queued or in flight beyond which {@link #awaitRoom} waits (write-behind callers). */
  public static final int MAX_QUEUED = 4096;
  private volatile int maxQueued = MAX_QUEUED;
  private volatile long lingerNanos = LINGER_NANOS;

  public MetaPipeline(MetaStore meta) {
    this.meta = meta;
    this.sender = new Thread(this::run, "meta-pipeline");
    sender.setDaemon(true);
    sender.start();
  }

  /**
   * Queues a settled op; the future completes once it is applied on this replica (or failed).
   * {@code more}: the caller expects to submit another op within moments, so a lone op may wait up to
   * {@link #LINGER_NANOS} to share its entry.
   */
  public CompletableFuture<MetaResult> submitAsync(MetaOp op, Before before, boolean more) {
    Item item = new Item(op, before, new CompletableFuture<>(), more);
    synchronized (this) {
      if (closed) {
        throw new FsException(Errno.EIO, "metadata pipeline closed");
      }
      queued.incrementAndGet();
      queue.add(item); // before it becomes `last`: drain() relies on it being queued by then
      last = item.done;
    }
    return item.done;
  }

  /**
   * Waits while {@link #MAX_QUEUED} ops are queued or in flight: callers that do not wait for their
   * ops (write-behind) would otherwise keep queueing, each op holding up to a small file's content,
   * for as long as the quorum is slow or gone. Call it before taking locks the completions need: the
   * sender never waits for callers, so this cannot deadlock. Several callers may pass at once, so the
   * bound is soft by the number of writing threads.
   */
  public void awaitRoom() {
    while (queued.get() >= maxQueued && !closed) {
      try {
        Thread.sleep(2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new FsException(Errno.EINTR);
      }
    }
  }

  /** Test hook: another wait for ops expected to be followed (0: none). */
  public void lingerForTesting(long nanos) {
    this.lingerNanos = nanos;
  }

  /** Test hook: a smaller bound for {@link #awaitRoom}. */
  public void maxQueuedForTesting(int max) {
    this.maxQueued = max;
  }

  /** Queues a settled op and waits for its result; storage and quorum failures come back as EIO. */
  public MetaResult submit(MetaOp op) {
    return await(submitAsync(op, null, false));
  }

  /** Waits until every op submitted before the call has been applied or has failed. */
  public void drain() {
    CompletableFuture<MetaResult> l = last;
    if (!l.isDone()) {
      queue.add(WAKE); // the op waited for may be lingering, or about to
      try {
        l.handle((r, e) -> null).get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new FsException(Errno.EINTR);
      } catch (ExecutionException e) {
        throw new IllegalStateException(e); // handle() swallowed the failure
      }
    }
  }

  static MetaResult await(CompletableFuture<MetaResult> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FsException(Errno.EIO, "interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof FsException fe) {
        throw new FsException(fe.errno(), fe.getMessage(), fe);
      }
      throw new FsException(Errno.EIO, "metadata commit failed: " + e.getCause(), e.getCause());
    }
  }

  /** Ops queued or in flight. */
  public long pending() {
    return queued.get();
  }

  /** Log entries proposed, and ops they carried: ops/entries is the mean group size. */
  public long entries() {
    return entries.get();
  }

  public long ops() {
    return ops.get();
  }

  private void run() {
    while (true) {
      Item first;
      try {
        first = queue.poll(100, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        return;
      }
      if (first == null) {
        if (closed && queue.isEmpty()) {
          return;
        }
        continue;
      }
      if (first == WAKE) {
        continue;
      }
      List<Item> batch = new ArrayList<>();
      batch.add(first);
      queue.drainTo(batch, BatchOp.MAX_OPS - 1);
      if (batch.size() == 1 && first.more && lingerNanos > 0 && !closed) {
        linger(batch);
      }
      batch.removeIf(i -> i == WAKE);
      try {
        send(batch);
      } catch (RuntimeException | Error e) {
        LOG.error("metadata pipeline failed on a group of {} ops", batch.size(), e);
        batch.forEach(i -> fail(i, e));
      }
    }
  }

  /** Waits up to the linger for a next op, then takes it and whatever queued with it. */
  private void linger(List<Item> batch) {
    try {
      Item next = queue.poll(lingerNanos, TimeUnit.NANOSECONDS);
      if (next != null) {
        batch.add(next);
        queue.drainTo(batch, BatchOp.MAX_OPS - 2);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void send(List<Item> batch) {
    List<Item> ready = new ArrayList<>(batch.size());
    for (Item i : batch) {
      try {
        if (i.before != null) {
          i.before.run();
        }
        ready.add(i);
      } catch (Exception e) {
        fail(i, e instanceof FsException ? e : new FsException(Errno.EIO, e.getMessage(), e));
      }
    }
    if (ready.isEmpty()) {
      return;
    }
    entries.incrementAndGet();
    ops.addAndGet(ready.size());
    MetaResult r;
    try {
      r = meta.submit(ready.size() == 1 ? ready.get(0).op : new BatchOp(ready.stream().map(Item::op).toList()));
    } catch (RuntimeException e) {
      ready.forEach(i -> fail(i, e));
      return;
    }
    if (ready.size() == 1) {
      finish(ready.get(0), r);
      return;
    }
    for (int k = 0; k < ready.size(); k++) {
      finish(ready.get(k), k < r.batch().size() ? r.batch().get(k)
          : MetaResult.error(r.errno() != 0 ? r.errno() : Errno.EIO)); // the whole entry was refused
    }
  }

  /** An op leaves the pending count before its caller wakes, so a caller never sees itself pending. */
  private void finish(Item i, MetaResult r) {
    queued.decrementAndGet();
    i.done.complete(r);
  }

  private void fail(Item i, Throwable e) {
    if (!i.done.isDone()) {
      queued.decrementAndGet();
      i.done.completeExceptionally(e);
    }
  }

  /** Lets queued ops go out, then stops the sender. */
  @Override
  public void close() {
    synchronized (this) {
      closed = true;
    }
    queue.add(WAKE); // a lingering op leaves now
    try {
      sender.join(30_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
