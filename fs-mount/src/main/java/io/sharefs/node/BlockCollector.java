package io.sharefs.node;

import io.sharefs.block.rocks.RocksBlockStore;
import io.sharefs.meta.BlockRef;
import io.sharefs.meta.ratis.RaftMetaStore;
import io.sharefs.vfs.Vfs;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Frees the disk space of blocks that no file references any more (a file removed, truncated or
 * overwritten), on this node, without an operator, when enabled with {@code --gc-interval}: every
 * interval, and sooner — at most every 10 s — while the data directory's disk runs low.
 *
 * <p>A pass first notes the blocks this node's open files hold and lets this node's queued
 * (write-behind) commits apply, then syncs with the leader (it skips the pass when it cannot: a node
 * cut off from the cluster may not know of the commits that reference its blocks), then adds every
 * block the replica's inodes reference, and deletes each stored block outside that set whose last
 * store or touch is older than the grace period: a write in flight stored or touched its blocks
 * within the write timeout, and a write that deduplicates onto a block while the pass runs keeps it
 * ({@link RocksBlockStore#deleteIfUntouchedSince}). The same rule as fsck's
 * {@code block-unreferenced} repair, applied to the local copy only, and with the same limits: a
 * file open on another node for longer than the grace with an old layout (written and not closed,
 * or read after another node replaced its content) is not seen.
 */
final class BlockCollector implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(BlockCollector.class);
  static final long LOW_SPACE_CHECK_MS = 10_000;
  static final long RECLAIM_BYTES = 256L << 20;

  private final RaftMetaStore meta;
  private final RocksBlockStore local;
  private final Supplier<Vfs> vfs;
  private final Path dataDir;
  private final long graceMs;
  private final long intervalMs;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "block-collector");
    t.setDaemon(true);
    return t;
  });
  private volatile long lastPassMs = System.currentTimeMillis();
  private volatile long lastDropped = -1;
  private volatile boolean closed;
  final AtomicLong passes = new AtomicLong();
  final AtomicLong skipped = new AtomicLong();
  final AtomicLong droppedBlocks = new AtomicLong();
  final AtomicLong droppedBytes = new AtomicLong();

  /** Starts the timer; {@code intervalMs} 0 leaves the collector off. */
  BlockCollector(RaftMetaStore meta, RocksBlockStore local, Supplier<Vfs> vfs, Path dataDir, long graceMs,
      long intervalMs) {
    this.meta = meta;
    this.local = local;
    this.vfs = vfs;
    this.dataDir = dataDir;
    this.graceMs = graceMs;
    this.intervalMs = intervalMs;
    if (intervalMs > 0) {
      long tick = Math.min(intervalMs, LOW_SPACE_CHECK_MS);
      timer.scheduleWithFixedDelay(this::tick, tick, tick, TimeUnit.MILLISECONDS);
    }
  }

  private void tick() {
    long now = System.currentTimeMillis();
    boolean due = now - lastPassMs >= intervalMs;
    // While the disk stays low, pass every 10 s as long as passes free something, else every 30 s.
    boolean low = lowOnSpace() && now - lastPassMs >= (lastDropped == 0 ? 3 : 1) * LOW_SPACE_CHECK_MS;
    if (due || low) {
      try {
        lastDropped = collect();
      } catch (Throwable e) { // a scheduled task that throws is never run again
        LOG.warn("block collector: pass failed: {}", e.toString());
      }
    }
  }

  /** True when less than 1 GiB of the data directory's disk is free, or 10 % of it if that is less. */
  private boolean lowOnSpace() {
    try {
      FileStore fs = Files.getFileStore(dataDir);
      long free = fs.getUsableSpace();
      return free < Math.min(1L << 30, fs.getTotalSpace() / 10);
    } catch (IOException e) {
      return false;
    }
  }

  /** One pass; returns the blocks dropped, or -1 if the pass was skipped. */
  long collect() {
    lastPassMs = System.currentTimeMillis();
    Set<ByteBuffer> referenced = new HashSet<>();
    // Open files first, then this node's queued commits applied, then the inodes: a file closed
    // meanwhile is seen either open or committed.
    Vfs v = vfs.get();
    if (v != null) {
      v.forEachHeldBlock(h -> referenced.add(ByteBuffer.wrap(h)));
      v.pipeline().drain();
    }
    RaftMetaStore.Status s = meta.status();
    if (s.leaderId() == null) {
      skipped.incrementAndGet();
      LOG.info("block collector: no leader known, pass skipped");
      return -1;
    }
    meta.syncWithLeader();
    if (meta.barrierStats().degraded()) {
      skipped.incrementAndGet();
      LOG.info("block collector: the leader did not answer, pass skipped");
      return -1;
    }
    long cutoff = System.currentTimeMillis() - graceMs;
    meta.tables().forEachInode(i -> {
      for (BlockRef r : i.blocks()) {
        if (!r.isHole()) {
          referenced.add(ByteBuffer.wrap(r.hash()));
        }
      }
      return !closed;
    });
    List<byte[]> candidates = new ArrayList<>();
    local.scan(false, b -> {
      if (b.touchedMs() < cutoff && !referenced.contains(ByteBuffer.wrap(b.hash()))) {
        candidates.add(b.hash());
      }
      return !closed;
    });
    if (closed) {
      return -1;
    }
    long dropped = 0;
    long bytes = 0;
    for (byte[] h : candidates) {
      if (closed) {
        break;
      }
      long size = local.deleteIfUntouchedSince(h, cutoff);
      if (size >= 0) {
        dropped++;
        bytes += size;
      }
    }
    passes.incrementAndGet();
    droppedBlocks.addAndGet(dropped);
    droppedBytes.addAndGet(bytes);
    // Reclaiming rewrites every live block: only for a sizeable share, or when the disk needs it.
    if (dropped > 0 && (bytes >= RECLAIM_BYTES || lowOnSpace())) {
      local.reclaimSpace();
    }
    if (dropped > 0) {
      LOG.info("block collector: dropped {} unreferenced blocks ({} bytes) older than {} s", dropped, bytes,
          graceMs / 1000);
    }
    return dropped;
  }

  @Override
  public void close() {
    closed = true;
    timer.shutdownNow();
    try {
      if (!timer.awaitTermination(30, TimeUnit.SECONDS)) {
        LOG.warn("block collector: a pass is still running at shutdown");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
