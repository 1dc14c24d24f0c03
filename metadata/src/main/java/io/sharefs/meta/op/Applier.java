package io.sharefs.meta.op;

import io.sharefs.meta.FsException;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.MetaTables;
import io.sharefs.meta.table.Txn;

/** Applies encoded log entries to the tables: one transaction, one atomic batch per entry. */
public final class Applier {
  private final MetaTables tables;

  public Applier(MetaTables tables) {
    this.tables = tables;
  }

  /**
   * Applies the entry at {@code index}. A malformed entry is a user error (EINVAL) and still advances
   * the applied index on every replica alike; a storage failure throws and must stop the replica.
   */
  public MetaResult apply(long term, long index, byte[] entry) {
    MetaOp op;
    try {
      op = MetaOps.decode(entry);
    } catch (FsException e) {
      try (Txn txn = tables.begin()) {
        txn.commit(term, index);
      }
      return MetaResult.error(e.errno());
    }
    return apply(term, index, op);
  }

  public MetaResult apply(long term, long index, MetaOp op) {
    try (Txn txn = tables.begin()) {
      txn.setIndex(index);
      MetaResult r = op.apply(txn);
      txn.commit(term, index);
      return r;
    }
  }
}
