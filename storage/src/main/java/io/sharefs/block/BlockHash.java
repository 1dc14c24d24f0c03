package io.sharefs.block;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 hashing of blocks. */
public final class BlockHash {
  public static final int LENGTH = 32;
  private static final ThreadLocal<MessageDigest> DIGEST = ThreadLocal.withInitial(BlockHash::newDigest);

  private BlockHash() {}

  public static byte[] of(byte[] data, int off, int len) {
    MessageDigest md = DIGEST.get();
    md.reset();
    md.update(data, off, len);
    return md.digest();
  }

  public static byte[] of(byte[] data) {
    return of(data, 0, data.length);
  }

  public static String hex(byte[] hash) {
    return HexFormat.of().formatHex(hash);
  }

  private static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }
}
