package io.sharefs.block.rocks;

import io.sharefs.block.BlockHash;
import io.sharefs.block.BlockStore;
import io.sharefs.block.BlockStoreException;
import io.sharefs.block.CorruptBlockException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.MutableColumnFamilyOptions;
import org.rocksdb.RocksIterator;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Blocks in a node-local RocksDB. Key: the 32-byte SHA-256; value: the block bytes. Large values go
 * to blob files (key-value separation), so compaction does not rewrite block data. Every read is
 * verified against its key. A second column family, {@code touched}, maps each hash to the last time
 * (epoch ms) it was stored or stored again (dedup) and to its size: fsck never drops an unreferenced
 * block touched within its grace period, since a write in flight may still commit it. Both families
 * change in one write batch, so {@code touched} is also the index of what is stored: existence checks
 * and inventories read its 12-byte values instead of fetching megabytes of blob data.
 *
 * <p>Blob garbage collection is off while blocks are written: with it on, every compaction rewrote
 * the live blocks of the oldest quarter of the blob files, which took 38-46 % of a node's CPU while
 * uploads streamed in. Blocks are written once and deleted rarely (fsck, rebalance, removed files'
 * blocks), so space is reclaimed in one pass instead: after {@value #RECLAIM_AFTER_DELETES} deletions
 * a background compaction with collection on rewrites what is still live and frees the rest.
 */
public final class RocksBlockStore implements BlockStore {
  static {
    RocksDB.loadLibrary();
  }

  private static final Logger LOG = LoggerFactory.getLogger(RocksBlockStore.class);

  private final DBOptions options;
  private final org.rocksdb.SstFileManager files;
  private final long headroom;
  private final java.nio.file.FileStore disk;
  private final ColumnFamilyOptions blockOptions;
  private final ColumnFamilyOptions touchedOptions;
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private final ColumnFamilyHandle blocksCf;
  private final ColumnFamilyHandle touchedCf;
  private final RocksDB db;
  private final WriteOptions writeOptions = new WriteOptions().setSync(false);
  private final ReadOptions readOptions = new ReadOptions();
  private final Path dir;
  static final int RECLAIM_AFTER_DELETES = 256;
  private final AtomicInteger deletesSinceReclaim = new AtomicInteger();
  // Blocks are written without syncing the WAL, so a file's blocks cost one fsync at its commit, not
  // one each. Writes counts the stores so far, synced how many of them an fsync covered. A store is
  // counted once its write returned; storing counts those in between, so that reusing a block one of
  // them just wrote also counts as a write (else a sync() would find nothing new to cover it).
  private final AtomicLong writes = new AtomicLong();
  private final AtomicInteger storing = new AtomicInteger();
  private volatile Runnable beforeCount = () -> {};
  private final Object syncLock = new Object();
  private volatile long synced;
  private final AtomicLong walSyncs = new AtomicLong();
  // Stores and touches share the lock; a delete that depends on a block's touch time takes it alone,
  // so a write deduplicating onto a block cannot slip between its check and its delete.
  private final java.util.concurrent.locks.ReentrantReadWriteLock touchGate =
      new java.util.concurrent.locks.ReentrantReadWriteLock();
  private final ExecutorService reclaimer = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "block-space-reclaim");
    t.setDaemon(true);
    return t;
  });

  private RocksBlockStore(Path dir) throws RocksDBException {
    this.dir = dir;
    java.nio.file.FileStore fs;
    long total;
    try {
      fs = Files.getFileStore(dir);
      total = fs.getTotalSpace();
    } catch (IOException e) {
      fs = null;
      total = 0;
    }
    this.disk = fs;
    this.headroom = Math.min(64L << 20, total / 32);
    // With a file manager RocksDB resumes by itself once a write that failed for lack of space finds
    // room again (without one it stays read-only until reopened).
    this.files = new org.rocksdb.SstFileManager(org.rocksdb.Env.getDefault());
    this.options = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true).setKeepLogFileNum(4)
        .setSstFileManager(files);
    this.blockOptions =
        new ColumnFamilyOptions()
            .setEnableBlobFiles(true)
            .setMinBlobSize(4096)
            .setEnableBlobGarbageCollection(false)
            .setBlobFileSize(64L << 20)
            .setBlobCompressionType(org.rocksdb.CompressionType.LZ4_COMPRESSION)
            .setWriteBufferSize(8L << 20)
            .setMaxWriteBufferNumber(2)
            .setTableFormatConfig(new BlockBasedTableConfig().setFilterPolicy(new org.rocksdb.BloomFilter(10)));
    this.touchedOptions = new ColumnFamilyOptions().setWriteBufferSize(2L << 20).setMaxWriteBufferNumber(2)
        .setTableFormatConfig(new BlockBasedTableConfig().setFilterPolicy(new org.rocksdb.BloomFilter(10)));
    this.db = RocksDB.open(options, dir.toString(), List.of(
        new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, blockOptions),
        new ColumnFamilyDescriptor("touched".getBytes(java.nio.charset.StandardCharsets.UTF_8), touchedOptions)),
        handles);
    this.blocksCf = handles.get(0);
    this.touchedCf = handles.get(1);
  }

  private static byte[] indexEntry(long touchedMs, int size) {
    return ByteBuffer.allocate(12).putLong(touchedMs).putInt(size).array();
  }

  /** Sets a stored block's touch time, keeping its size; false if the block is not stored. */
  private boolean touch(byte[] hash, long atMs) throws RocksDBException {
    byte[] entry = db.get(touchedCf, readOptions, hash);
    if (entry == null) {
      return false;
    }
    db.put(touchedCf, writeOptions, hash, indexEntry(atMs, ByteBuffer.wrap(entry).getInt(8)));
    if (storing.get() > 0) {
      // Perhaps the store that wrote this block has not been counted yet. The block was found, so its
      // log record is written (RocksDB logs before it applies): counting the reuse makes the next
      // sync() fsync it.
      writes.incrementAndGet();
    }
    return true;
  }

  /** Marks a stored block as just used (a write deduplicated onto it); false if it is not stored. */
  public boolean touch(byte[] hash) {
    touchGate.readLock().lock();
    try {
      return touch(hash, System.currentTimeMillis());
    } catch (RocksDBException e) {
      throw failure("write", e);
    } finally {
      touchGate.readLock().unlock();
    }
  }

  /** Test hook: stores a block as if it had last been touched at {@code atMs}. */
  public void putAgedForTesting(byte[] data, long atMs) {
    byte[] hash = put(data, 0, data.length);
    try {
      touch(hash, atMs);
    } catch (RocksDBException e) {
      throw failure("write", e);
    }
  }

  private void store(byte[] hash, byte[] value) throws RocksDBException {
    storing.incrementAndGet();
    try (WriteBatch batch = new WriteBatch()) {
      batch.put(blocksCf, hash, value);
      batch.put(touchedCf, hash, indexEntry(System.currentTimeMillis(), value.length));
      db.write(writeOptions, batch);
      beforeCount.run();
      writes.incrementAndGet();
    } finally {
      storing.decrementAndGet();
    }
  }

  /** Test hook: runs between a store's write and its count. */
  void beforeCountForTesting(Runnable hook) {
    this.beforeCount = hook;
  }

  /** One stored block as fsck sees it. */
  public record BlockInfo(byte[] hash, int size, long touchedMs, boolean corrupt) {}

  /**
   * Visits every stored block in hash order until the visitor returns false; with {@code verify},
   * reads each block and reports whether its bytes still match its hash.
   */
  public void scan(boolean verify, java.util.function.Predicate<BlockInfo> visitor) {
    if (!verify) {
      try (RocksIterator it = db.newIterator(touchedCf, readOptions)) {
        for (it.seekToFirst(); it.isValid(); it.next()) {
          ByteBuffer entry = ByteBuffer.wrap(it.value());
          if (!visitor.test(new BlockInfo(it.key(), entry.getInt(8), entry.getLong(0), false))) {
            return;
          }
        }
      }
      return;
    }
    // Both families are in hash order: walk the touch times alongside instead of a lookup per block.
    try (RocksIterator it = db.newIterator(blocksCf, readOptions);
        RocksIterator times = db.newIterator(touchedCf, readOptions)) {
      times.seekToFirst();
      for (it.seekToFirst(); it.isValid(); it.next()) {
        byte[] hash = it.key();
        while (times.isValid() && Arrays.compareUnsigned(times.key(), hash) < 0) {
          times.next();
        }
        long touched = times.isValid() && Arrays.equals(times.key(), hash)
            ? ByteBuffer.wrap(times.value()).getLong() : 0;
        byte[] v = it.value();
        boolean corrupt = verify && !MessageDigest.isEqual(hash, BlockHash.of(v));
        if (!visitor.test(new BlockInfo(hash, v.length, touched, corrupt))) {
          return;
        }
      }
    }
  }

  /** Opens or creates the store in {@code dir}. */
  public static RocksBlockStore open(Path dir) throws IOException {
    Files.createDirectories(dir);
    try {
      return new RocksBlockStore(dir);
    } catch (RocksDBException e) {
      throw new IOException("cannot open block store at " + dir + ": " + e.getMessage(), e);
    }
  }

  public Path dir() {
    return dir;
  }

  /**
   * Refuses a new block that would leave less than the headroom free on the store's disk: removing
   * blocks needs room too (log records, and compaction rewriting what is still live), and so does the
   * metadata, which is not held to it. Without it a full disk could not be emptied again.
   */
  private void checkRoom(long len) {
    long free;
    try {
      free = disk == null ? Long.MAX_VALUE : disk.getUsableSpace(); // one statfs
    } catch (IOException e) {
      return; // the write itself will say what is wrong
    }
    if (free - len < headroom) {
      throw new BlockStoreException("block store write refused: " + free + " bytes free on the disk of " + dir
          + ", " + headroom + " kept for removing blocks and for metadata", null, true);
    }
  }

  /** What {@link #checkRoom} keeps free: 1/32 of the disk, at most 64 MiB. */
  public long headroom() {
    return headroom;
  }

  @Override
  public byte[] put(byte[] data, int off, int len) {
    byte[] hash = BlockHash.of(data, off, len);
    touchGate.readLock().lock();
    try {
      if (touch(hash, System.currentTimeMillis())) {
        return hash;
      }
      checkRoom(len);
      store(hash, off == 0 && len == data.length ? data : Arrays.copyOfRange(data, off, off + len));
    } catch (RocksDBException e) {
      throw failure("write", e);
    } finally {
      touchGate.readLock().unlock();
    }
    return hash;
  }

  /** Stores bytes that arrived with a claimed hash (from a peer); refuses them if they do not match. */
  public void putVerified(byte[] hash, byte[] data) {
    byte[] actual = BlockHash.of(data);
    if (!MessageDigest.isEqual(hash, actual)) {
      throw new CorruptBlockException(hash, actual);
    }
    touchGate.readLock().lock();
    try {
      checkRoom(data.length); // callers store blocks they lack a good copy of (a push, a fetch, a repair)
      store(hash, data);
    } catch (RocksDBException e) {
      throw failure("write", e);
    } finally {
      touchGate.readLock().unlock();
    }
  }

  @Override
  public byte[] get(byte[] hash) {
    byte[] v;
    try {
      v = db.get(blocksCf, readOptions, hash);
    } catch (RocksDBException e) {
      throw failure("read", e);
    }
    if (v == null) {
      return null;
    }
    byte[] actual = BlockHash.of(v);
    if (!MessageDigest.isEqual(hash, actual)) {
      throw new CorruptBlockException(hash, actual);
    }
    return v;
  }

  /** Test and fsck hook: overwrites a block's bytes without changing its key. */
  public void putRawForTesting(byte[] hash, byte[] bytes) {
    try {
      db.put(blocksCf, writeOptions, hash, bytes);
    } catch (RocksDBException e) {
      throw failure("write", e);
    }
  }

  @Override
  public boolean has(byte[] hash) {
    try {
      return db.keyMayExist(touchedCf, hash, null) && db.get(touchedCf, readOptions, hash) != null;
    } catch (RocksDBException e) {
      throw failure("read", e);
    }
  }

  @Override
  public void delete(byte[] hash) {
    try (WriteBatch batch = new WriteBatch()) {
      batch.delete(blocksCf, hash);
      batch.delete(touchedCf, hash);
      db.write(writeOptions, batch);
    } catch (RocksDBException e) {
      throw failure("delete", e);
    }
    if (deletesSinceReclaim.incrementAndGet() == RECLAIM_AFTER_DELETES) {
      reclaimer.execute(this::reclaimSpaceQuietly);
    }
  }

  /**
   * Deletes the block only if nothing stored or touched it at or after {@code cutoffMs}; returns its
   * size if deleted, -1 if not (absent, or used since). The block collector's delete: a write that
   * deduplicates onto the block meanwhile keeps it.
   */
  public long deleteIfUntouchedSince(byte[] hash, long cutoffMs) {
    touchGate.writeLock().lock();
    try {
      byte[] entry = db.get(touchedCf, readOptions, hash);
      if (entry == null || ByteBuffer.wrap(entry).getLong() >= cutoffMs) {
        return -1;
      }
      delete(hash);
      return ByteBuffer.wrap(entry).getInt(8);
    } catch (RocksDBException e) {
      throw failure("read", e);
    } finally {
      touchGate.writeLock().unlock();
    }
  }

  /**
   * Frees the space of deleted blocks: one compaction with blob garbage collection on over every blob
   * file (live blocks are rewritten into new files, dead ones dropped), then collection off again.
   */
  public void reclaimSpace() {
    deletesSinceReclaim.set(0);
    try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
      db.flush(flush, blocksCf);
      db.setOptions(blocksCf, MutableColumnFamilyOptions.builder()
          .setEnableBlobGarbageCollection(true).setBlobGarbageCollectionAgeCutoff(1.0).build());
      try {
        db.compactRange(blocksCf);
      } finally {
        db.setOptions(blocksCf, MutableColumnFamilyOptions.builder()
            .setEnableBlobGarbageCollection(false).build());
      }
    } catch (RocksDBException e) {
      throw failure("space reclaim", e);
    }
  }

  private void reclaimSpaceQuietly() {
    long before = storedBytes();
    try {
      reclaimSpace();
      LOG.info("block store: reclaimed {} bytes of deleted blocks", before - storedBytes());
    } catch (RuntimeException e) {
      LOG.warn("block store: reclaiming deleted blocks' space failed: {}", e.getMessage());
    }
  }

  /**
   * Makes every block stored (or reused) before the call durable against power loss: one fsync of
   * RocksDB's log, none if an fsync since covered them. Callers that wait while another's fsync runs
   * share the next one: a group commit.
   */
  @Override
  public void sync() {
    long mine = writes.get(); // what this caller needs covered: everything counted before it asked
    if (synced >= mine) {
      return;
    }
    synchronized (syncLock) {
      if (synced >= mine) {
        return; // an fsync that started after those stores, while this caller waited, covered them
      }
      long upTo = writes.get(); // every store counted here has returned, so the fsync covers it
      try {
        db.flushWal(true);
      } catch (RocksDBException e) {
        throw failure("sync", e);
      }
      walSyncs.incrementAndGet();
      synced = upTo;
    }
  }

  /** A commit's blocks must outlive a power loss before the metadata that names them does. */
  @Override
  public void awaitReplicated(List<byte[]> hashes) {
    if (!hashes.isEmpty()) {
      sync();
    }
  }

  /** fsyncs of the block store's log so far ({@link #sync}). */
  public long walSyncs() {
    return walSyncs.get();
  }

  @Override
  public long blockCount() {
    try {
      return db.getLongProperty(blocksCf, "rocksdb.estimate-num-keys");
    } catch (RocksDBException e) {
      return -1;
    }
  }

  @Override
  public long storedBytes() {
    try {
      return db.getLongProperty(blocksCf, "rocksdb.total-blob-file-size")
          + db.getLongProperty(blocksCf, "rocksdb.total-sst-files-size");
    } catch (RocksDBException e) {
      return -1;
    }
  }

  private BlockStoreException failure(String what, RocksDBException e) {
    Status s = e.getStatus();
    boolean noSpace = s != null && (s.getSubCode() == Status.SubCode.NoSpace
        || String.valueOf(s.getState()).toLowerCase().contains("no space"));
    return new BlockStoreException("block store " + what + " failed: " + e.getMessage(), e, noSpace);
  }

  @Override
  public void close() {
    reclaimer.shutdownNow();
    try {
      reclaimer.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    handles.forEach(ColumnFamilyHandle::close);
    db.close();
    options.close();
    blockOptions.close();
    files.close();
    touchedOptions.close();
    writeOptions.close();
    readOptions.close();
  }
}
