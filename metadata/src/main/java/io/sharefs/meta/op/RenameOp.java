package io.sharefs.meta.op;

import com.google.protobuf.ByteString;
import io.sharefs.meta.Dentry;
import io.sharefs.meta.Errno;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.MetaOpProto;
import io.sharefs.proto.RenameOpProto;

/** rename(2)/renameat2(2): move an entry, replacing or exchanging with an existing target. */
public final class RenameOp extends MetaOp {
  public static final int NOREPLACE = 1;
  public static final int EXCHANGE = 2;

  private final long srcParent;
  private final byte[] srcName;
  private final long dstParent;
  private final byte[] dstName;
  private final int flags;
  private final boolean keepIfOrphan;

  public RenameOp(long srcParent, byte[] srcName, long dstParent, byte[] dstName, int flags, boolean keepIfOrphan) {
    this.srcParent = srcParent;
    this.srcName = srcName;
    this.dstParent = dstParent;
    this.dstName = dstName;
    this.flags = flags;
    this.keepIfOrphan = keepIfOrphan;
  }

  static RenameOp fromProto(RenameOpProto p) {
    return new RenameOp(p.getSrcParent(), p.getSrcName().toByteArray(), p.getDstParent(),
        p.getDstName().toByteArray(), p.getFlags(), p.getKeepIfOrphan());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setRename(RenameOpProto.newBuilder().setSrcParent(srcParent).setSrcName(ByteString.copyFrom(srcName))
        .setDstParent(dstParent).setDstName(ByteString.copyFrom(dstName)).setFlags(flags)
        .setKeepIfOrphan(keepIfOrphan));
  }

  @Override
  public MetaResult apply(Txn txn) {
    if ((flags & ~(NOREPLACE | EXCHANGE)) != 0 || flags == (NOREPLACE | EXCHANGE)) {
      return MetaResult.error(Errno.EINVAL);
    }
    int bad = checkName(srcName);
    if (bad == 0) {
      bad = checkName(dstName);
    }
    if (bad != 0) {
      return MetaResult.error(bad == Errno.ENOENT ? Errno.ENOENT : bad == Errno.ENAMETOOLONG ? bad : Errno.EINVAL);
    }
    Inode sp = txn.getInode(srcParent);
    MetaResult e = requireDir(sp);
    if (e != null) {
      return e;
    }
    Inode dp = txn.getInode(dstParent);
    e = requireDir(dp);
    if (e != null) {
      return e;
    }
    Dentry sd = txn.getDentry(srcParent, srcName);
    if (sd == null) {
      return MetaResult.error(Errno.ENOENT);
    }
    Inode src = txn.getInode(sd.ino());
    if (src == null) {
      return MetaResult.error(Errno.EIO);
    }
    Dentry dd = txn.getDentry(dstParent, dstName);
    Inode dst = dd == null ? null : txn.getInode(dd.ino());
    if (dd != null && dst == null) {
      return MetaResult.error(Errno.EIO);
    }
    if ((flags & NOREPLACE) != 0 && dst != null) {
      return MetaResult.error(Errno.EEXIST);
    }
    if ((flags & EXCHANGE) != 0 && dst == null) {
      return MetaResult.error(Errno.ENOENT);
    }
    if (dst != null && dst.ino() == src.ino()) {
      return MetaResult.ok(src); // same file: POSIX says do nothing
    }
    // A directory cannot move below itself (nor, on exchange, can the target move below itself).
    if (src.isDir() && isAncestorOrSelf(txn, src.ino(), dstParent)) {
      return MetaResult.error(Errno.EINVAL);
    }
    if ((flags & EXCHANGE) != 0) {
      if (dst.isDir() && isAncestorOrSelf(txn, dst.ino(), srcParent)) {
        return MetaResult.error(Errno.EINVAL);
      }
      return exchange(txn, sp, dp, src, dst);
    }
    if (dst != null) {
      if (src.isDir() && !dst.isDir()) {
        return MetaResult.error(Errno.ENOTDIR);
      }
      if (!src.isDir() && dst.isDir()) {
        return MetaResult.error(Errno.EISDIR);
      }
      if (dst.isDir() && txn.hasChildren(dst.ino())) {
        return MetaResult.error(Errno.ENOTEMPTY);
      }
    }
    txn.deleteDentry(srcParent, srcName);
    txn.putDentry(dstParent, dstName, src.ino(), src.mode());
    long released = 0;
    int dstLinkDelta = 0;
    if (dst != null) {
      dropLink(txn, dst, keepIfOrphan);
      Inode after = txn.getInode(dst.ino());
      if (after == null || after.nlink() == 0) {
        released = dst.ino();
      }
      if (dst.isDir()) {
        dstLinkDelta--;
      }
    }
    Inode.Builder moved = src.toBuilder();
    moved.ctimeNs = nowNs;
    if (src.isDir()) {
      moved.parent = dstParent;
    }
    Inode movedInode = moved.build();
    txn.putInode(movedInode);
    boolean crossDir = srcParent != dstParent;
    if (crossDir) {
      touchDir(txn, txn.getInode(srcParent), src.isDir() ? -1 : 0);
      touchDir(txn, txn.getInode(dstParent), dstLinkDelta + (src.isDir() ? 1 : 0));
    } else {
      touchDir(txn, txn.getInode(srcParent), dstLinkDelta);
    }
    return new MetaResult(0, movedInode, released);
  }

  private MetaResult exchange(Txn txn, Inode sp, Inode dp, Inode src, Inode dst) {
    txn.putDentry(srcParent, srcName, dst.ino(), dst.mode());
    txn.putDentry(dstParent, dstName, src.ino(), src.mode());
    Inode.Builder a = src.toBuilder();
    a.ctimeNs = nowNs;
    Inode.Builder b = dst.toBuilder();
    b.ctimeNs = nowNs;
    if (src.isDir()) {
      a.parent = dstParent;
    }
    if (dst.isDir()) {
      b.parent = srcParent;
    }
    txn.putInode(a.build());
    txn.putInode(b.build());
    if (srcParent != dstParent) {
      int moveDirs = (src.isDir() ? 1 : 0) - (dst.isDir() ? 1 : 0);
      touchDir(txn, txn.getInode(srcParent), -moveDirs);
      touchDir(txn, txn.getInode(dstParent), moveDirs);
    } else {
      touchDir(txn, txn.getInode(srcParent), 0);
    }
    return MetaResult.ok(a.build());
  }

  /** True if {@code ancestor} is {@code dir} or one of its ancestors, walking directory parents. */
  private static boolean isAncestorOrSelf(Txn txn, long ancestor, long dir) {
    long cur = dir;
    for (int depth = 0; depth < 4096 && cur != 0; depth++) {
      if (cur == ancestor) {
        return true;
      }
      if (cur == Inode.ROOT_INO) {
        return false;
      }
      Inode i = txn.getInode(cur);
      if (i == null) {
        return false;
      }
      cur = i.parent();
    }
    return false;
  }

  @Override
  public String toString() {
    return "rename " + srcParent + "/" + new String(srcName) + " -> " + dstParent + "/" + new String(dstName)
        + (flags != 0 ? " flags=" + flags : "");
  }
}
