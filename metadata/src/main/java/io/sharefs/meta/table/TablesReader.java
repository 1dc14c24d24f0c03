package io.sharefs.meta.table;

import io.sharefs.meta.Dentry;
import io.sharefs.meta.Inode;
import java.util.List;
import java.util.function.Predicate;

/** The read half of a {@link io.sharefs.meta.MetaStore} served straight from the local tables. */
public abstract class TablesReader {
  protected final MetaTables tables;

  protected TablesReader(MetaTables tables) {
    this.tables = tables;
  }

  public Inode getInode(long ino) {
    return tables.getInode(ino);
  }

  public Dentry lookup(long parent, byte[] name) {
    return tables.getDentry(parent, name);
  }

  public void readdir(long dir, byte[] after, Predicate<Dentry> visitor) {
    tables.listDir(dir, after, visitor);
  }

  public byte[] getXattr(long ino, byte[] name) {
    return tables.getXattr(ino, name);
  }

  public List<byte[]> listXattrs(long ino) {
    return tables.listXattrs(ino);
  }

  public List<Long> orphans() {
    return tables.orphans();
  }

  public List<io.sharefs.meta.RecordLocks.Held> recordLocks(long ino) {
    return tables.recordLocks(ino);
  }

  public long inodeCount() {
    return tables.estimateInodes();
  }

  public MetaTables tables() {
    return tables;
  }
}
