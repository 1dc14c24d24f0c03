package io.sharefs.meta;

import java.util.Arrays;

/**
 * One block of a file's content. Block i covers bytes [i*blockSize, (i+1)*blockSize); only the first
 * {@code length} bytes come from the stored block, the rest of the range reads as zeros. An empty
 * hash is a hole.
 */
public record BlockRef(byte[] hash, int length) {
  public static final BlockRef HOLE = new BlockRef(new byte[0], 0);

  public boolean isHole() {
    return hash.length == 0;
  }

  public BlockRef withLength(int newLength) {
    return isHole() || newLength <= 0 ? HOLE : new BlockRef(hash, Math.min(length, newLength));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BlockRef b && b.length == length && Arrays.equals(b.hash, hash);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(hash) * 31 + length;
  }

  @Override
  public String toString() {
    return isHole() ? "hole" : HexFormatHolder.HEX.formatHex(hash, 0, 6) + ":" + length;
  }

  private static final class HexFormatHolder {
    static final java.util.HexFormat HEX = java.util.HexFormat.of();
  }
}
