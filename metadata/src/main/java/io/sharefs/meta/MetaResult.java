package io.sharefs.meta;

/** The outcome of one mutation: an errno (0 = ok), the inode it produced or changed, and an inode whose last link it removed. */
public record MetaResult(int errno, Inode inode, long releasedIno) {
  public static MetaResult ok(Inode inode) {
    return new MetaResult(0, inode, 0);
  }

  public static MetaResult error(int errno) {
    return new MetaResult(errno, null, 0);
  }

  /** Returns the inode or throws the errno. */
  public Inode orThrow() {
    if (errno != 0) {
      throw new FsException(errno);
    }
    return inode;
  }
}
