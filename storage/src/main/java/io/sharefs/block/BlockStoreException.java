package io.sharefs.block;

/** The block store could not read or write (disk full, I/O error). */
public final class BlockStoreException extends RuntimeException {
  private final boolean noSpace;

  public BlockStoreException(String message, Throwable cause, boolean noSpace) {
    super(message, cause);
    this.noSpace = noSpace;
  }

  /** True if the failure was lack of disk space (maps to ENOSPC). */
  public boolean noSpace() {
    return noSpace;
  }
}
