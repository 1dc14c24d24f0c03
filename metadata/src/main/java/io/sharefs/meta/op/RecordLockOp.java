package io.sharefs.meta.op;

import io.sharefs.meta.Errno;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.RecordLocks;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.MetaOpProto;
import io.sharefs.proto.RecordLockOpProto;

/**
 * fcntl(2) record locks, cluster-wide: sets bytes start..end of one owner's locks on a file to read,
 * write or unlocked. A range another owner holds incompatibly makes the whole request fail with
 * EAGAIN and change nothing (POSIX: F_SETLK is all or nothing).
 */
public final class RecordLockOp extends MetaOp {
  private final long ino;
  private final String node;
  private final long owner;
  private final int pid;
  private final int type;
  private final long start;
  private final long end;

  public RecordLockOp(long ino, String node, long owner, int pid, int type, long start, long end) {
    this.ino = ino;
    this.node = node;
    this.owner = owner;
    this.pid = pid;
    this.type = type;
    this.start = start;
    this.end = end;
  }

  static RecordLockOp fromProto(RecordLockOpProto p) {
    return new RecordLockOp(p.getIno(), p.getNode(), p.getOwner(), p.getPid(), p.getType(), p.getStart(), p.getEnd());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setRecordLock(RecordLockOpProto.newBuilder().setIno(ino).setNode(node).setOwner(owner).setPid(pid)
        .setType(type).setStart(start).setEnd(end));
  }

  @Override
  public MetaResult apply(Txn txn) {
    if (type != RecordLocks.READ && type != RecordLocks.WRITE && type != RecordLocks.UNLOCK) {
      return MetaResult.error(Errno.EINVAL);
    }
    if (start < 0 || end < start) {
      return MetaResult.error(Errno.EINVAL);
    }
    Inode i = txn.getInode(ino);
    if (i == null) {
      return MetaResult.error(Errno.ENOENT);
    }
    RecordLocks mine = RecordLocks.none(pid);
    for (RecordLocks.Held h : txn.recordLocks(ino)) {
      if (h.node().equals(node) && h.owner() == owner) {
        mine = h.locks();
      } else if (type != RecordLocks.UNLOCK && h.locks().conflict(start, end, type) != null) {
        return MetaResult.error(Errno.EAGAIN);
      }
    }
    txn.putRecordLocks(ino, node, owner, mine.set(start, end, type, pid));
    return MetaResult.ok(i);
  }
}
