package io.sharefs.meta.table;

import java.util.Arrays;

/**
 * A directory entry's RocksDB key (parent inode, then name) as a map key: the hash is computed once,
 * where a wrapping ByteBuffer recomputed it byte by byte for the stripe and again for the cache on
 * every lookup of a path component.
 */
final class DentryKey {
  final byte[] raw;
  private final int hash;

  DentryKey(byte[] raw) {
    this.raw = raw;
    this.hash = Arrays.hashCode(raw);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DentryKey k && k.hash == hash && Arrays.equals(k.raw, raw);
  }

  @Override
  public int hashCode() {
    return hash;
  }
}
