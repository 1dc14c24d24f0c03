package io.sharefs.fuse;

/** Receives the outcome of every FUSE callback (for metrics). */
public interface OpObserver {
  OpObserver NONE = (op, nanos, errno) -> {};

  /** {@code errno} is 0 on success, else the positive errno returned. */
  void observe(String op, long nanos, int errno);
}
