package io.sharefs.block;

/** Content-addressed block storage: a block's id is the SHA-256 of its bytes. */
public interface BlockStore extends AutoCloseable {
  /** Stores {@code len} bytes of {@code data} from {@code off}; returns their hash (existing blocks are not rewritten). */
  byte[] put(byte[] data, int off, int len);

  /** The block's bytes, verified against the hash; null if absent; {@link CorruptBlockException} on mismatch. */
  byte[] get(byte[] hash);

  /** True if the block is stored here (not verified). */
  boolean has(byte[] hash);

  /** Removes the block if present. */
  void delete(byte[] hash);

  /**
   * Returns once each of these blocks has enough copies, each durable against power loss, for its
   * file to be committed.
   */
  default void awaitReplicated(java.util.List<byte[]> hashes) {}

  /** Makes every stored block durable against power loss. */
  void sync();

  /** Number of blocks stored (estimate). */
  long blockCount();

  /** Bytes of block data stored (estimate). */
  long storedBytes();

  @Override
  void close();
}
