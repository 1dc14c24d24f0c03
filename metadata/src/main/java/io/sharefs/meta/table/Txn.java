package io.sharefs.meta.table;

import io.sharefs.meta.Dentry;
import io.sharefs.meta.Inode;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

/**
 * The writes of one log entry: reads see the entry's own earlier writes, and {@link #commit} puts
 * everything plus the applied index into RocksDB as a single atomic batch.
 */
public final class Txn implements AutoCloseable {
  private final MetaTables tables;
  private final WriteBatch batch = new WriteBatch();
  private final Map<Long, Optional<Inode>> inodes = new HashMap<>();
  private final Map<DentryKey, Optional<Dentry>> dentries = new HashMap<>();
  /** Whether each entry read or written existed before this log entry: only those a kernel can hold. */
  private final Map<DentryKey, Boolean> existed = new HashMap<>();
  private long nextInoBase;
  private int nextInoSeq;
  private long reservedNext = -1;

  Txn(MetaTables tables) {
    this.tables = tables;
  }

  /** Inode numbers derive from the log index: the same on every replica. */
  public void setIndex(long index) {
    this.nextInoBase = (index + 1) << 8;
    this.nextInoSeq = 0;
  }

  public long allocIno() {
    if (nextInoSeq >= 256) {
      throw new IllegalStateException("too many inodes in one entry");
    }
    return nextInoBase | nextInoSeq++;
  }

  public Inode getInode(long ino) {
    Optional<Inode> o = inodes.get(ino);
    if (o != null) {
      return o.orElse(null);
    }
    return tables.getInode(ino);
  }

  public void putInode(Inode inode) {
    inodes.put(inode.ino(), Optional.of(inode));
    tables.put(batch, tables.inodes, MetaTables.inoKey(inode.ino()), inode.toBytes());
  }

  /** Removes an inode with its xattrs and orphan mark. */
  public void deleteInode(long ino) {
    inodes.put(ino, Optional.empty());
    byte[] key = MetaTables.inoKey(ino);
    tables.delete(batch, tables.inodes, key);
    tables.delete(batch, tables.orphans, key);
    for (byte[] name : tables.listXattrs(ino)) {
      tables.delete(batch, tables.xattrs, MetaTables.dentryKey(ino, name));
    }
  }

  public Dentry getDentry(long parent, byte[] name) {
    DentryKey k = new DentryKey(MetaTables.dentryKey(parent, name));
    Optional<Dentry> o = dentries.get(k);
    if (o != null) {
      return o.orElse(null);
    }
    Dentry d = tables.getDentry(parent, name);
    existed.putIfAbsent(k, d != null);
    return d;
  }

  public void putDentry(long parent, byte[] name, long ino, int mode) {
    byte[] key = MetaTables.dentryKey(parent, name);
    DentryKey k = new DentryKey(key);
    noteExisted(k, parent, name);
    dentries.put(k, Optional.of(new Dentry(parent, name, ino, mode & 0170000)));
    tables.put(batch, tables.dentries, key, MetaTables.dentryValue(ino, mode));
  }

  public void deleteDentry(long parent, byte[] name) {
    byte[] key = MetaTables.dentryKey(parent, name);
    DentryKey k = new DentryKey(key);
    noteExisted(k, parent, name);
    dentries.put(k, Optional.empty());
    tables.delete(batch, tables.dentries, key);
  }

  private void noteExisted(DentryKey k, long parent, byte[] name) {
    if (!dentries.containsKey(k) && !existed.containsKey(k)) {
      existed.put(k, tables.getDentry(parent, name) != null);
    }
  }

  /** True if the directory has any entry, counting this entry's own writes. */
  public boolean hasChildren(long dir) {
    for (Map.Entry<DentryKey, Optional<Dentry>> e : dentries.entrySet()) {
      if (e.getValue().isPresent() && e.getValue().get().parent() == dir) {
        return true;
      }
    }
    byte[] prefix = MetaTables.inoKey(dir);
    try (RocksIterator it = tables.iterator(tables.dentries)) {
      for (it.seek(prefix); it.isValid() && MetaTables.startsWith(it.key(), prefix); it.next()) {
        Optional<Dentry> o = dentries.get(new DentryKey(it.key()));
        if (o == null || o.isPresent()) {
          return true;
        }
      }
    }
    return false;
  }

  public byte[] getXattr(long ino, byte[] name) {
    return tables.getXattr(ino, name);
  }

  public void putXattr(long ino, byte[] name, byte[] value) {
    tables.put(batch, tables.xattrs, MetaTables.dentryKey(ino, name), value);
  }

  public void deleteXattr(long ino, byte[] name) {
    tables.delete(batch, tables.xattrs, MetaTables.dentryKey(ino, name));
  }

  /** A lock holder: node and kernel lock owner, with its lock type. */
  public record LockHolder(String node, long owner, int type) {}

  private static final byte FLOCK = 'F';
  private static final byte RECORD = 'P';

  static byte[] lockKey(long ino, byte kind, String node, long owner) {
    byte[] n = node.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    return ByteBuffer.allocate(8 + 1 + n.length + 1 + 8).putLong(ino).put(kind).put(n).put((byte) 0).putLong(owner)
        .array();
  }

  private static byte[] lockPrefix(long ino, byte kind) {
    return ByteBuffer.allocate(9).putLong(ino).put(kind).array();
  }

  /** Holders of flock locks on one inode (as committed before this entry). */
  public java.util.List<LockHolder> lockHolders(long ino) {
    java.util.List<LockHolder> out = new java.util.ArrayList<>();
    byte[] prefix = lockPrefix(ino, FLOCK);
    try (RocksIterator it = tables.iterator(tables.locks)) {
      for (it.seek(prefix); it.isValid() && MetaTables.startsWith(it.key(), prefix); it.next()) {
        out.add(decodeLock(it.key(), it.value()));
      }
    }
    return out;
  }

  /** Every owner's record locks on one inode (as committed before this entry). */
  public java.util.List<io.sharefs.meta.RecordLocks.Held> recordLocks(long ino) {
    return tables.recordLocks(ino);
  }

  static java.util.List<io.sharefs.meta.RecordLocks.Held> scanRecordLocks(MetaTables tables, long ino) {
    java.util.List<io.sharefs.meta.RecordLocks.Held> out = new java.util.ArrayList<>();
    byte[] prefix = lockPrefix(ino, RECORD);
    try (RocksIterator it = tables.iterator(tables.locks)) {
      for (it.seek(prefix); it.isValid() && MetaTables.startsWith(it.key(), prefix); it.next()) {
        LockHolder h = decodeLock(it.key(), it.value());
        out.add(new io.sharefs.meta.RecordLocks.Held(h.node(), h.owner(), io.sharefs.meta.RecordLocks.decode(it.value())));
      }
    }
    return out;
  }

  public void putRecordLocks(long ino, String node, long owner, io.sharefs.meta.RecordLocks locks) {
    if (locks.isEmpty()) {
      tables.delete(batch, tables.locks, lockKey(ino, RECORD, node, owner));
    } else {
      tables.put(batch, tables.locks, lockKey(ino, RECORD, node, owner), locks.encode());
    }
  }

  /** Every lock held by {@code node}, as (ino, owner) keys. */
  public java.util.List<byte[]> lockKeysOf(String node) {
    java.util.List<byte[]> out = new java.util.ArrayList<>();
    try (RocksIterator it = tables.iterator(tables.locks)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        if (decodeLock(it.key(), it.value()).node().equals(node)) {
          out.add(it.key());
        }
      }
    }
    return out;
  }

  private static LockHolder decodeLock(byte[] key, byte[] value) {
    int end = key.length - 9;
    String node = new String(key, 9, end - 9, java.nio.charset.StandardCharsets.UTF_8);
    long owner = ByteBuffer.wrap(key, key.length - 8, 8).getLong();
    return new LockHolder(node, owner, value[0]);
  }

  public void putLock(long ino, String node, long owner, int type) {
    tables.put(batch, tables.locks, lockKey(ino, FLOCK, node, owner), new byte[] {(byte) type});
  }

  public void deleteLock(long ino, String node, long owner) {
    tables.delete(batch, tables.locks, lockKey(ino, FLOCK, node, owner));
  }

  public void deleteLockKey(byte[] key) {
    tables.delete(batch, tables.locks, key);
  }

  public void putReplication(int copies) {
    tables.put(batch, tables.meta, MetaTables.REPLICATION_KEY, ByteBuffer.allocate(4).putInt(copies).array());
  }

  /** The next unreserved inode number of the proposer-named range ({@code first} before any reservation). */
  public long nextReservedIno(long first) {
    if (reservedNext < 0) {
      byte[] v = tables.get(MetaTables.CF_META, MetaTables.RESERVED_INO_KEY);
      reservedNext = v == null ? first : ByteBuffer.wrap(v).getLong();
    }
    return reservedNext;
  }

  public void putNextReservedIno(long next) {
    reservedNext = next;
    tables.put(batch, tables.meta, MetaTables.RESERVED_INO_KEY, ByteBuffer.allocate(8).putLong(next).array());
  }

  public void markOrphan(long ino) {
    tables.put(batch, tables.orphans, MetaTables.inoKey(ino), new byte[0]);
  }

  public boolean isOrphan(long ino) {
    return tables.isOrphan(ino);
  }

  /**
   * Reports the inodes this entry deleted, and if {@code changes} also every inode it wrote or deleted
   * and every directory entry it replaced or deleted (not new names: no kernel holds those).
   */
  public void reportChanges(io.sharefs.meta.ChangeListener listener, boolean changes) {
    for (Map.Entry<Long, Optional<Inode>> e : inodes.entrySet()) {
      if (changes) {
        listener.inodeChanged(e.getKey());
      }
      if (e.getValue().isEmpty()) {
        listener.inodeDeleted(e.getKey());
      }
    }
    if (!changes) {
      return;
    }
    for (DentryKey k : dentries.keySet()) {
      if (!existed.getOrDefault(k, true)) {
        continue;
      }
      listener.entryChanged(ByteBuffer.wrap(k.raw).getLong(), java.util.Arrays.copyOfRange(k.raw, 8, k.raw.length));
    }
  }

  /** Writes everything and the applied index atomically. */
  public void commit(long term, long index) {
    tables.commit(batch, term, index, inodes, dentries);
  }

  @Override
  public void close() {
    batch.close();
  }
}
