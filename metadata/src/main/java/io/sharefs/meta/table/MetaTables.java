package io.sharefs.meta.table;

import io.sharefs.meta.Dentry;
import io.sharefs.meta.FileMode;
import io.sharefs.meta.Inode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Predicate;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Checkpoint;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.LRUCache;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The metadata tables of one node, as RocksDB column families. Key layout (all integers 8-byte
 * big-endian, so a prefix scan of a parent lists its children in name order):
 *
 * <pre>
 *   inodes    [ino]            -> InodeProto
 *   dentries  [parent][name]   -> [child ino][type = mode >>> 12, 1 byte]
 *   xattrs    [ino][name]      -> value bytes
 *   orphans   [ino]            -> empty (inode at nlink 0 still held open)
 *   locks     [ino]F[node]0[owner] -> [type] (flock: 1 shared, 2 exclusive)
 *             [ino]P[node]0[owner] -> RecordLocks.encode(): [pid] then [start][end][type] per range
 *   default   "applied"        -> [term][index] of the last applied log entry
 *             "replication"    -> [int] copies of each block the cluster keeps (absent or 0: every member)
 * </pre>
 *
 * Every log entry is applied as one {@link WriteBatch} that also carries the applied index, so the
 * tables and the index never disagree after a crash.
 */
public final class MetaTables implements AutoCloseable {
  private static final byte[] APPLIED_KEY = "applied".getBytes();
  static final byte[] REPLICATION_KEY = "replication".getBytes();
  static final byte[] RESERVED_INO_KEY = "reserved-ino".getBytes();

  static {
    RocksDB.loadLibrary();
  }

  private final Path dir;
  private final DBOptions dbOptions;
  private final ColumnFamilyOptions cfOptions;
  private final LRUCache cache;
  private final org.rocksdb.WriteBufferManager writeBuffers;
  private volatile RocksDB db;
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  volatile ColumnFamilyHandle meta;
  volatile ColumnFamilyHandle inodes;
  volatile ColumnFamilyHandle dentries;
  volatile ColumnFamilyHandle xattrs;
  volatile ColumnFamilyHandle orphans;
  volatile ColumnFamilyHandle locks;
  /** Readers share; swapping in a snapshot from the leader excludes them. */
  private final java.util.concurrent.locks.ReentrantReadWriteLock swap =
      new java.util.concurrent.locks.ReentrantReadWriteLock();
  private final WriteOptions writeOptions;
  // Inode records and directory entries of this replica: those read, and those a commit just wrote
  // (a name another node created is looked up right after it is applied, and the next entry often
  // changes the same inode or parent). Path resolution reads one of each per component. Only present
  // values are cached. Inodes are bounded by the bytes they carry too: small files keep their content
  // in the inode, and 16,000 cached 14 KiB files once filled a node's 256 MiB heap.
  static final int CACHE_MAX = 50_000;
  static final long CACHE_INODE_BYTES_MAX = 16L << 20;
  // A commit invalidates every cached record that shares a stripe with what it changed: with 1,024
  // stripes, the ~7,500 entries of one WordPress extraction bumped each stripe ~20 times, so a record
  // cached early was gone by the time another node looked it up. 65,536 stripes cost 512 KiB.
  private static final int STRIPES = 1 << 16;
  private final RecordCache<Long, Inode> inodeCache = new RecordCache<>(CACHE_MAX, CACHE_INODE_BYTES_MAX,
      MetaTables::payloadBytes);
  private final RecordCache<DentryKey, Dentry> dentryCache = new RecordCache<>(CACHE_MAX, Long.MAX_VALUE,
      d -> d.name().length);
  private final AtomicLongArray stripeGen = new AtomicLongArray(STRIPES);
  private final Object changeLock = new Object(); // one change at a time keeps each stripe's parity
  private final ReadOptions readOptions;

  private MetaTables(Path dir) throws RocksDBException {
    this.dir = dir;
    this.cache = new LRUCache(32L << 20);
    // Memtables of all six families together stay under 16 MiB and are charged to the block cache,
    // so metadata memory is bounded by ~32 MiB however the families grow (a node at 100,000 files
    // otherwise held up to 96 MiB of memtables). Small memtables: without the cap six families x two
    // memtables each could reserve up to 768 MiB.
    this.writeBuffers = new org.rocksdb.WriteBufferManager(16L << 20, cache);
    this.cfOptions =
        new ColumnFamilyOptions().setTableFormatConfig(new BlockBasedTableConfig().setBlockCache(cache))
            .setWriteBufferSize(8L << 20).setMaxWriteBufferNumber(2);
    ColumnFamilyOptions ordered = cfOptions;
    this.dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
        .setMaxOpenFiles(512).setKeepLogFileNum(4).setWriteBufferManager(writeBuffers);
    this.descriptors =
        List.of(
            new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, ordered),
            new ColumnFamilyDescriptor("inodes".getBytes(), ordered),
            new ColumnFamilyDescriptor("dentries".getBytes(), ordered),
            new ColumnFamilyDescriptor("xattrs".getBytes(), ordered),
            new ColumnFamilyDescriptor("orphans".getBytes(), ordered),
            new ColumnFamilyDescriptor("locks".getBytes(), ordered));
    openDb();
    // Durability comes from the Raft log (fsynced); the tables are re-derived from it after a crash.
    this.writeOptions = new WriteOptions().setSync(false);
    this.readOptions = new ReadOptions();
  }

  private final List<ColumnFamilyDescriptor> descriptors;

  private void openDb() throws RocksDBException {
    handles.clear();
    this.db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
    this.meta = handles.get(0);
    this.inodes = handles.get(1);
    this.dentries = handles.get(2);
    this.xattrs = handles.get(3);
    this.orphans = handles.get(4);
    this.locks = handles.get(5);
  }

  private void closeDb() {
    for (ColumnFamilyHandle h : handles) {
      h.close();
    }
    handles.clear();
    db.close();
  }

  /**
   * Replaces every table with the checkpoint in {@code checkpointDir} (a snapshot installed from the
   * leader). Readers wait meanwhile; the caller holds off applies.
   */
  public void replaceWith(Path checkpointDir) throws IOException {
    swap.writeLock().lock();
    try {
      synchronized (changeLock) {
        bump(null);
        try {
          closeDb();
          try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
              Files.delete(p);
            }
          }
          try (var s = Files.list(checkpointDir)) {
            for (Path p : s.toList()) {
              if (!p.getFileName().toString().endsWith(".md5")) {
                Files.copy(p, dir.resolve(p.getFileName()));
              }
            }
          }
          openDb();
        } catch (RocksDBException e) {
          throw new IOException("cannot open the installed snapshot: " + e.getMessage(), e);
        } finally {
          endChange(null, null, null);
        }
      }
    } finally {
      swap.writeLock().unlock();
    }
  }

  /** Opens (creating if needed) the tables in {@code dir}; a fresh store gets the root directory. */
  public static MetaTables open(Path dir) throws IOException {
    Files.createDirectories(dir);
    try {
      MetaTables t = new MetaTables(dir);
      return t;
    } catch (RocksDBException e) {
      throw new IOException("cannot open metadata store at " + dir + ": " + e.getMessage(), e);
    }
  }

  public Path dir() {
    return dir;
  }

  /** Root inode if the store was never initialised (applied index 0, no root yet). */
  public void ensureRoot(long nowNs) {
    if (getInode(Inode.ROOT_INO) != null) {
      return;
    }
    Inode.Builder b = new Inode.Builder();
    b.ino = Inode.ROOT_INO;
    b.mode = FileMode.S_IFDIR | 0755;
    b.nlink = 2;
    b.size = 4096;
    b.atimeNs = b.mtimeNs = b.ctimeNs = nowNs;
    try (WriteBatch batch = new WriteBatch()) {
      batch.put(inodes, inoKey(Inode.ROOT_INO), b.build().toBytes());
      db.write(writeOptions, batch);
    } catch (RocksDBException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---- keys ----

  public static byte[] inoKey(long ino) {
    return ByteBuffer.allocate(8).putLong(ino).array();
  }

  public static byte[] dentryKey(long parent, byte[] name) {
    byte[] k = new byte[8 + name.length];
    for (int i = 7; i >= 0; i--, parent >>>= 8) {
      k[i] = (byte) parent;
    }
    System.arraycopy(name, 0, k, 8, name.length);
    return k;
  }

  static byte[] dentryValue(long ino, int mode) {
    return ByteBuffer.allocate(9).putLong(ino).put((byte) (FileMode.type(mode) >>> 12)).array();
  }

  static Dentry decodeDentry(byte[] key, byte[] value) {
    ByteBuffer k = ByteBuffer.wrap(key);
    long parent = k.getLong();
    byte[] name = Arrays.copyOfRange(key, 8, key.length);
    ByteBuffer v = ByteBuffer.wrap(value);
    return new Dentry(parent, name, v.getLong(), (v.get() & 0xff) << 12);
  }

  // ---- reads (local replica) ----

  public Inode getInode(long ino) {
    Long key = ino;
    int stripe = stripe(key);
    RecordCache.Cached<Inode> c = inodeCache.get(key);
    long gen = stripeGen.get(stripe);
    if (c != null && c.gen() == gen) {
      return c.value();
    }
    byte[] v = get(CF_INODES, inoKey(ino));
    if (v == null) {
      return null;
    }
    Inode i = Inode.fromBytes(v);
    remember(inodeCache, key, i, gen);
    return i;
  }

  public Dentry getDentry(long parent, byte[] name) {
    byte[] raw = dentryKey(parent, name);
    DentryKey key = new DentryKey(raw);
    int stripe = stripe(key);
    RecordCache.Cached<Dentry> c = dentryCache.get(key);
    long gen = stripeGen.get(stripe);
    if (c != null && c.gen() == gen) {
      return c.value();
    }
    byte[] v = get(CF_DENTRIES, raw);
    if (v == null) {
      return null;
    }
    Dentry d = decodeDentry(raw, v);
    remember(dentryCache, key, d, gen);
    return d;
  }

  /** What an inode holds beyond its fixed fields: inline content, symlink target, block list. */
  static int payloadBytes(Inode i) {
    return i.inlineData().length + i.symlinkTarget().length + 48 * i.blocks().size();
  }

  private static int stripe(Object key) {
    int h = key.hashCode();
    return (h ^ (h >>> 16)) & (STRIPES - 1);
  }

  /**
   * Caches a value read from RocksDB with the generation its key's stripe had before the read. It is
   * served only while the stripe still has that generation: a commit makes the generation of every
   * stripe it touches odd before it writes and even (and different) after, so a value read before or
   * during a commit is never served after it.
   */
  private static <K, V> void remember(RecordCache<K, V> cache, K key, V value, long gen) {
    if ((gen & 1) != 0) {
      return; // read while a commit was changing this stripe
    }
    cache.put(key, value, gen);
  }

  /** Cache occupancy: inode records, the bytes they carry, directory entries. */
  public record CacheStats(int inodes, long inodeBytes, int dentries) {}

  public CacheStats cacheStats() {
    return new CacheStats(inodeCache.size(), inodeCache.bytes(), dentryCache.size());
  }

  /** Stripes a change will touch, each once. */
  private static int[] stripes(Collection<Long> inos, Collection<DentryKey> dentryKeys) {
    int[] all = new int[inos.size() + dentryKeys.size()];
    int n = 0;
    for (Long k : inos) {
      all[n++] = stripe(k);
    }
    for (DentryKey k : dentryKeys) {
      all[n++] = stripe(k);
    }
    Arrays.sort(all);
    int distinct = 0;
    for (int i = 0; i < all.length; i++) {
      if (i == 0 || all[i] != all[i - 1]) {
        all[distinct++] = all[i];
      }
    }
    return Arrays.copyOf(all, distinct);
  }

  private void bump(int[] stripes) {
    if (stripes == null) {
      for (int i = 0; i < STRIPES; i++) {
        stripeGen.incrementAndGet(i);
      }
    } else {
      for (int i : stripes) {
        stripeGen.incrementAndGet(i);
      }
    }
  }

  /** Drops what the change replaced and closes it (generations even again). */
  private void endChange(int[] stripes, Collection<Long> inos, Collection<DentryKey> dentryKeys) {
    if (inos == null) {
      inodeCache.clear();
      dentryCache.clear();
    } else {
      inos.forEach(inodeCache::remove);
      dentryKeys.forEach(dentryCache::remove);
    }
    bump(stripes);
  }

  public byte[] getXattr(long ino, byte[] name) {
    return get(CF_XATTRS, dentryKey(ino, name));
  }

  public boolean isOrphan(long ino) {
    return get(CF_ORPHANS, inoKey(ino)) != null;
  }

  /** Lists children of {@code dir} whose name sorts after {@code after} (null = from the start). */
  public void listDir(long dir, byte[] after, Predicate<Dentry> consumer) {
    byte[] prefix = inoKey(dir);
    scan(CF_DENTRIES, it -> {
      if (after == null) {
        it.seek(prefix);
      } else {
        byte[] start = dentryKey(dir, after);
        it.seek(start);
        if (it.isValid() && Arrays.equals(it.key(), start)) {
          it.next();
        }
      }
      for (; it.isValid(); it.next()) {
        byte[] key = it.key();
        if (!startsWith(key, prefix)) {
          break;
        }
        if (!consumer.test(decodeDentry(key, it.value()))) {
          break;
        }
      }
    });
  }

  /** Lists the xattr names of an inode. */
  public List<byte[]> listXattrs(long ino) {
    List<byte[]> names = new ArrayList<>();
    byte[] prefix = inoKey(ino);
    scan(CF_XATTRS, it -> {
      for (it.seek(prefix); it.isValid() && startsWith(it.key(), prefix); it.next()) {
        names.add(Arrays.copyOfRange(it.key(), 8, it.key().length));
      }
    });
    return names;
  }

  /** Visits every directory entry in (parent, name) order until the visitor returns false (fsck). */
  public void forEachDentry(Predicate<Dentry> visitor) {
    scan(CF_DENTRIES, it -> {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        if (!visitor.test(decodeDentry(it.key(), it.value()))) {
          break;
        }
      }
    });
  }

  /** Test hook: deletes an inode record outside the log, as corruption would. */
  public void deleteInodeForTesting(long ino) {
    int[] stripes = stripes(List.of(ino), List.of());
    swap.readLock().lock();
    try {
      synchronized (changeLock) {
        bump(stripes);
        try {
          db.delete(handles.get(CF_INODES), inoKey(ino));
        } catch (RocksDBException e) {
          throw new IllegalStateException(e);
        } finally {
          endChange(stripes, List.of(ino), List.of());
        }
      }
    } finally {
      swap.readLock().unlock();
    }
  }

  /** Visits every inode in ino order (fsck, stats). */
  public void forEachInode(Predicate<Inode> visitor) {
    scan(CF_INODES, it -> {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        if (!visitor.test(Inode.fromBytes(it.value()))) {
          break;
        }
      }
    });
  }

  /** Every orphan inode number. */
  public List<Long> orphans() {
    List<Long> out = new ArrayList<>();
    scan(CF_ORPHANS, it -> {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        out.add(ByteBuffer.wrap(it.key()).getLong());
      }
    });
    return out;
  }

  /** Term and index of the last applied entry, {0, 0} for a fresh store. */
  public long[] appliedTermIndex() {
    byte[] v = get(CF_META, APPLIED_KEY);
    if (v == null) {
      return new long[] {0, -1};
    }
    ByteBuffer b = ByteBuffer.wrap(v);
    return new long[] {b.getLong(), b.getLong()};
  }

  // ---- writes ----

  /** Starts a transaction for one log entry. */
  public Txn begin() {
    return new Txn(this);
  }

  void commit(WriteBatch batch, long term, long index, Map<Long, Optional<Inode>> inos,
      Map<DentryKey, Optional<Dentry>> entries) {
    synchronized (changeLock) {
      int[] stripes = stripes(inos.keySet(), entries.keySet());
      bump(stripes);
      try {
        batch.put(meta, APPLIED_KEY, ByteBuffer.allocate(16).putLong(term).putLong(index).array());
        db.write(writeOptions, batch);
      } catch (RocksDBException e) {
        // A storage failure must stop this replica rather than let it diverge.
        throw new IllegalStateException("metadata write failed at index " + index, e);
      } finally {
        endChange(stripes, inos.keySet(), entries.keySet());
      }
      // Written: cache what the change wrote under the new generations (the lock keeps them).
      inos.forEach((k, v) -> v.ifPresent(i -> inodeCache.put(k, i, stripeGen.get(stripe(k)))));
      entries.forEach((k, v) -> v.ifPresent(d -> dentryCache.put(k, d, stripeGen.get(stripe(k)))));
    }
  }

  void put(WriteBatch batch, ColumnFamilyHandle cf, byte[] k, byte[] v) {
    try {
      batch.put(cf, k, v);
    } catch (RocksDBException e) {
      throw new IllegalStateException(e);
    }
  }

  void delete(WriteBatch batch, ColumnFamilyHandle cf, byte[] k) {
    try {
      batch.delete(cf, k);
    } catch (RocksDBException e) {
      throw new IllegalStateException(e);
    }
  }

  static final int CF_META = 0;
  static final int CF_INODES = 1;
  static final int CF_DENTRIES = 2;
  static final int CF_XATTRS = 3;
  static final int CF_ORPHANS = 4;

  /** Point read of one family, taking the handle inside the lock so a snapshot swap cannot close it under us. */
  byte[] get(int cf, byte[] key) {
    swap.readLock().lock();
    try {
      return db.get(handles.get(cf), readOptions, key);
    } catch (RocksDBException e) {
      throw new IllegalStateException("metadata read failed", e);
    } finally {
      swap.readLock().unlock();
    }
  }

  /** Runs an iteration over one family under the read lock. */
  private void scan(int cf, java.util.function.Consumer<RocksIterator> body) {
    swap.readLock().lock();
    try (RocksIterator it = db.newIterator(handles.get(cf), readOptions)) {
      body.accept(it);
    } finally {
      swap.readLock().unlock();
    }
  }

  RocksIterator iterator(ColumnFamilyHandle cf) {
    return db.newIterator(cf, readOptions);
  }

  /** Flushes memtables and writes a consistent checkpoint of every table into {@code target}. */
  public void checkpoint(Path target) throws IOException {
    try (FlushOptions fo = new FlushOptions().setWaitForFlush(true);
        Checkpoint cp = Checkpoint.create(db)) {
      db.flush(fo, handles);
      cp.createCheckpoint(target.toString());
    } catch (RocksDBException e) {
      throw new IOException("checkpoint failed: " + e.getMessage(), e);
    }
  }

  /** Approximate number of inodes. */
  public long estimateInodes() {
    swap.readLock().lock();
    try {
      return db.getLongProperty(inodes, "rocksdb.estimate-num-keys");
    } catch (RocksDBException e) {
      return -1;
    } finally {
      swap.readLock().unlock();
    }
  }

  static boolean startsWith(byte[] key, byte[] prefix) {
    if (key.length < prefix.length) {
      return false;
    }
    return Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
  }

  @Override
  public void close() {
    swap.writeLock().lock();
    try {
      closeDb();
    } finally {
      swap.writeLock().unlock();
    }
    writeOptions.close();
    readOptions.close();
    dbOptions.close();
    writeBuffers.close();
    cfOptions.close();
    cache.close();
  }

  /** Every owner's fcntl record locks on one inode. */
  public java.util.List<io.sharefs.meta.RecordLocks.Held> recordLocks(long ino) {
    swap.readLock().lock();
    try {
      return Txn.scanRecordLocks(this, ino);
    } finally {
      swap.readLock().unlock();
    }
  }

  /** Copies of each block the cluster keeps; 0 means every member holds every block. */
  public int replication() {
    byte[] v = get(CF_META, REPLICATION_KEY);
    return v == null ? 0 : ByteBuffer.wrap(v).getInt();
  }
}
