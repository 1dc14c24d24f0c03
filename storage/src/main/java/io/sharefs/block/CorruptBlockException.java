package io.sharefs.block;

/** A stored block whose bytes no longer match its hash. */
public final class CorruptBlockException extends RuntimeException {
  private final byte[] hash;

  public CorruptBlockException(byte[] hash, byte[] actual) {
    super("block " + BlockHash.hex(hash) + " is corrupt: its bytes hash to " + BlockHash.hex(actual));
    this.hash = hash;
  }

  public byte[] hash() {
    return hash.clone();
  }
}
