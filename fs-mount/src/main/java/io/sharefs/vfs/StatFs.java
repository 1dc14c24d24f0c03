package io.sharefs.vfs;

/** statfs(2) figures, in units of {@link #blockSize}. */
public record StatFs(long blockSize, long blocks, long blocksFree, long blocksAvail, long files, long filesFree,
    int nameMax) {}
