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
 * overwritten), on this node, without an operator: every {@code --gc-interval}, and sooner — at most
 * every 10 s — while the data directory's disk runs low.
 *
 * <p>A pass first syncs with the leader (it skips the pass when it cannot: a node cut off from the
 * cluster may not know of the commits that reference its blocks), then collects every block the
 * replica's inodes and this node's open files reference, then deletes each stored block outside that
 * set whose last store or touch is older than the grace period: a write in flight on any node stored
 * or touched its blocks within the write timeout, and a write that deduplicates onto a block while the
 * pass runs keeps it ({@link RocksBlockStore#deleteIfUntouchedSince}). The same rule as fsck's
 * {@code block-unreferenced} repair, applied to the local copy only.
 */
final class BlockCollector implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(BlockCollector.class);
  static final long LOW_SPACE_CHECK_MS = 10_000;

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
  final AtomicLong passes = new AtomicLong();
  final AtomicLong skipped = new AtomicLong();
  final AtomicLong droppedBlocks = new AtomicLong();
  final AtomicLong droppedBytes = new AtomicLong();

  /** Starts the timer; {@code intervalMs} 0 runs passes only while the disk runs low. */
  BlockCollector(RaftMetaStore meta, RocksBlockStore local, Supplier<Vfs> vfs, Path dataDir, long graceMs,
      long intervalMs) {
    this.meta = meta;
    this.local = local;
    this.vfs = vfs;
    this.dataDir = dataDir;
    this.graceMs = graceMs;
    this.intervalMs = intervalMs;
    long tick = intervalMs > 0 ? Math.min(intervalMs, LOW_SPACE_CHECK_MS) : LOW_SPACE_CHECK_MS;
    timer.scheduleWithFixedDelay(this::tick, tick, tick, TimeUnit.MILLISECONDS);
  }

  private void tick() {
    long now = System.currentTimeMillis();
    boolean due = intervalMs > 0 && now - lastPassMs >= intervalMs;
    boolean low = lowOnSpace() && now - lastPassMs >= LOW_SPACE_CHECK_MS;
    if (due || low) {
      try {
        collect();
      } catch (RuntimeException e) {
        LOG.warn("block collector: pass failed: {}", e.getMessage());
      }
    }
  }

  /** True when less than 10 % of the data directory's disk, or less than 1 GiB, is free. */
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
    return collectUnreferenced();
  }

  private long collectUnreferenced() {
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
    Set<ByteBuffer> referenced = new HashSet<>();
    meta.tables().forEachInode(i -> {
      for (BlockRef r : i.blocks()) {
        if (!r.isHole()) {
          referenced.add(ByteBuffer.wrap(r.hash()));
        }
      }
      return true;
    });
    Vfs v = vfs.get();
    if (v != null) {
      v.forEachHeldBlock(h -> referenced.add(ByteBuffer.wrap(h)));
    }
    List<byte[]> candidates = new ArrayList<>();
    local.scan(false, b -> {
      if (b.touchedMs() < cutoff && !referenced.contains(ByteBuffer.wrap(b.hash()))) {
        candidates.add(b.hash());
      }
      return true;
    });
    long dropped = 0;
    long bytes = 0;
    for (byte[] h : candidates) {
      long size = local.deleteIfUntouchedSince(h, cutoff);
      if (size >= 0) {
        dropped++;
        bytes += size;
      }
    }
    passes.incrementAndGet();
    droppedBlocks.addAndGet(dropped);
    droppedBytes.addAndGet(bytes);
    if (dropped > 0) {
      local.reclaimSpace();
      LOG.info("block collector: dropped {} unreferenced blocks ({} bytes) older than {} s", dropped, bytes,
          graceMs / 1000);
    }
    return dropped;
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
