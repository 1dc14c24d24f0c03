package io.sharefs.meta.ratis;

import java.nio.file.Path;
import org.apache.ratis.grpc.GrpcTlsConfig;
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
 * @param segmentBytes size at which a log segment is closed (only closed segments can be purged)
 * @param listeners ids among {@code peers} that do not vote
 * @param tls mutual TLS for every Raft connection (server, peers, client), or null for plaintext (tests only)
 * @param electionTimeoutMs the shortest election timeout (the longest is twice that); the leader sends a
 *     heartbeat every half of it
 */
public record RaftConfig(String nodeId, Map<String, String> peers, Path raftDir, long snapshotEvery,
    long writeTimeoutMs, long segmentBytes, java.util.Set<String> listeners, GrpcTlsConfig tls,
    long electionTimeoutMs) {
  public static final long DEFAULT_SEGMENT_BYTES = 8L << 20;
  public static final long DEFAULT_ELECTION_TIMEOUT_MS = 400;

  public RaftConfig(String nodeId, Map<String, String> peers, Path raftDir, long snapshotEvery, long writeTimeoutMs,
      long segmentBytes, java.util.Set<String> listeners, GrpcTlsConfig tls) {
    this(nodeId, peers, raftDir, snapshotEvery, writeTimeoutMs, segmentBytes, listeners, tls,
        DEFAULT_ELECTION_TIMEOUT_MS);
  }

  public RaftConfig(String nodeId, Map<String, String> peers, Path raftDir, long snapshotEvery, long writeTimeoutMs) {
    this(nodeId, peers, raftDir, snapshotEvery, writeTimeoutMs, DEFAULT_SEGMENT_BYTES, java.util.Set.of(), null);
  }

  public RaftConfig(String nodeId, Map<String, String> peers, Path raftDir, long snapshotEvery, long writeTimeoutMs,
      long segmentBytes) {
    this(nodeId, peers, raftDir, snapshotEvery, writeTimeoutMs, segmentBytes, java.util.Set.of(), null);
  }

  public static final long DEFAULT_SNAPSHOT_EVERY = 20_000;
  public static final long DEFAULT_WRITE_TIMEOUT_MS = 15_000;

  public RaftConfig {
    if (electionTimeoutMs < 50) {
      throw new IllegalArgumentException("election timeout must be at least 50 ms");
    }
    if (segmentBytes < 64 * 1024) {
      throw new IllegalArgumentException("log segments must be at least 64 KiB");
    }
    peers = new LinkedHashMap<>(peers);
    if (!peers.containsKey(nodeId)) {
      throw new IllegalArgumentException("node id " + nodeId + " is not among the peers " + peers.keySet());
    }
  }

  /** A one-peer group listening on {@code address}. */
  public static RaftConfig single(String nodeId, String address, Path raftDir) {
    return new RaftConfig(nodeId, Map.of(nodeId, address), raftDir, DEFAULT_SNAPSHOT_EVERY, DEFAULT_WRITE_TIMEOUT_MS);
  }

  /** The same configuration with every Raft connection over mutual TLS. */
  public RaftConfig withTls(GrpcTlsConfig tls) {
    return new RaftConfig(nodeId, peers, raftDir, snapshotEvery, writeTimeoutMs, segmentBytes, listeners, tls,
        electionTimeoutMs);
  }

  /** The same configuration with another shortest election timeout. */
  public RaftConfig withElectionTimeout(long ms) {
    return new RaftConfig(nodeId, peers, raftDir, snapshotEvery, writeTimeoutMs, segmentBytes, listeners, tls, ms);
  }

  public String address() {
    return peers.get(nodeId);
  }
}
