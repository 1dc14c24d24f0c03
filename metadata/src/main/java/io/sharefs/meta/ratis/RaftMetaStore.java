package io.sharefs.meta.ratis;

import io.sharefs.meta.Errno;
import io.sharefs.meta.FsException;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.MetaStore;
import io.sharefs.meta.op.MetaOp;
import io.sharefs.meta.op.MetaOps;
import io.sharefs.meta.table.MetaTables;
import io.sharefs.meta.table.TablesReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.grpc.GrpcFactory;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replicated MetaStore: a Ratis peer whose state machine applies entries into this node's
 * tables. Mutations are proposed through a Raft client and answered once applied locally
 * (read-your-writes); reads never leave the node.
 */
public final class RaftMetaStore extends TablesReader implements MetaStore {
  private static final Logger LOG = LoggerFactory.getLogger(RaftMetaStore.class);
  /** One fixed group id: a sharefs cluster is one metadata group. */
  public static final RaftGroupId GROUP_ID =
      RaftGroupId.valueOf(UUID.nameUUIDFromBytes("sharefs-metadata".getBytes(StandardCharsets.UTF_8)));

  private final RaftConfig config;
  private final MetaStateMachine stateMachine;
  private final RaftServer server;
  private final RaftClient client;
  private final RaftClient barrierClient;
  private final ClientId localClientId = ClientId.randomId();
  private final java.util.concurrent.atomic.AtomicLong callIds = new java.util.concurrent.atomic.AtomicLong();

  private RaftMetaStore(RaftConfig config, MetaTables tables) throws IOException {
    super(tables);
    this.config = config;
    tables.ensureRoot(System.currentTimeMillis() * 1_000_000L);
    this.stateMachine = new MetaStateMachine(tables);
    stateMachine.setLeaseTerm(() -> {
      long term = refuseLeaseForTesting ? -1 : leaseTerm();
      if (term < 0) {
        leaseRefusals.incrementAndGet();
      }
      return term;
    });
    RaftGroup group = group(config.peers(), config.listeners());
    RaftProperties props = properties(config);
    boolean fresh = !Files.isDirectory(config.raftDir()) || isEmpty(config.raftDir());
    this.server =
        RaftServer.newBuilder()
            .setServerId(RaftPeerId.valueOf(config.nodeId()))
            .setGroup(group)
            .setStateMachine(stateMachine)
            .setProperties(props)
            .setParameters(parameters(config))
            .setOption(fresh ? RaftStorage.StartupOption.FORMAT : RaftStorage.StartupOption.RECOVER)
            .build();
    server.start();
    this.client = newClient(props, group, RetryPolicies.retryUpToMaximumCountWithFixedSleep(
        (int) Math.max(1, config.writeTimeoutMs() / 200), TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)));
    // Barrier queries get a client of their own: not queued behind this node's writes in the ordered
    // stream, retried only to follow a leader change (the barrier itself retries within its deadline;
    // with no retry at all, the ordered stream stalls after a request that went to a non-leader), and
    // timed out with the barrier, so requests to an unreachable leader do not pile up.
    RaftProperties barrierProps = new RaftProperties(props);
    org.apache.ratis.client.RaftClientConfigKeys.Rpc.setRequestTimeout(barrierProps,
        TimeDuration.valueOf(BARRIER_TIMEOUT_MS, TimeUnit.MILLISECONDS));
    this.barrierClient = newClient(barrierProps, group, RetryPolicies.retryUpToMaximumCountWithFixedSleep(3,
        TimeDuration.valueOf(20, TimeUnit.MILLISECONDS)));
  }

  private RaftClient newClient(RaftProperties props, RaftGroup group, org.apache.ratis.retry.RetryPolicy retry) {
    return RaftClient.newBuilder()
        .setProperties(props)
        .setRaftGroup(group)
        .setLeaderId(null)
        .setClientId(ClientId.randomId())
        .setRetryPolicy(retry)
        .setClientRpc(new GrpcFactory(parameters(config)).newRaftClientRpc(ClientId.randomId(), props))
        .build();
  }

  /** Starts this node's peer over {@code tables} and returns the store. */
  public static RaftMetaStore start(RaftConfig config, MetaTables tables) throws IOException {
    return new RaftMetaStore(config, tables);
  }

  static RaftGroup group(Map<String, String> peers, java.util.Set<String> listeners) {
    List<RaftPeer> list = new ArrayList<>();
    peers.forEach((id, addr) -> list.add(peer(id, addr, !listeners.contains(id))));
    return RaftGroup.valueOf(GROUP_ID, list);
  }

  static RaftPeer peer(String id, String address, boolean voter) {
    return RaftPeer.newBuilder().setId(id).setAddress(address)
        .setStartupRole(voter ? RaftPeerRole.FOLLOWER : RaftPeerRole.LISTENER).build();
  }

  /** A member of the group as the admin API reports it. */
  public record Member(String id, String address, boolean voter) {}

  /** Current members, voters first. */
  public List<Member> memberList() {
    List<Member> out = new ArrayList<>();
    try {
      var conf = server.getDivision(GROUP_ID).getRaftConf();
      for (RaftPeer p : conf.getCurrentPeers(RaftPeerRole.FOLLOWER)) {
        out.add(new Member(p.getId().toString(), p.getAddress(), true));
      }
      for (RaftPeer p : conf.getCurrentPeers(RaftPeerRole.LISTENER)) {
        out.add(new Member(p.getId().toString(), p.getAddress(), false));
      }
    } catch (IOException e) {
      LOG.debug("no division yet", e);
    }
    return out;
  }

  /** Adds a member online (a no-op if it is already one); returns once the new configuration is committed. */
  public List<Member> addMember(Member m) throws IOException {
    List<Member> now = memberList();
    if (now.stream().anyMatch(x -> x.id().equals(m.id()))) {
      return now;
    }
    List<Member> next = new ArrayList<>(now);
    next.add(m);
    setMembers(next);
    return memberList();
  }

  /** Removes a member online. */
  public List<Member> removeMember(String id) throws IOException {
    List<Member> now = memberList();
    if (now.stream().noneMatch(x -> x.id().equals(id))) {
      throw new IOException("no member " + id);
    }
    List<Member> next = new ArrayList<>(now);
    next.removeIf(x -> x.id().equals(id));
    if (next.stream().noneMatch(Member::voter)) {
      throw new IOException("cannot remove the last voter");
    }
    setMembers(next);
    return memberList();
  }

  private void setMembers(List<Member> members) throws IOException {
    List<RaftPeer> voters = new ArrayList<>();
    List<RaftPeer> listeners = new ArrayList<>();
    for (Member m : members) {
      (m.voter() ? voters : listeners).add(peer(m.id(), m.address(), m.voter()));
    }
    RaftClientReply reply = client.admin().setConfiguration(voters, listeners);
    if (!reply.isSuccess()) {
      throw new IOException("membership change failed: " + reply.getException());
    }
  }

  /** Ratis parameters: TLS for the server, its peers and the clients when configured. */
  static Parameters parameters(RaftConfig c) {
    Parameters p = new Parameters();
    if (c.tls() != null) {
      GrpcConfigKeys.TLS.setConf(p, c.tls());
      GrpcConfigKeys.Server.setTlsConf(p, c.tls());
      GrpcConfigKeys.Client.setTlsConf(p, c.tls());
      GrpcConfigKeys.Admin.setTlsConf(p, c.tls());
    }
    return p;
  }

  static RaftProperties properties(RaftConfig c) {
    RaftProperties p = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(p, List.of(c.raftDir().toFile()));
    String addr = c.address();
    int colon = addr.lastIndexOf(':');
    GrpcConfigKeys.Server.setHost(p, addr.substring(0, colon));
    GrpcConfigKeys.Server.setPort(p, Integer.parseInt(addr.substring(colon + 1)));
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, c.snapshotEvery());
    RaftServerConfigKeys.Snapshot.setRetentionFileNum(p, 2);
    RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
    RaftServerConfigKeys.Log.setPurgeGap(p, (int) Math.min(1024, c.snapshotEvery()));
    RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf(c.segmentBytes()));
    RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
    RaftServerConfigKeys.Read.setLeaderLeaseEnabled(p, true);
    // Heap: a heap histogram of a node after 100,000 creates showed Ratis' retry cache (every reply
    // kept 60 s by default: ~100,000 replies, ~50 MB) as the largest tenant after the log cache.
    // Replies need to outlive only our client's retries, which stop at the write timeout.
    RaftServerConfigKeys.RetryCache.setExpiryTime(p,
        TimeDuration.valueOf(c.writeTimeoutMs() + 5_000, TimeUnit.MILLISECONDS));
    // Expert overrides for measurements: SHAREFS_RATIS_PROPERTIES="key=value,key=value".
    String extra = System.getenv("SHAREFS_RATIS_PROPERTIES");
    if (extra != null && !extra.isBlank()) {
      for (String kv : extra.split(",")) {
        String[] f = kv.split("=", 2);
        if (f.length == 2) {
          p.set(f[0].trim(), f[1].trim());
        }
      }
    }
    RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(c.electionTimeoutMs(), TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(2 * c.electionTimeoutMs(), TimeUnit.MILLISECONDS));
    return p;
  }

  private static boolean isEmpty(java.nio.file.Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.findAny().isEmpty();
    }
  }

  @Override
  public MetaResult submit(MetaOp op) {
    byte[] entry = op.toProto().toByteArray();
    Message msg = Message.valueOf(UnsafeByteOperations.unsafeWrap(entry));
    RaftClientReply reply;
    try {
      reply = submitLocally(msg);
      if (reply == null) {
        reply = client.async().send(msg).get(config.writeTimeoutMs(), TimeUnit.MILLISECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FsException(Errno.EIO, "interrupted while committing " + op.name());
    } catch (TimeoutException e) {
      throw new FsException(Errno.EIO, "no quorum: " + op.name() + " not committed within "
          + config.writeTimeoutMs() + " ms");
    } catch (ExecutionException e) {
      throw new FsException(Errno.EIO, "metadata commit failed: " + e.getCause(), e.getCause());
    }
    if (!reply.isSuccess()) {
      throw new FsException(Errno.EIO, "metadata commit failed: " + reply.getException());
    }
    try {
      if (!stateMachine.awaitApplied(reply.getLogIndex(), config.writeTimeoutMs())) {
        throw new FsException(Errno.EIO, "local replica did not apply index " + reply.getLogIndex());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FsException(Errno.EIO, "interrupted");
    }
    return MetaOps.decodeResult(reply.getMessage().getContent().toByteArray());
  }

  /** Until when open() skips the barrier because the leader could not be reached (reads stay local). */
  private volatile long barrierDegradedUntil;
  static final long BARRIER_TIMEOUT_MS = 1000;
  static final long BARRIER_BACKOFF_MS = 5000;
  static final long BARRIER_PROBE_MS = 50;

  private final Object barrierLock = new Object();
  private final java.util.concurrent.ExecutorService barrierExecutor =
      java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "read-barrier");
        t.setDaemon(true);
        return t;
      });
  private boolean barrierInFlight;
  private CompletableFuture<Boolean> nextBarrier;
  private final java.util.concurrent.atomic.AtomicLong barrierCalls = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong barrierRounds = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.LongAdder barrierNanos = new java.util.concurrent.atomic.LongAdder();
  private final java.util.concurrent.atomic.AtomicLong leaseRefusals = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong readIndexFallbacks = new java.util.concurrent.atomic.AtomicLong();
  private volatile boolean refuseLeaseForTesting;
  private final java.util.concurrent.atomic.AtomicBoolean probeInFlight = new java.util.concurrent.atomic.AtomicBoolean();

  /**
   * Close-to-open barrier: one round trip to the leader ({@link #askLeader}), after which this replica
   * has applied everything acknowledged anywhere before the call. A node cut off from the leader cannot do that;
   * it then serves its local (possibly stale) replica for a while instead of failing reads.
   *
   * <p>Shared by concurrent callers: a round that starts after a call began covers everything
   * committed before that call, so callers arriving while a round is in flight wait for the one round
   * started right after it instead of sending one each (many PHP workers opening files at once pay
   * about one round trip, not a queue of them).
   */
  @Override
  public void syncWithLeader() {
    long start = System.nanoTime();
    try {
      barrier();
    } finally {
      barrierNanos.add(System.nanoTime() - start);
    }
  }

  private void barrier() {
    barrierCalls.incrementAndGet();
    if (isLeader() || System.currentTimeMillis() < barrierDegradedUntil) {
      syncAlone();
      return;
    }
    CompletableFuture<Boolean> shared = null;
    synchronized (barrierLock) {
      if (barrierInFlight) {
        if (nextBarrier == null) {
          nextBarrier = new CompletableFuture<>();
        }
        shared = nextBarrier;
      } else {
        barrierInFlight = true;
      }
    }
    if (shared == null) {
      try {
        syncAlone();
      } finally {
        startSharedRound();
      }
      return;
    }
    try {
      if (shared.get(BARRIER_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
        return;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FsException(Errno.EIO, "interrupted");
    } catch (ExecutionException | TimeoutException e) {
      LOG.debug("shared read barrier failed; trying alone", e);
    }
    syncAlone(); // the shared round failed: retry (and degrade) as a lone caller would
  }

  /** Starts one round for everyone who queued behind the round that just ended, or clears the in-flight mark. */
  private void startSharedRound() {
    CompletableFuture<Boolean> waiters;
    synchronized (barrierLock) {
      waiters = nextBarrier;
      nextBarrier = null;
      if (waiters == null) {
        barrierInFlight = false;
        return;
      }
    }
    try {
      barrierRounds.incrementAndGet();
      // Completion runs on the client's threads: waiting for the local replica and sending the next
      // round happen on the barrier thread instead.
      askLeader().whenCompleteAsync((reply, e) -> {
        boolean ok = false;
        try {
          long index = e == null && reply.isSuccess() ? answeredIndex(reply) : -1;
          ok = index >= 0 && stateMachine.awaitApplied(index, BARRIER_TIMEOUT_MS); // refused: callers go alone
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
        } catch (RuntimeException re) {
          LOG.debug("shared read barrier answer unusable", re);
        }
        waiters.complete(ok);
        startSharedRound();
      }, barrierExecutor);
    } catch (RuntimeException e) {
      waiters.complete(false);
      startSharedRound();
    }
  }

  /**
   * What the close-to-open barrier did on this node.
   *
   * @param calls barriers asked for (opens and failed lookups in strict mode)
   * @param rounds round trips to the leader sent for them (calls - rounds were shared or answered locally)
   * @param waitNanos time callers spent in the barrier
   * @param leaseRefusals barrier queries this node refused as a leader without its lease
   * @param readIndexFallbacks barriers completed through Ratis' read index after such a refusal
   * @param degraded whether the leader is unreachable and opens serve the local replica
   */
  public record BarrierStats(long calls, long rounds, long waitNanos, long leaseRefusals, long readIndexFallbacks,
      boolean degraded) {}

  public BarrierStats barrierStats() {
    return new BarrierStats(barrierCalls.get(), barrierRounds.get(), barrierNanos.sum(), leaseRefusals.get(),
        readIndexFallbacks.get(), System.currentTimeMillis() < barrierDegradedUntil);
  }

  /** The shortest election timeout this peer runs with. */
  public long electionTimeoutMs() {
    return config.electionTimeoutMs();
  }

  /** Makes this peer, as a leader, refuse every barrier query as if its lease had lapsed. */
  void refuseLeaseForTesting(boolean refuse) {
    this.refuseLeaseForTesting = refuse;
  }

  private boolean isLeader() {
    try {
      return server.getDivision(GROUP_ID).getInfo().isLeader();
    } catch (IOException e) {
      return false;
    }
  }

  /** Query of the read-index fallback: answered wherever the linearizable read lands, no lease needed. */
  static final Message READ_INDEX_BARRIER = Message.valueOf("read-index");

  /**
   * One barrier round trip: the leader checks its lease ({@link #leaseHeld}) and answers with the index
   * of the last change it applied, which covers every write acknowledged anywhere before; this replica
   * then waits until it has applied that index. It learns that the change committed at once, from the
   * message that carries the metadata entry Ratis logs after each commit.
   *
   * <p>Not Ratis' linearizable read: that waits for the read index to be applied (on a follower) or
   * confirmed (on the leader); the read index is the commit index, which after a quiet spell names
   * that metadata entry, whose own commit followers learn only from the next heartbeat. Measured on a
   * 3-peer group in one JVM, a barrier right after a write: p90 210 ms that way, p99 25 ms this way.
   */
  private CompletableFuture<RaftClientReply> askLeader() {
    return barrierClient.async().sendReadOnlyNonLinearizable(Message.EMPTY);
  }

  /**
   * A leader's lease: it is ready (has applied everything committed before its term), and a majority of
   * the voters (itself included) answered it within three quarters of the shortest election timeout.
   * No follower that answered that recently can have voted for another leader yet, so nothing can have
   * been committed elsewhere that this leader has not applied. The margin (a quarter of the timeout,
   * 100 ms by default) covers the round trip, since the time counts from the answer, not the request.
   */
  boolean leaseHeld() {
    return leaseTerm() >= 0;
  }

  /** The term this peer leads in while it holds its lease ({@link #leaseHeld}), else -1. */
  long leaseTerm() {
    try {
      var division = server.getDivision(GROUP_ID);
      var info = division.getInfo();
      long term = info.getCurrentTerm();
      if (!info.isLeaderReady()) {
        return -1;
      }
      // Ages only grow until new answers arrive, so a lease found held stays held until the
      // majority's answers reach the lease length: reuse that instead of rebuilding the role
      // report (5-8 us) on every strict open of the leader's own node.
      Lease cached = lease;
      long now = System.nanoTime();
      if (cached != null && cached.term == term && now < cached.validUntilNanos) {
        return term;
      }
      long leaseMs = config.electionTimeoutMs() * 3 / 4;
      java.util.Map<String, Long> ageMs = new java.util.HashMap<>();
      ageMs.put(server.getId().toString(), 0L);
      for (var f : info.getRoleInfoProto().getLeaderInfo().getFollowerInfoList()) {
        ageMs.put(f.getId().getId().toStringUtf8(), f.getLastRpcElapsedTimeMs());
      }
      var conf = division.getRaftConf();
      long age = majorityAge(conf.getCurrentPeers(), ageMs);
      if (!conf.getPreviousPeers().isEmpty()) {
        age = Math.max(age, majorityAge(conf.getPreviousPeers(), ageMs));
      }
      if (age >= leaseMs || info.getCurrentTerm() != term) {
        return -1;
      }
      lease = new Lease(term, now + TimeUnit.MILLISECONDS.toNanos(leaseMs - age));
      return term;
    } catch (IOException e) {
      return -1;
    }
  }

  private record Lease(long term, long validUntilNanos) {}

  private volatile Lease lease;

  /** How long ago the voters that answered most recently, a majority of them, all answered (ms). */
  private static long majorityAge(java.util.Collection<RaftPeer> voters, java.util.Map<String, Long> ageMs) {
    long[] ages = voters.stream().mapToLong(p -> ageMs.getOrDefault(p.getId().toString(), Long.MAX_VALUE))
        .sorted().toArray();
    return ages.length == 0 ? Long.MAX_VALUE : ages[ages.length / 2];
  }

  private long currentTerm() {
    try {
      return server.getDivision(GROUP_ID).getInfo().getCurrentTerm();
    } catch (IOException e) {
      return Long.MAX_VALUE; // no division: accept no answer
    }
  }

  /**
   * The change index in a barrier answer, or -1 if the leader refused (no lease), the answer is
   * unreadable, or it comes from a term older than one this peer already knows (a deposed leader
   * that has not noticed yet, e.g. during a leadership transfer, which needs no election timeout).
   */
  private long answeredIndex(RaftClientReply reply) {
    try {
      long[] a = MetaStateMachine.barrierAnswer(reply.getMessage());
      return a == null || a[1] < currentTerm() ? -1 : a[0];
    } catch (RuntimeException e) {
      LOG.debug("unreadable barrier answer", e);
      return -1;
    }
  }

  /** A request handed straight to this peer's server, from this store's own client id. */
  private RaftClientRequest localRequest(Message msg, RaftClientRequest.Type type) {
    return RaftClientRequest.newBuilder()
        .setClientId(localClientId)
        .setServerId(server.getId())
        .setGroupId(GROUP_ID)
        .setCallId(callIds.incrementAndGet())
        .setMessage(msg)
        .setType(type)
        .build();
  }

  private void syncAlone() {
    // While the leader was recently unreachable, probe briefly instead of waiting the full second, so
    // reads stay fast when cut off and become fresh again as soon as the leader answers.
    boolean degraded = System.currentTimeMillis() < barrierDegradedUntil;
    long deadline = System.currentTimeMillis() + (degraded ? BARRIER_PROBE_MS : BARRIER_TIMEOUT_MS);
    String why = "";
    while (true) {
      try {
        if (isLeader()) {
          // A leader holding its lease has applied everything acknowledged anywhere (it applies
          // before it answers a writer, and was ready only after applying its predecessors' log);
          // without the lease it may have been deposed without noticing: ask Ratis' read index.
          if (leaseHeld() || barrierViaReadIndex(deadline)) {
            return;
          }
          why = "this leader holds no lease and its read index failed";
        } else {
          if (degraded && !probeInFlight.compareAndSet(false, true)) {
            return; // cut off, and a probe is already on its way: serve the local replica
          }
          barrierRounds.incrementAndGet();
          CompletableFuture<RaftClientReply> asked = askLeader();
          if (degraded) {
            asked.whenComplete((r, e) -> probeInFlight.set(false));
          }
          long left = Math.max(1, deadline - System.currentTimeMillis());
          RaftClientReply reply = asked.get(left, TimeUnit.MILLISECONDS);
          long index = reply.isSuccess() ? answeredIndex(reply) : -1;
          if (reply.isSuccess() && index < 0) {
            why = "the leader refused (no lease, or an older term)";
            if (barrierViaReadIndex(deadline)) {
              synchronisedAgain(degraded);
              return;
            }
          } else if (reply.isSuccess()) {
            if (stateMachine.awaitApplied(index, Math.max(1, deadline - System.currentTimeMillis()))) {
              synchronisedAgain(degraded);
              return;
            }
            why = "this replica did not apply index " + index + " in time";
          } else {
            why = String.valueOf(reply.getException());
          }
        }
      } catch (ExecutionException | TimeoutException e) {
        why = e.toString();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new FsException(Errno.EIO, "interrupted");
      }
      if (System.currentTimeMillis() >= deadline) {
        degrade(why);
        return;
      }
      try {
        Thread.sleep(20); // leader changing or replica installing a snapshot: try again shortly
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new FsException(Errno.EIO, "interrupted");
      }
    }
  }

  /**
   * The leader answered but would not vouch for itself (its lease lapsed: slow links, a busy machine,
   * a follower down). Ratis' read index confirms leadership with a heartbeat round instead: slower (it
   * may wait for a heartbeat), but fresh, so the barrier need not fall back to the local replica.
   */
  private boolean barrierViaReadIndex(long deadline) {
    try {
      RaftClientReply reply = server.submitClientRequestAsync(
              localRequest(READ_INDEX_BARRIER, RaftClientRequest.readRequestType()))
          .get(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
      if (reply.isSuccess()) {
        readIndexFallbacks.incrementAndGet();
        return true;
      }
      LOG.debug("read-index barrier failed: {}", reply.getException());
    } catch (IOException | ExecutionException | TimeoutException e) {
      LOG.debug("read-index barrier failed", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FsException(Errno.EIO, "interrupted");
    }
    return false;
  }

  private void synchronisedAgain(boolean wasDegraded) {
    if (wasDegraded) {
      barrierDegradedUntil = 0;
      LOG.info("metadata leader reachable again; reads are synchronised with it");
    }
  }

  private void degrade(String why) {
    if (barrierDegradedUntil < System.currentTimeMillis()) {
      LOG.warn("cannot reach the metadata leader ({}); serving reads from the local replica, which may be stale", why);
    }
    barrierDegradedUntil = System.currentTimeMillis() + BARRIER_BACKOFF_MS;
  }

  /** Current members as id → Raft address, and whether each votes. */
  public java.util.Map<String, String> members() {
    java.util.Map<String, String> out = new java.util.LinkedHashMap<>();
    try {
      var conf = server.getDivision(GROUP_ID).getRaftConf();
      for (RaftPeer p : conf.getAllPeers()) {
        out.put(p.getId().toString(), p.getAddress());
      }
    } catch (IOException e) {
      LOG.debug("no division yet", e);
    }
    return out;
  }

  /** Number of voting members in the current configuration. */
  public int voters() {
    try {
      return server.getDivision(GROUP_ID).getRaftConf().getCurrentPeers(RaftPeerRole.FOLLOWER).size();
    } catch (IOException e) {
      return config.peers().size();
    }
  }

  /** What this peer knows of the group right now (cheap: read on every metrics scrape). */
  public record Status(String nodeId, String role, long term, String leaderId, long commitIndex, long appliedIndex,
      java.util.Map<String, String> members) {}

  public Status status() {
    try {
      var d = server.getDivision(GROUP_ID);
      var info = d.getInfo();
      return new Status(config.nodeId(), info.getCurrentRole().name().toLowerCase(java.util.Locale.ROOT),
          info.getCurrentTerm(), info.getLeaderId() == null ? "" : info.getLeaderId().toString(),
          d.getRaftLog().getLastCommittedIndex(), stateMachine.appliedIndex(), members());
    } catch (IOException e) {
      return new Status(config.nodeId(), "starting", 0, "", -1, stateMachine.appliedIndex(), java.util.Map.of());
    }
  }

  /** Bytes of Raft log and snapshots on disk (walks the directory: not for hot paths). */
  public long logBytes() {
    try (var s = Files.walk(config.raftDir())) {
      return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    } catch (IOException | java.io.UncheckedIOException e) {
      return -1;
    }
  }

  public String nodeId() {
    return config.nodeId();
  }

  /**
   * When this peer leads, hands the request straight to the local server (no RPC to ourselves);
   * null when it does not lead or lost leadership meanwhile, so the caller goes through the client.
   */
  private RaftClientReply submitLocally(Message msg) throws InterruptedException, ExecutionException,
      TimeoutException {
    if (!isLeader()) {
      return null;
    }
    RaftClientRequest req = localRequest(msg, RaftClientRequest.writeRequestType());
    RaftClientReply reply;
    try {
      reply = server.submitClientRequestAsync(req).get(config.writeTimeoutMs(), TimeUnit.MILLISECONDS);
    } catch (IOException e) {
      return null;
    }
    if (reply.getNotLeaderException() != null || reply.getLeaderNotReadyException() != null) {
      return null;
    }
    return reply;
  }

  /** Waits until this peer's group has a leader; false on timeout. */
  public boolean awaitLeader(long timeoutMs) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (System.currentTimeMillis() < deadline) {
      try {
        if (server.getDivision(GROUP_ID).getInfo().getLeaderId() != null) {
          return true;
        }
      } catch (IOException e) {
        LOG.debug("division not ready", e);
      }
      Thread.sleep(20);
    }
    return false;
  }

  public MetaStateMachine stateMachine() {
    return stateMachine;
  }

  public RaftServer server() {
    return server;
  }

  @Override
  public void close() {
    barrierExecutor.shutdownNow();
    for (RaftClient c : List.of(client, barrierClient)) {
      try {
        c.close();
      } catch (IOException e) {
        LOG.warn("closing raft client", e);
      }
    }
    try {
      server.close();
    } catch (IOException e) {
      LOG.warn("closing raft server", e);
    }
    tables.close();
  }
}
