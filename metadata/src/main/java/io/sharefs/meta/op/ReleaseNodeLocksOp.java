package io.sharefs.meta.op;

import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.MetaOpProto;
import io.sharefs.proto.ReleaseNodeLocksOpProto;

/** Drops every lock a node held: proposed by the node itself at start, or when it is removed. */
public final class ReleaseNodeLocksOp extends MetaOp {
  private final String node;

  public ReleaseNodeLocksOp(String node) {
    this.node = node;
  }

  static ReleaseNodeLocksOp fromProto(ReleaseNodeLocksOpProto p) {
    return new ReleaseNodeLocksOp(p.getNode());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setReleaseNodeLocks(ReleaseNodeLocksOpProto.newBuilder().setNode(node));
  }

  @Override
  public MetaResult apply(Txn txn) {
    for (byte[] key : txn.lockKeysOf(node)) {
      txn.deleteLockKey(key);
    }
    return MetaResult.ok(null);
  }
}
