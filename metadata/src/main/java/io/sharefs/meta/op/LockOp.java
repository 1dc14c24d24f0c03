package io.sharefs.meta.op;

import io.sharefs.meta.Errno;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.meta.table.Txn.LockHolder;
import io.sharefs.proto.LockOpProto;
import io.sharefs.proto.MetaOpProto;

/** flock(2), cluster-wide: take a shared or exclusive lock, or drop it; a conflict is EAGAIN. */
public final class LockOp extends MetaOp {
  public static final int UNLOCK = 0;
  public static final int SHARED = 1;
  public static final int EXCLUSIVE = 2;

  private final long ino;
  private final String node;
  private final long owner;
  private final int type;

  public LockOp(long ino, String node, long owner, int type) {
    this.ino = ino;
    this.node = node;
    this.owner = owner;
    this.type = type;
  }

  static LockOp fromProto(LockOpProto p) {
    return new LockOp(p.getIno(), p.getNode(), p.getOwner(), p.getType());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setLock(LockOpProto.newBuilder().setIno(ino).setNode(node).setOwner(owner).setType(type));
  }

  @Override
  public MetaResult apply(Txn txn) {
    if (type == UNLOCK) {
      txn.deleteLock(ino, node, owner);
      return MetaResult.ok(null);
    }
    if (type != SHARED && type != EXCLUSIVE) {
      return MetaResult.error(Errno.EINVAL);
    }
    Inode i = txn.getInode(ino);
    if (i == null) {
      return MetaResult.error(Errno.ENOENT);
    }
    for (LockHolder h : txn.lockHolders(ino)) {
      boolean self = h.node().equals(node) && h.owner() == owner;
      if (!self && (type == EXCLUSIVE || h.type() == EXCLUSIVE)) {
        return MetaResult.error(Errno.EAGAIN);
      }
    }
    txn.putLock(ino, node, owner, type);
    return MetaResult.ok(i);
  }
}
