package io.sharefs.meta;

/** A filesystem error that maps to one errno; the FUSE adapter turns it into a negative return. */
public class FsException extends RuntimeException {
  private final int errno;

  public FsException(int errno) {
    this(errno, Errno.name(errno));
  }

  public FsException(int errno, String message) {
    super(message, null, false, false);
    this.errno = errno;
  }

  public FsException(int errno, String message, Throwable cause) {
    super(message, cause);
    this.errno = errno;
  }

  public int errno() {
    return errno;
  }
}
