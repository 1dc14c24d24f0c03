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
 * @param writeTimeoutMs how long a change waits for a quorum before failing with EIO
 * @param metrics host:port of the metrics/health endpoint, or null for none
 * @param tlsDir this node's TLS identity (see {@code sharefs ca}); null on a lone node (one is made in dataDir/tls)
 * @param segmentBytes Raft log segment size (closed segments are purged after snapshots)
 * @param join Raft address of any member of a running cluster to join (first start only), or null
 * @param maxVoters members beyond this many join as non-voting listeners
 * @param admin host:port of the admin service (TLS, node or admin certificates)
 * @param electionTimeoutMs shortest Raft election timeout (heartbeats every half of it)
 * @param openLeases ask the leader for open leases, under which strict opens skip the barrier round trip
 */
public record NodeConfig(Path dataDir, Path mountPoint, String nodeId, String listen, Map<String, String> peers,
    double attrTimeout, double entryTimeout, String kernelCache, boolean allowNonEmpty, VfsConfig vfs,
    long snapshotEvery, long writeTimeoutMs, String metrics, Path tlsDir, long segmentBytes, String join,
    int maxVoters, String admin, long electionTimeoutMs, boolean openLeases, long gcIntervalMs, long gcGraceMs) {

  /** The default metrics endpoint: the Raft port + 2 on the same host. */
  public static String defaultMetricsAddress(String raftAddress) {
    int colon = raftAddress.lastIndexOf(':');
    return raftAddress.substring(0, colon) + ":" + (Integer.parseInt(raftAddress.substring(colon + 1)) + 2);
  }


  /** The admin endpoint on the Raft address's host: the Raft port + 3. */
  public static String adminAddress(String raftAddress) {
    int colon = raftAddress.lastIndexOf(':');
    return raftAddress.substring(0, colon) + ":" + (Integer.parseInt(raftAddress.substring(colon + 1)) + 3);
  }

  /** The default admin endpoint a node listens on: localhost, the Raft port + 3. */
  public static String defaultAdminAddress(String raftAddress) {
    String a = adminAddress(raftAddress);
    return "127.0.0.1" + a.substring(a.lastIndexOf(':'));
  }

  /** The node-to-node gRPC port (blocks, and membership for joining nodes): the Raft port + 1. */
  public static String dataAddress(String raftAddress) {
    int colon = raftAddress.lastIndexOf(':');
    return raftAddress.substring(0, colon) + ":" + (Integer.parseInt(raftAddress.substring(colon + 1)) + 1);
  }
}
