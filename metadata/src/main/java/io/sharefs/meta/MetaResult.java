package io.sharefs.meta;

import java.util.List;

/**
 * The outcome of one mutation: an errno (0 = ok), the inode it produced or changed, an inode whose last
 * link it removed, a number some ops return (the first inode of a reserved range), and for a batch
 * entry the result of each of its ops. Results that crossed the wire (every store but an in-process
 * apply) carry the inode without its inline content ({@link io.sharefs.meta.op.MetaOps#encodeResult}):
 * read content from the replica.
 */
public record MetaResult(int errno, Inode inode, long releasedIno, long value, List<MetaResult> batch) {
  public MetaResult(int errno, Inode inode, long releasedIno) {
    this(errno, inode, releasedIno, 0, List.of());
  }

  public static MetaResult ok(Inode inode) {
    return new MetaResult(0, inode, 0);
  }

  public static MetaResult error(int errno) {
    return new MetaResult(errno, null, 0);
  }

  public static MetaResult value(long value) {
    return new MetaResult(0, null, 0, value, List.of());
  }

  public static MetaResult batch(List<MetaResult> results) {
    return new MetaResult(0, null, 0, 0, List.copyOf(results));
  }

  /** Returns the inode or throws the errno. */
  public Inode orThrow() {
    if (errno != 0) {
      throw new FsException(errno);
    }
    return inode;
  }
}
