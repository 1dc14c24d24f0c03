package io.sharefs.meta.op;

import io.sharefs.meta.Errno;
import io.sharefs.meta.FsException;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.BatchOpProto;
import io.sharefs.proto.MetaOpProto;
import java.util.ArrayList;
import java.util.List;

/**
 * Several independent ops in one log entry (group commit): applied in order, in the entry's single
 * atomic batch, each with its own result. An op's failure is its own result and does not stop the rest.
 */
public final class BatchOp extends MetaOp {
  /** Bounded so index-derived inode numbers (256 per entry) cannot run out within one entry. */
  public static final int MAX_OPS = 128;
  private final List<MetaOp> ops;

  public BatchOp(List<MetaOp> ops) {
    if (ops.size() > MAX_OPS) {
      throw new IllegalArgumentException("at most " + MAX_OPS + " ops in a batch, not " + ops.size());
    }
    this.ops = List.copyOf(ops);
  }

  static BatchOp fromProto(BatchOpProto p) {
    if (p.getOpsCount() > MAX_OPS) {
      throw new FsException(Errno.EINVAL, "batch of " + p.getOpsCount() + " ops");
    }
    List<MetaOp> ops = new ArrayList<>(p.getOpsCount());
    for (MetaOpProto inner : p.getOpsList()) {
      if (inner.getOpCase() == MetaOpProto.OpCase.BATCH) {
        throw new FsException(Errno.EINVAL, "nested batch");
      }
      ops.add(MetaOps.decode(inner));
    }
    return new BatchOp(ops);
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    BatchOpProto.Builder batch = BatchOpProto.newBuilder();
    for (MetaOp op : ops) {
      batch.addOps(op.toProto());
    }
    b.setBatch(batch);
  }

  @Override
  public boolean changesBehindTheKernel() {
    return ops.stream().anyMatch(MetaOp::changesBehindTheKernel);
  }

  @Override
  public MetaResult apply(Txn txn) {
    List<MetaResult> results = new ArrayList<>(ops.size());
    for (MetaOp op : ops) {
      results.add(op.apply(txn));
    }
    return MetaResult.batch(results);
  }
}
