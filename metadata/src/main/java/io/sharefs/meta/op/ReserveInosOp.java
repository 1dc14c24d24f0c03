package io.sharefs.meta.op;

import io.sharefs.meta.Errno;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.MetaOpProto;
import io.sharefs.proto.ReserveInosOpProto;

/**
 * Hands a proposer {@code count} inode numbers of its own. They come from a range ({@link #FIRST}
 * upwards) that inode numbers derived from log indexes never reach, so a node that names the inodes
 * it creates knows each create's result before the entry commits. Numbers a node reserved but did not
 * use (it restarted) are simply never used.
 */
public final class ReserveInosOp extends MetaOp {
  /** First proposer-named inode number: index-derived numbers would need 2^54 log entries to get here. */
  public static final long FIRST = 1L << 62;
  public static final int MAX_COUNT = 1 << 16;
  private final int count;

  public ReserveInosOp(int count) {
    this.count = count;
  }

  static ReserveInosOp fromProto(ReserveInosOpProto p) {
    return new ReserveInosOp(p.getCount());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setReserveInos(ReserveInosOpProto.newBuilder().setCount(count));
  }

  /** Result value: the first number of the range. */
  @Override
  public MetaResult apply(Txn txn) {
    if (count <= 0 || count > MAX_COUNT) {
      return MetaResult.error(Errno.EINVAL);
    }
    long first = txn.nextReservedIno(FIRST);
    txn.putNextReservedIno(first + count);
    return MetaResult.value(first);
  }
}
