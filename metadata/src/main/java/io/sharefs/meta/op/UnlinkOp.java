package io.sharefs.meta.op;

import com.google.protobuf.ByteString;
import io.sharefs.meta.Dentry;
import io.sharefs.meta.Errno;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.MetaOpProto;
import io.sharefs.proto.UnlinkOpProto;

/** unlink(2) or rmdir(2) of one entry. */
public final class UnlinkOp extends MetaOp {
  private final long parent;
  private final byte[] name;
  private final boolean directory;
  private final boolean keepIfOrphan;

  public UnlinkOp(long parent, byte[] name, boolean directory, boolean keepIfOrphan) {
    this.parent = parent;
    this.name = name;
    this.directory = directory;
    this.keepIfOrphan = keepIfOrphan;
  }

  static UnlinkOp fromProto(UnlinkOpProto p) {
    return new UnlinkOp(p.getParent(), p.getName().toByteArray(), p.getDirectory(), p.getKeepIfOrphan());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setUnlink(UnlinkOpProto.newBuilder().setParent(parent).setName(ByteString.copyFrom(name))
        .setDirectory(directory).setKeepIfOrphan(keepIfOrphan));
  }

  @Override
  public MetaResult apply(Txn txn) {
    if (name.length > NAME_MAX) {
      return MetaResult.error(Errno.ENAMETOOLONG);
    }
    Inode dir = txn.getInode(parent);
    MetaResult notDir = requireDir(dir);
    if (notDir != null) {
      return notDir;
    }
    Dentry d = txn.getDentry(parent, name);
    if (d == null) {
      return MetaResult.error(Errno.ENOENT);
    }
    Inode victim = txn.getInode(d.ino());
    if (victim == null) {
      return MetaResult.error(Errno.EIO); // dangling entry: fsck's business
    }
    if (directory) {
      if (!victim.isDir()) {
        return MetaResult.error(Errno.ENOTDIR);
      }
      if (txn.hasChildren(victim.ino())) {
        return MetaResult.error(Errno.ENOTEMPTY);
      }
    } else if (victim.isDir()) {
      return MetaResult.error(Errno.EISDIR);
    }
    txn.deleteDentry(parent, name);
    dropLink(txn, victim, keepIfOrphan);
    touchDir(txn, dir, directory ? -1 : 0);
    Inode after = txn.getInode(victim.ino());
    boolean gone = after == null || after.nlink() == 0;
    return new MetaResult(0, after, gone ? victim.ino() : 0);
  }
}
