package io.sharefs.meta;

import io.sharefs.meta.op.MetaOp;
import java.util.List;
import java.util.function.Predicate;

/** The metadata of one filesystem: reads from the local replica, mutations through the log. */
public interface MetaStore extends AutoCloseable {
  /** The inode, or null if it does not exist. */
  Inode getInode(long ino);

  /** The entry {@code name} in {@code parent}, or null. */
  Dentry lookup(long parent, byte[] name);

  /** Visits entries of {@code dir} after {@code after} (null = from the start) in name order until the visitor returns false. */
  void readdir(long dir, byte[] after, Predicate<Dentry> visitor);

  /** An extended attribute's value, or null. */
  byte[] getXattr(long ino, byte[] name);

  /** Names of the inode's extended attributes. */
  List<byte[]> listXattrs(long ino);

  /** Inodes at nlink 0 kept because a handle held them. */
  List<Long> orphans();

  /** Proposes a settled mutation and returns once it is applied on this replica. */
  MetaResult submit(MetaOp op);

  /**
   * Close-to-open barrier: returns once this replica has applied everything committed anywhere before
   * the call (a no-op where the local replica is authoritative).
   */
  default void syncWithLeader() {}

  /** Every owner's fcntl record locks on the inode, as this replica has applied them. */
  List<RecordLocks.Held> recordLocks(long ino);

  /** Approximate number of inodes. */
  long inodeCount();

  @Override
  void close();
}
