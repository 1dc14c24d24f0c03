package io.sharefs.meta.op;

import io.sharefs.meta.Dentry;
import io.sharefs.meta.Errno;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.MetaOpProto;
import io.sharefs.proto.RepairOpProto;
import com.google.protobuf.ByteString;

/**
 * fsck's metadata repairs, each re-checked at apply time so a repair decided on a stale view does
 * nothing: drop an entry whose inode or directory is gone, give an unreachable inode a name (in lost+found), set
 * a link count to the number of names that lead to the inode.
 */
public final class RepairOp extends MetaOp {
  public static final int DROP_DENTRY = 1;
  public static final int ATTACH = 2;
  public static final int SET_NLINK = 3;

  private final int kind;
  private final long ino;
  private final long parent;
  private final byte[] name;
  private final int nlink;

  private RepairOp(int kind, long ino, long parent, byte[] name, int nlink) {
    this.kind = kind;
    this.ino = ino;
    this.parent = parent;
    this.name = name;
    this.nlink = nlink;
  }

  @Override
  public boolean changesBehindTheKernel() {
    return true;
  }

  public static RepairOp dropDentry(long parent, byte[] name) {
    return new RepairOp(DROP_DENTRY, 0, parent, name, 0);
  }

  public static RepairOp attach(long ino, long parent, byte[] name) {
    return new RepairOp(ATTACH, ino, parent, name, 0);
  }

  public static RepairOp setNlink(long ino, int nlink) {
    return new RepairOp(SET_NLINK, ino, 0, new byte[0], nlink);
  }

  static RepairOp fromProto(RepairOpProto p) {
    return new RepairOp(p.getKind(), p.getIno(), p.getParent(), p.getName().toByteArray(), p.getNlink());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setRepair(RepairOpProto.newBuilder().setKind(kind).setIno(ino).setParent(parent)
        .setName(ByteString.copyFrom(name)).setNlink(nlink));
  }

  @Override
  public MetaResult apply(Txn txn) {
    switch (kind) {
      case DROP_DENTRY -> {
        Dentry d = txn.getDentry(parent, name);
        if (d == null || (txn.getInode(d.ino()) != null && txn.getInode(parent) != null)) {
          return MetaResult.error(Errno.ESTALE);
        }
        txn.deleteDentry(parent, name);
        return MetaResult.ok(null);
      }
      case ATTACH -> {
        Inode i = txn.getInode(ino);
        Inode dir = txn.getInode(parent);
        MetaResult notDir = requireDir(dir);
        if (i == null || notDir != null) {
          return MetaResult.error(i == null ? Errno.ESTALE : notDir.errno());
        }
        if (txn.getDentry(parent, name) != null) {
          return MetaResult.error(Errno.EEXIST);
        }
        txn.putDentry(parent, name, ino, i.mode());
        Inode.Builder b = i.toBuilder();
        b.nlink = Math.max(i.nlink(), 1);
        if (i.isDir()) {
          b.parent = parent;
        }
        b.ctimeNs = nowNs;
        Inode out = b.build();
        txn.putInode(out);
        touchDir(txn, dir, i.isDir() ? 1 : 0);
        return MetaResult.ok(out);
      }
      case SET_NLINK -> {
        Inode i = txn.getInode(ino);
        if (i == null || nlink < 0) {
          return MetaResult.error(Errno.ESTALE);
        }
        Inode.Builder b = i.toBuilder();
        b.nlink = nlink;
        b.ctimeNs = nowNs;
        Inode out = b.build();
        txn.putInode(out);
        return MetaResult.ok(out);
      }
      default -> {
        return MetaResult.error(Errno.EINVAL);
      }
    }
  }
}
