package io.sharefs.node;

import io.sharefs.vfs.VfsConfig;
import java.nio.file.Path;
import java.util.Map;

/**
 * Everything one node needs to start.
 *
 * @param dataDir holds the metadata tables, Raft log, block store and the lock file
 * @param mountPoint where to mount, or null for a node without a mount
 * @param nodeId this node's id in the metadata group
 * @param listen host:port of this node's Raft endpoint
 * @param peers initial voters id → host:port (this node included)
 * @param attrTimeout seconds the kernel may cache attributes
 * @param entryTimeout seconds the kernel may cache name lookups
 * @param kernelCache page-cache policy: "auto" (drop on open if mtime/size changed), "keep", "off"
 * @param allowNonEmpty mount over a directory that has entries (hides them)
 */
public record NodeConfig(Path dataDir, Path mountPoint, String nodeId, String listen, Map<String, String> peers,
    double attrTimeout, double entryTimeout, String kernelCache, boolean allowNonEmpty, VfsConfig vfs,
    long snapshotEvery) {}
