package io.sharefs.meta.op;

import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.ForgetOpProto;
import io.sharefs.proto.MetaOpProto;

/** Deletes an orphan inode (nlink 0) after its last open handle closed; a no-op otherwise. */
public final class ForgetOp extends MetaOp {
  private final long ino;

  public ForgetOp(long ino) {
    this.ino = ino;
  }

  static ForgetOp fromProto(ForgetOpProto p) {
    return new ForgetOp(p.getIno());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setForget(ForgetOpProto.newBuilder().setIno(ino));
  }

  @Override
  public MetaResult apply(Txn txn) {
    Inode cur = txn.getInode(ino);
    if (cur != null && cur.nlink() == 0) {
      txn.deleteInode(ino);
      return new MetaResult(0, null, ino);
    }
    return MetaResult.ok(cur);
  }
}
