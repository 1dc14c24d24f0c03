package io.sharefs.meta.client;

import io.sharefs.meta.MetaResult;
import io.sharefs.meta.MetaStore;
import io.sharefs.meta.op.Applier;
import io.sharefs.meta.op.MetaOp;
import io.sharefs.meta.table.MetaTables;
import io.sharefs.meta.table.TablesReader;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A MetaStore without Raft: entries are encoded and applied in submission order on the local tables.
 * The same encode/apply path as the replicated store, for fast tests of everything above it.
 */
public final class LocalMetaStore extends TablesReader implements MetaStore {
  private final Applier applier;
  private long index;

  public LocalMetaStore(MetaTables tables) {
    super(tables);
    this.applier = new Applier(tables);
    this.index = Math.max(0, tables.appliedTermIndex()[1]);
    tables.ensureRoot(System.currentTimeMillis() * 1_000_000L);
  }

  public static LocalMetaStore open(Path dir) throws IOException {
    return new LocalMetaStore(MetaTables.open(dir));
  }

  @Override
  public synchronized MetaResult submit(MetaOp op) {
    // Round-trip the op and its result through their wire forms, as the log and Raft's replies do.
    return io.sharefs.meta.op.MetaOps.decodeResult(
        io.sharefs.meta.op.MetaOps.encodeResult(applier.apply(1, ++index, op.toProto().toByteArray())));
  }

  @Override
  public void close() {
    tables.close();
  }
}
