package io.sharefs.meta.op;

import io.sharefs.meta.Errno;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.MetaOpProto;
import io.sharefs.proto.SetReplicationOpProto;

/** Sets how many copies of each block the cluster keeps (0: every member holds every block). */
public final class SetReplicationOp extends MetaOp {
  public static final int MAX = 15;
  private final int copies;

  public SetReplicationOp(int copies) {
    this.copies = copies;
  }

  static SetReplicationOp fromProto(SetReplicationOpProto p) {
    return new SetReplicationOp(p.getCopies());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setSetReplication(SetReplicationOpProto.newBuilder().setCopies(copies));
  }

  @Override
  public MetaResult apply(Txn txn) {
    if (copies < 0 || copies > MAX) {
      return MetaResult.error(Errno.EINVAL);
    }
    txn.putReplication(copies);
    return MetaResult.ok(null);
  }
}
