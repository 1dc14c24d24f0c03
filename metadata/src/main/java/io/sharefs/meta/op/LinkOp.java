package io.sharefs.meta.op;

import com.google.protobuf.ByteString;
import io.sharefs.meta.Errno;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.LinkOpProto;
import io.sharefs.proto.MetaOpProto;

/** Adds a hard link to an existing non-directory inode. */
public final class LinkOp extends MetaOp {
  static final int LINK_MAX = 65000;
  private final long ino;
  private final long newParent;
  private final byte[] newName;

  public LinkOp(long ino, long newParent, byte[] newName) {
    this.ino = ino;
    this.newParent = newParent;
    this.newName = newName;
  }

  static LinkOp fromProto(LinkOpProto p) {
    return new LinkOp(p.getIno(), p.getNewParent(), p.getNewName().toByteArray());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setLink(LinkOpProto.newBuilder().setIno(ino).setNewParent(newParent).setNewName(ByteString.copyFrom(newName)));
  }

  @Override
  public MetaResult apply(Txn txn) {
    int bad = checkName(newName);
    if (bad != 0) {
      return MetaResult.error(bad);
    }
    Inode target = txn.getInode(ino);
    if (target == null || target.nlink() == 0) {
      return MetaResult.error(Errno.ENOENT);
    }
    if (target.isDir()) {
      return MetaResult.error(Errno.EPERM);
    }
    Inode dir = txn.getInode(newParent);
    MetaResult notDir = requireDir(dir);
    if (notDir != null) {
      return notDir;
    }
    if (txn.getDentry(newParent, newName) != null) {
      return MetaResult.error(Errno.EEXIST);
    }
    if (target.nlink() >= LINK_MAX) {
      return MetaResult.error(Errno.EMLINK);
    }
    Inode.Builder b = target.toBuilder();
    b.nlink++;
    b.ctimeNs = nowNs;
    Inode linked = b.build();
    txn.putInode(linked);
    txn.putDentry(newParent, newName, ino, linked.mode());
    touchDir(txn, dir, 0);
    return MetaResult.ok(linked);
  }
}
