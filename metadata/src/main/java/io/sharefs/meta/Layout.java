package io.sharefs.meta;

/** Fixed parameters of the on-disk format that every replica must agree on. */
public final class Layout {
  /** Maximum bytes per block; block i of a file covers [i*BLOCK_SIZE, (i+1)*BLOCK_SIZE). */
  public static final int BLOCK_SIZE = 1 << 20;

  /** Largest file size accepted (as ext4 with 4 KiB blocks). */
  public static final long MAX_FILE_SIZE = 16L << 40;

  private Layout() {}
}
