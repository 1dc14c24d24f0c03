package io.sharefs.node;

import com.sun.net.httpserver.HttpExchange;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.sharefs.block.grpc.CallErrors;
import io.sharefs.block.replica.ReplicatingBlockStore;
import io.sharefs.fuse.OpObserver;
import io.sharefs.meta.Errno;
import io.sharefs.meta.ratis.RaftMetaStore;
import io.sharefs.vfs.Vfs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * This node's Prometheus metrics, in a registry of its own (so in-process nodes never collide), and
 * the HTTP endpoint serving {@code /metrics}, {@code /healthz} (process alive) and {@code /readyz}
 * (mounted, in a group with a leader, applied index close to the commit index).
 */
public final class NodeMetrics implements OpObserver, CallErrors, AutoCloseable {
  /** Readiness bound on how far this replica may trail the commit index. */
  public static final long READY_MAX_LAG = 1000;

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Histogram opSeconds = Histogram.builder().name("sharefs_fuse_op_seconds")
      .help("FUSE operation latency").labelNames("op").classicOnly() // native buckets cost ~1.5 % of serving CPU
      .classicUpperBounds(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5)
      .register(registry);
  private final Counter opErrors = Counter.builder().name("sharefs_fuse_errors_total")
      .help("FUSE operations that returned an error").labelNames("op", "errno").register(registry);
  private final Counter grpcErrors = Counter.builder().name("sharefs_grpc_errors_total")
      .help("node-to-node and admin gRPC calls that ended with an error, by side, method and status")
      .labelNames("side", "method", "code").register(registry);
  private HTTPServer http;

  @Override
  public void error(String side, String method, String code) {
    grpcErrors.labelValues(side, method, code).inc();
  }

  /** Free space on the data directory's disk, and what the block store keeps of it for removals. */
  void bindDisk(java.nio.file.Path dataDir, long headroom) {
    GaugeWithCallback.builder().name("sharefs_data_disk_free_bytes")
        .help("bytes free for this node on the disk of its data directory").callback(cb -> {
          try {
            cb.call(java.nio.file.Files.getFileStore(dataDir).getUsableSpace());
          } catch (java.io.IOException e) {
            // no sample this scrape
          }
        }).register(registry);
    GaugeWithCallback.builder().name("sharefs_data_disk_headroom_bytes")
        .help("free bytes below which new blocks are refused with ENOSPC (kept for removals and metadata)")
        .callback(cb -> cb.call(headroom)).register(registry);
  }

  void bindFuse(io.sharefs.fuse.FuseAdapter adapter) {
    CounterWithCallback.builder().name("sharefs_fuse_noflush_opens_total")
        .help("read-only opens answered with FOPEN_NOFLUSH (their close() costs no FLUSH round trip)")
        .callback(cb -> cb.call(adapter.noFlushOpens())).register(registry);
    io.sharefs.fuse.KernelCache k = adapter.kernelCache();
    CounterWithCallback.builder().name("sharefs_fuse_invalidations_total")
        .help("notifications sent to the kernel to drop what it cached of a change made on another node: "
            + "inode (attributes and pages) or entry (a name)")
        .labelNames("kind").callback(cb -> {
          cb.call(k.inodeNotices(), "inode");
          cb.call(k.entryNotices(), "entry");
        }).register(registry);
    CounterWithCallback.builder().name("sharefs_fuse_invalidations_unknown_total")
        .help("invalidations the kernel answered with 'not cached' (it had already dropped the name or inode)")
        .callback(cb -> cb.call(k.unknownNotices())).register(registry);
    CounterWithCallback.builder().name("sharefs_fuse_invalidations_failed_total")
        .help("invalidations the kernel refused for another reason (logged); the attribute timeout still bounds "
            + "how stale a cached entry can be")
        .callback(cb -> cb.call(k.failedNotices())).register(registry);
    GaugeWithCallback.builder().name("sharefs_fuse_known_nodes")
        .help("inodes whose kernel node id this node knows (to invalidate what the kernel cached of them)")
        .callback(cb -> cb.call(k.knownNodes())).register(registry);
  }

  void bindCollector(BlockCollector c) {
    CounterWithCallback.builder().name("sharefs_block_gc_passes_total")
        .help("passes of the block collector over this node's blocks").callback(cb -> cb.call(c.passes.get()))
        .register(registry);
    CounterWithCallback.builder().name("sharefs_block_gc_skipped_total")
        .help("block collector passes skipped because the leader could not be reached")
        .callback(cb -> cb.call(c.skipped.get())).register(registry);
    CounterWithCallback.builder().name("sharefs_block_gc_dropped_blocks_total")
        .help("unreferenced blocks the collector dropped on this node").callback(cb -> cb.call(c.droppedBlocks.get()))
        .register(registry);
    CounterWithCallback.builder().name("sharefs_block_gc_dropped_bytes_total")
        .help("bytes of the unreferenced blocks the collector dropped on this node")
        .callback(cb -> cb.call(c.droppedBytes.get())).register(registry);
  }

  /** Peer reachability and round trip, as the probe last saw them. */
  void bindPeers(PeerProbe probe) {
    GaugeWithCallback.builder().name("sharefs_peer_reachable").help("1 if the peer's node port answered the last probe")
        .labelNames("peer").callback(cb -> probe.peers().forEach((id, s) -> cb.call(s.reachable() ? 1 : 0, id)))
        .register(registry);
    GaugeWithCallback.builder().name("sharefs_peer_rtt_seconds").help("round trip of the last probe to the peer")
        .labelNames("peer").callback(cb -> probe.peers().forEach((id, s) -> {
          if (s.reachable()) {
            cb.call(s.rttSeconds(), id);
          }
        })).register(registry);
  }

  /** Each operation's histogram child, looked up once (labelValues hashes a label list per call). */
  private final java.util.concurrent.ConcurrentHashMap<String, DistributionDataPoint> opChildren =
      new java.util.concurrent.ConcurrentHashMap<>();

  @Override
  public void observe(String op, long nanos, int errno) {
    DistributionDataPoint child = opChildren.get(op);
    if (child == null) {
      child = opChildren.computeIfAbsent(op, opSeconds::labelValues);
    }
    child.observe(nanos / 1e9);
    if (errno != 0) {
      opErrors.labelValues(op, Errno.name(errno)).inc();
    }
  }

  /** Registers the gauges that read the node's components on every scrape. */
  public void bind(RaftMetaStore meta, ReplicatingBlockStore blocks, Vfs vfs) {
    GaugeWithCallback.builder().name("sharefs_raft_role").help("1 for this node's current Raft role")
        .labelNames("role").callback(cb -> {
          String role = meta.status().role();
          for (String r : List.of("leader", "follower", "listener", "candidate", "starting")) {
            cb.call(r.equals(role) ? 1 : 0, r);
          }
        }).register(registry);
    GaugeWithCallback.builder().name("sharefs_raft_election_timeout_seconds")
        .help("shortest Raft election timeout (--election-timeout); heartbeats go every half of it")
        .callback(cb -> cb.call(meta.electionTimeoutMs() / 1000.0)).register(registry);
    GaugeWithCallback.builder().name("sharefs_raft_term").help("current Raft term")
        .callback(cb -> cb.call(meta.status().term())).register(registry);
    GaugeWithCallback.builder().name("sharefs_raft_commit_index").help("last committed log index known here")
        .callback(cb -> cb.call(meta.status().commitIndex())).register(registry);
    GaugeWithCallback.builder().name("sharefs_raft_applied_index").help("last log index applied to the local tables")
        .callback(cb -> cb.call(meta.status().appliedIndex())).register(registry);
    GaugeWithCallback.builder().name("sharefs_raft_apply_lag").help("commit index minus applied index")
        .callback(cb -> {
          var s = meta.status();
          cb.call(Math.max(0, s.commitIndex() - s.appliedIndex()));
        }).register(registry);
    CounterWithCallback.builder().name("sharefs_raft_leader_changes_total").help("leader changes seen")
        .callback(cb -> cb.call(meta.stateMachine().leaderChanges())).register(registry);
    GaugeWithCallback.builder().name("sharefs_raft_log_bytes").help("bytes of Raft log and snapshots on disk")
        .callback(cb -> cb.call(meta.logBytes())).register(registry);
    GaugeWithCallback.builder().name("sharefs_raft_members").help("members of the metadata group")
        .callback(cb -> cb.call(meta.status().members().size())).register(registry);
    GaugeWithCallback.builder().name("sharefs_meta_pending_ops")
        .help("metadata ops of this node queued or in flight (the write-behind backlog)")
        .callback(cb -> cb.call(vfs.pipeline().pending())).register(registry);
    CounterWithCallback.builder().name("sharefs_meta_entries_total").help("log entries this node proposed")
        .callback(cb -> cb.call(vfs.pipeline().entries())).register(registry);
    CounterWithCallback.builder().name("sharefs_meta_ops_total")
        .help("metadata ops this node proposed (ops / entries = mean group-commit size)")
        .callback(cb -> cb.call(vfs.pipeline().ops())).register(registry);
    CounterWithCallback.builder().name("sharefs_write_behind_failures_total")
        .help("write-behind ops that failed after their caller had gone on (reported by the next fsync/close)")
        .callback(cb -> cb.call(vfs.writeBehindFailures())).register(registry);
    GaugeWithCallback.builder().name("sharefs_meta_inodes").help("inodes in the local replica (estimate)")
        .callback(cb -> cb.call(meta.inodeCount())).register(registry);
    GaugeWithCallback.builder().name("sharefs_blocks").help("blocks in the local block store (estimate)")
        .callback(cb -> cb.call(blocks.blockCount())).register(registry);
    GaugeWithCallback.builder().name("sharefs_block_store_bytes").help("bytes in the local block store")
        .callback(cb -> cb.call(blocks.storedBytes())).register(registry);
    CounterWithCallback.builder().name("sharefs_block_store_syncs_total")
        .help("fsyncs of the block store's log: one per commit or pushed block that found unsynced blocks")
        .callback(cb -> cb.call(blocks.local().walSyncs())).register(registry);
    CounterWithCallback.builder().name("sharefs_block_cache_hits_total").help("block reads served locally")
        .callback(cb -> cb.call(blocks.localHits())).register(registry);
    CounterWithCallback.builder().name("sharefs_block_cache_misses_total").help("block reads not found locally")
        .callback(cb -> cb.call(blocks.localMisses())).register(registry);
    CounterWithCallback.builder().name("sharefs_block_peer_fetches_total").help("blocks fetched from peers")
        .callback(cb -> cb.call(blocks.fetchedFromPeers())).register(registry);
    GaugeWithCallback.builder().name("sharefs_block_pull_queue_length").help("blocks queued for background pull")
        .callback(cb -> cb.call(blocks.pullQueueLength())).register(registry);
    GaugeWithCallback.builder().name("sharefs_block_replication_pending").help("blocks written here still being pushed to a quorum")
        .callback(cb -> cb.call(blocks.replicationPending())).register(registry);
    GaugeWithCallback.builder().name("sharefs_replication_factor")
        .help("copies the cluster keeps of each block (0: every member)")
        .callback(cb -> cb.call(meta.tables().replication())).register(registry);
    GaugeWithCallback.builder().name("sharefs_block_under_replicated")
        .help("blocks written here still missing on one of their places (a push failed; re-pushed every 2 s)")
        .callback(cb -> cb.call(blocks.underReplicated())).register(registry);
    GaugeWithCallback.builder().name("sharefs_open_handles").help("open file handles")
        .callback(cb -> cb.call(vfs.openHandles())).register(registry);
    CounterWithCallback.builder().name("sharefs_barrier_calls_total")
        .help("close-to-open barriers asked for (strict opens and failed lookups)")
        .callback(cb -> cb.call(meta.barrierStats().calls())).register(registry);
    CounterWithCallback.builder().name("sharefs_barrier_rounds_total")
        .help("round trips to the leader sent for barriers (the rest were shared or answered locally)")
        .callback(cb -> cb.call(meta.barrierStats().rounds())).register(registry);
    GaugeWithCallback.builder().name("sharefs_open_lease_held")
        .help("1 while this node holds an open lease (--open-barrier lease): strict opens skip the barrier")
        .callback(cb -> cb.call(meta.openLeaseStats().held() ? 1 : 0)).register(registry);
    CounterWithCallback.builder().name("sharefs_open_lease_opens_total")
        .help("strict opens and failed lookups served under the open lease, without a round trip")
        .callback(cb -> cb.call(meta.openLeaseStats().opens())).register(registry);
    CounterWithCallback.builder().name("sharefs_open_lease_grants_total")
        .help("open leases and renewals the leader granted this node")
        .callback(cb -> cb.call(meta.openLeaseStats().grants())).register(registry);
    CounterWithCallback.builder().name("sharefs_open_lease_give_ups_total")
        .help("times this node gave its open lease up because it had not applied a committed change in time")
        .callback(cb -> cb.call(meta.openLeaseStats().giveUps())).register(registry);
    CounterWithCallback.builder().name("sharefs_open_lease_acks_total")
        .help("lease holders this node asked to apply its changes before acknowledging them")
        .callback(cb -> cb.call(meta.openLeaseStats().acks())).register(registry);
    CounterWithCallback.builder().name("sharefs_open_lease_revocations_total")
        .help("open leases this node revoked as leader for a committer that could not reach the holder")
        .callback(cb -> cb.call(meta.openLeaseStats().revocations())).register(registry);
    CounterWithCallback.builder().name("sharefs_meta_commits_total")
        .help("metadata commits this node waited for, by phase they went through: quorum (the leader "
            + "answered), apply (this replica applied it), leases (other open-lease holders were asked)")
        .labelNames("phase").callback(cb -> {
          var c = meta.commitStats();
          cb.call(c.commits(), "quorum");
          cb.call(c.applied(), "apply");
          cb.call(c.leaseWaits(), "leases");
        }).register(registry);
    CounterWithCallback.builder().name("sharefs_meta_commit_seconds_total")
        .help("time this node's commits spent: quorum (proposal until the leader's reply), apply (reply until "
            + "applied here), leases (reply until every other open-lease holder answered; overlaps apply)")
        .labelNames("phase").callback(cb -> {
          var c = meta.commitStats();
          cb.call(c.quorumNanos() / 1e9, "quorum");
          cb.call(c.applyNanos() / 1e9, "apply");
          cb.call(c.leaseNanos() / 1e9, "leases");
        }).register(registry);
    CounterWithCallback.builder().name("sharefs_barrier_wait_seconds_total")
        .help("time spent waiting in barriers")
        .callback(cb -> cb.call(meta.barrierStats().waitNanos() / 1e9)).register(registry);
    CounterWithCallback.builder().name("sharefs_barrier_lease_refusals_total")
        .help("barrier queries refused by this node as a leader without its lease")
        .callback(cb -> cb.call(meta.barrierStats().leaseRefusals())).register(registry);
    CounterWithCallback.builder().name("sharefs_barrier_read_index_fallbacks_total")
        .help("barriers completed through Ratis' read index because the leader's lease had lapsed")
        .callback(cb -> cb.call(meta.barrierStats().readIndexFallbacks())).register(registry);
    GaugeWithCallback.builder().name("sharefs_barrier_degraded")
        .help("1 while the leader is unreachable and opens serve the local replica, which may be stale")
        .callback(cb -> cb.call(meta.barrierStats().degraded() ? 1 : 0)).register(registry);
  }

  /** Serves the endpoint on host:port. */
  public void serve(String host, int port, RaftMetaStore meta, BooleanSupplier mounted) throws IOException {
    try {
      http = HTTPServer.builder().hostname(host).port(port).registry(registry).registerHealthHandler(false)
          .defaultHandler(ex -> health(ex, meta, mounted)).buildAndStart();
    } catch (IOException e) {
      throw new IOException("cannot serve metrics on " + host + ":" + port + ": " + e.getMessage(), e);
    }
  }

  private static void health(HttpExchange ex, RaftMetaStore meta, BooleanSupplier mounted) throws IOException {
    String path = ex.getRequestURI().getPath();
    int code;
    String body;
    if (path.equals("/healthz")) {
      code = 200;
      body = "ok\n";
    } else if (path.equals("/readyz")) {
      var s = meta.status();
      long lag = s.commitIndex() - s.appliedIndex();
      boolean ready = mounted.getAsBoolean() && !s.leaderId().isEmpty() && lag <= READY_MAX_LAG;
      code = ready ? 200 : 503;
      body = (ready ? "ready" : "not ready") + ": mounted=" + mounted.getAsBoolean() + " leader=" + s.leaderId()
          + " role=" + s.role() + " lag=" + lag + "\n";
    } else {
      code = 404;
      body = "try /metrics, /healthz or /readyz\n";
    }
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().add("Content-Type", "text/plain; charset=utf-8");
    ex.sendResponseHeaders(code, b.length);
    ex.getResponseBody().write(b);
    ex.close();
  }

  public PrometheusRegistry registry() {
    return registry;
  }

  @Override
  public void close() {
    if (http != null) {
      http.close();
    }
  }
}
