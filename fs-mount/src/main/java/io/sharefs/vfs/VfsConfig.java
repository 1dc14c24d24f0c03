package io.sharefs.vfs;

/**
 * Tunables of the VFS layer.
 *
 * @param inlineThreshold files up to this size keep their bytes in the inode record (and so travel
 *     with the metadata log) instead of in blocks
 * @param maxDirtyBlocksPerFile dirty blocks one open file may hold in memory before they are sealed
 *     into the block store
 */
public record VfsConfig(int inlineThreshold, int maxDirtyBlocksPerFile) {
  public static final int DEFAULT_INLINE_THRESHOLD = 16 * 1024;

  public static VfsConfig defaults() {
    return new VfsConfig(DEFAULT_INLINE_THRESHOLD, 16);
  }
}
