package io.sharefs.meta.op;

import com.google.protobuf.ByteString;
import io.sharefs.meta.Errno;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.MetaOpProto;
import io.sharefs.proto.RemoveXattrOpProto;

/** removexattr(2). */
public final class RemoveXattrOp extends MetaOp {
  private final long ino;
  private final byte[] name;

  public RemoveXattrOp(long ino, byte[] name) {
    this.ino = ino;
    this.name = name;
  }

  static RemoveXattrOp fromProto(RemoveXattrOpProto p) {
    return new RemoveXattrOp(p.getIno(), p.getName().toByteArray());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setRemoveXattr(RemoveXattrOpProto.newBuilder().setIno(ino).setName(ByteString.copyFrom(name)));
  }

  @Override
  public MetaResult apply(Txn txn) {
    Inode cur = txn.getInode(ino);
    if (cur == null) {
      return MetaResult.error(Errno.ENOENT);
    }
    if (txn.getXattr(ino, name) == null) {
      return MetaResult.error(Errno.ENODATA);
    }
    txn.deleteXattr(ino, name);
    Inode.Builder b = cur.toBuilder();
    b.ctimeNs = nowNs;
    Inode out = b.build();
    txn.putInode(out);
    return MetaResult.ok(out);
  }
}
