package io.sharefs.vfs;

/**
 * Tunables of the VFS layer.
 *
 * @param inlineThreshold files up to this size keep their bytes in the inode record (and so travel
 *     with the metadata log) instead of in blocks
 * @param maxDirtyBlocksPerFile dirty blocks one open file may hold in memory before they are sealed
 *     into the block store
 * @param closeToOpen take a read barrier with the metadata leader on open() (and on a failed
 *     lookup), so an open sees everything closed anywhere before; off: serve the local replica,
 *     which trails the leader by the replication delay
 * @param freshWindowNs a file changed less than this long ago is opened for direct I/O, so a size
 *     the kernel cached before another node changed it cannot cut reads short (0: never)
 * @param writeBehind creates, unlinks, mode/owner/time changes and close() answer at once with the result
 *     their op will have and commit in the background, in order, grouped with other ops; fsync waits
 *     for everything before it. Off: each of them waits for its commit.
 * @param xattrs extended attributes are served; off: every xattr request fails with ENOSYS, which
 *     the kernel remembers for the mount (callers then get EOPNOTSUPP) — it stops asking for
 *     {@code security.capability} before every write(), one FUSE round trip each
 */
public record VfsConfig(int inlineThreshold, int maxDirtyBlocksPerFile, boolean closeToOpen, long freshWindowNs,
    boolean writeBehind, boolean xattrs) {
  public VfsConfig(int inlineThreshold, int maxDirtyBlocksPerFile) {
    this(inlineThreshold, maxDirtyBlocksPerFile, true, 0, false, true);
  }

  public VfsConfig withWriteBehind(boolean on) {
    return new VfsConfig(inlineThreshold, maxDirtyBlocksPerFile, closeToOpen, freshWindowNs, on, xattrs);
  }

  public VfsConfig withXattrs(boolean on) {
    return new VfsConfig(inlineThreshold, maxDirtyBlocksPerFile, closeToOpen, freshWindowNs, writeBehind, on);
  }

  public static final int DEFAULT_INLINE_THRESHOLD = 16 * 1024;

  public static VfsConfig defaults() {
    return new VfsConfig(DEFAULT_INLINE_THRESHOLD, 16);
  }
}
