package io.sharefs.meta.ratis;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How one node takes part in the metadata group.
 *
 * @param nodeId this node's id in the group
 * @param peers every initial voter, id → host:port (includes this node)
 * @param raftDir where the Raft log and snapshots live
 * @param snapshotEvery entries between automatic snapshots (after which the log is purged)
 * @param writeTimeoutMs how long a mutation may wait for a quorum before failing with EIO
 */
public record RaftConfig(String nodeId, Map<String, String> peers, Path raftDir, long snapshotEvery,
    long writeTimeoutMs) {
  public static final long DEFAULT_SNAPSHOT_EVERY = 20_000;
  public static final long DEFAULT_WRITE_TIMEOUT_MS = 15_000;

  public RaftConfig {
    peers = new LinkedHashMap<>(peers);
    if (!peers.containsKey(nodeId)) {
      throw new IllegalArgumentException("node id " + nodeId + " is not among the peers " + peers.keySet());
    }
  }

  /** A one-peer group listening on {@code address}. */
  public static RaftConfig single(String nodeId, String address, Path raftDir) {
    return new RaftConfig(nodeId, Map.of(nodeId, address), raftDir, DEFAULT_SNAPSHOT_EVERY, DEFAULT_WRITE_TIMEOUT_MS);
  }

  public String address() {
    return peers.get(nodeId);
  }
}
