package io.sharefs.meta.op;

import io.sharefs.meta.FsException;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.MetaTables;
import io.sharefs.meta.table.Txn;

/** Applies encoded log entries to the tables: one transaction, one atomic batch per entry. */
public final class Applier {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Applier.class);
  private final MetaTables tables;

  public Applier(MetaTables tables) {
    this.tables = tables;
  }

  /**
   * Applies the entry at {@code index}. A malformed entry is a user error (EINVAL) and still advances
   * the applied index on every replica alike; a storage failure throws and must stop the replica.
   */
  public MetaResult apply(long term, long index, byte[] entry) {
    return apply(term, index, entry, false, null);
  }

  /**
   * As {@link #apply(long, long, byte[])}, and tells {@code changes} (if not null) what the entry
   * wrote. If {@code proposedHere}, only the deletions of inodes: this node's kernel made the request
   * and knows the rest (unless the op says otherwise, as fsck's repairs do).
   */
  public MetaResult apply(long term, long index, byte[] entry, boolean proposedHere,
      io.sharefs.meta.ChangeListener changes) {
    MetaOp op;
    try {
      op = MetaOps.decode(entry);
    } catch (FsException e) {
      try (Txn txn = tables.begin()) {
        txn.commit(term, index);
      }
      return MetaResult.error(e.errno());
    }
    return apply(term, index, op, changes, !proposedHere || op.changesBehindTheKernel());
  }

  public MetaResult apply(long term, long index, MetaOp op) {
    return apply(term, index, op, null, false);
  }

  private MetaResult apply(long term, long index, MetaOp op, io.sharefs.meta.ChangeListener changes,
      boolean unknownToKernel) {
    try (Txn txn = tables.begin()) {
      txn.setIndex(index);
      MetaResult r = op.apply(txn);
      txn.commit(term, index);
      if (changes != null) {
        try {
          txn.reportChanges(changes, unknownToKernel);
        } catch (RuntimeException e) {
          // Only caches outside the tables hear of it: never a reason to stop the replica. The rest
          // of the entry's changes went unreported: everything may be stale.
          LOG.warn("change listener failed at index {}", index, e);
          try {
            changes.everythingChanged();
          } catch (RuntimeException again) {
            LOG.warn("change listener failed again at index {}", index, again);
          }
        }
      }
      return r;
    }
  }
}
