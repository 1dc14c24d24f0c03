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
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;
import org.rocksdb.WriteOptions;

/**
 * Blocks in a node-local RocksDB. Key: the 32-byte SHA-256; value: the block bytes. Large values go
 * to blob files (key-value separation), so compaction does not rewrite block data. Every read is
 * verified against its key.
 */
public final class RocksBlockStore implements BlockStore {
  static {
    RocksDB.loadLibrary();
  }

  private final Options options;
  private final RocksDB db;
  private final WriteOptions writeOptions = new WriteOptions().setSync(false);
  private final ReadOptions readOptions = new ReadOptions();
  private final Path dir;

  private RocksBlockStore(Path dir) throws RocksDBException {
    this.dir = dir;
    this.options =
        new Options()
            .setCreateIfMissing(true)
            .setEnableBlobFiles(true)
            .setMinBlobSize(4096)
            .setEnableBlobGarbageCollection(true)
            .setBlobCompressionType(org.rocksdb.CompressionType.LZ4_COMPRESSION)
            .setKeepLogFileNum(4)
            .setWriteBufferSize(16L << 20)
            .setMaxWriteBufferNumber(2)
            .setTableFormatConfig(new BlockBasedTableConfig().setFilterPolicy(new org.rocksdb.BloomFilter(10)));
    this.db = RocksDB.open(options, dir.toString());
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

  @Override
  public byte[] put(byte[] data, int off, int len) {
    byte[] hash = BlockHash.of(data, off, len);
    if (has(hash)) {
      return hash;
    }
    byte[] value = off == 0 && len == data.length ? data : Arrays.copyOfRange(data, off, off + len);
    try {
      db.put(writeOptions, hash, value);
    } catch (RocksDBException e) {
      throw failure("write", e);
    }
    return hash;
  }

  /** Stores bytes that arrived with a claimed hash (from a peer); refuses them if they do not match. */
  public void putVerified(byte[] hash, byte[] data) {
    byte[] actual = BlockHash.of(data);
    if (!MessageDigest.isEqual(hash, actual)) {
      throw new CorruptBlockException(hash, actual);
    }
    try {
      db.put(writeOptions, hash, data);
    } catch (RocksDBException e) {
      throw failure("write", e);
    }
  }

  @Override
  public byte[] get(byte[] hash) {
    byte[] v;
    try {
      v = db.get(readOptions, hash);
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
      db.put(writeOptions, hash, bytes);
    } catch (RocksDBException e) {
      throw failure("write", e);
    }
  }

  @Override
  public boolean has(byte[] hash) {
    try {
      if (!db.keyMayExist(hash, null)) {
        return false;
      }
      return db.get(readOptions, hash) != null;
    } catch (RocksDBException e) {
      throw failure("read", e);
    }
  }

  @Override
  public void delete(byte[] hash) {
    try {
      db.delete(writeOptions, hash);
    } catch (RocksDBException e) {
      throw failure("delete", e);
    }
  }

  @Override
  public void sync() {
    try {
      db.flushWal(true);
    } catch (RocksDBException e) {
      throw failure("sync", e);
    }
  }

  @Override
  public long blockCount() {
    try {
      return db.getLongProperty("rocksdb.estimate-num-keys");
    } catch (RocksDBException e) {
      return -1;
    }
  }

  @Override
  public long storedBytes() {
    try {
      return db.getLongProperty("rocksdb.total-blob-file-size") + db.getLongProperty("rocksdb.total-sst-files-size");
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
    db.close();
    options.close();
    writeOptions.close();
    readOptions.close();
  }
}
