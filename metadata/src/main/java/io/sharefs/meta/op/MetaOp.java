package io.sharefs.meta.op;

import io.sharefs.meta.Errno;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.MetaOpProto;

/**
 * One metadata mutation. Everything nondeterministic (time, caller, inode numbers via the log index)
 * is settled before the entry enters the log; {@link #apply} reads and writes only the transaction.
 */
public abstract class MetaOp {
  public static final int NAME_MAX = 255;

  protected long nowNs;
  protected int uid;
  protected int gid;

  /** Stamps the proposer's clock and caller; done once, before the entry is proposed. */
  public MetaOp settle(long nowNs, int uid, int gid) {
    this.nowNs = nowNs;
    this.uid = uid;
    this.gid = gid;
    return this;
  }

  /** Applies the op; user errors come back as the result's errno, never as exceptions. */
  public abstract MetaResult apply(Txn txn);

  /** Adds this op's oneof case to the envelope. */
  protected abstract void fill(MetaOpProto.Builder b);

  public final MetaOpProto toProto() {
    MetaOpProto.Builder b = MetaOpProto.newBuilder().setNowNs(nowNs).setUid(uid).setGid(gid);
    fill(b);
    return b.build();
  }

  /**
   * True if this op changes what a mounted node's kernel has cached even when that node proposed it:
   * ops proposed while answering a FUSE request are known to the kernel that sent it; others (fsck's
   * repairs) are not.
   */
  public boolean changesBehindTheKernel() {
    return false;
  }

  /** A short name for metrics and logs. */
  public String name() {
    return getClass().getSimpleName();
  }

  // ---- shared helpers for apply ----

  /** Errno for an invalid entry name, or 0. */
  public static int checkName(byte[] name) {
    if (name.length == 0) {
      return Errno.ENOENT;
    }
    if (name.length > NAME_MAX) {
      return Errno.ENAMETOOLONG;
    }
    if ((name.length == 1 && name[0] == '.') || (name.length == 2 && name[0] == '.' && name[1] == '.')) {
      return Errno.EINVAL;
    }
    for (byte c : name) {
      if (c == '/' || c == 0) {
        return Errno.EINVAL;
      }
    }
    return 0;
  }

  /** Bumps mtime and ctime of a directory after its entries changed; adjusts nlink by {@code dLink}. */
  protected Inode touchDir(Txn txn, Inode dir, int dLink) {
    Inode out = touched(dir, dLink);
    txn.putInode(out);
    return out;
  }

  /** {@code dir} after its entries changed: what apply stores, and what write-behind predicts. */
  public Inode touched(Inode dir, int dLink) {
    Inode.Builder b = dir.toBuilder();
    b.mtimeNs = nowNs;
    b.ctimeNs = nowNs;
    b.nlink += dLink;
    return b.build();
  }

  /** Drops one link of {@code victim}; at zero it is deleted, or kept as an orphan if held open. */
  protected void dropLink(Txn txn, Inode victim, boolean keepIfOrphan) {
    Inode after = afterDropLink(victim, keepIfOrphan);
    if (after == null) {
      txn.deleteInode(victim.ino());
    } else {
      txn.putInode(after);
      if (after.nlink() == 0) {
        txn.markOrphan(victim.ino());
      }
    }
  }

  /** {@code victim} with one link less, or null when that deletes it. */
  public Inode afterDropLink(Inode victim, boolean keepIfOrphan) {
    Inode.Builder b = victim.toBuilder();
    b.ctimeNs = nowNs;
    b.nlink = victim.isDir() ? 0 : victim.nlink() - 1;
    if (b.nlink > 0 || (keepIfOrphan && !victim.isDir())) {
      return b.build();
    }
    return null;
  }

  protected static MetaResult requireDir(Inode dir) {
    if (dir == null) {
      return MetaResult.error(Errno.ENOENT);
    }
    if (!dir.isDir()) {
      return MetaResult.error(Errno.ENOTDIR);
    }
    if (dir.nlink() == 0) {
      return MetaResult.error(Errno.ENOENT); // removed directory
    }
    return null;
  }
}
