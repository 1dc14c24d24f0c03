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
    stateMachine.setLeaseInheritance(TimeUnit.MILLISECONDS.toNanos(config.electionTimeoutMs() * 3 / 4),
        this::otherMembers);
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
    // Entries carry small files' content (up to the inline threshold): Ratis' default of six cached
    // segments (up to 200 MB) does not fit a 256 MiB heap. Followers that fall further behind are
    // served from the segment files.
    RaftServerConfigKeys.Log.setSegmentCacheNumMax(p, 2);
    RaftServerConfigKeys.Log.setSegmentCacheSizeMax(p, SizeInBytes.valueOf("32MB"));
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
    long proposed = System.nanoTime();
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
    long replied = System.nanoTime();
    commits.replied(replied - proposed);
    var answer = MetaOps.parseReply(reply.getMessage().getContent().toByteArray());
    // The holders are asked before this replica has applied the entry: both learn of its commit from
    // the leader at about the same time, so the two waits overlap instead of adding up.
    Map<String, CompletableFuture<Boolean>> asked = answer.getLeaseHoldersCount() > 0
        ? askLeaseHolders(answer.getLeaseHoldersList(), reply.getLogIndex(), op.name()) : Map.of();
    if (!asked.isEmpty()) {
      CompletableFuture.allOf(asked.values().toArray(CompletableFuture[]::new))
          .whenComplete((v, e) -> commits.leases(System.nanoTime() - replied));
    }
    try {
      if (!stateMachine.awaitApplied(reply.getLogIndex(), config.writeTimeoutMs())) {
        throw new FsException(Errno.EIO, "local replica did not apply index " + reply.getLogIndex());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FsException(Errno.EIO, "interrupted");
    }
    commits.applied(System.nanoTime() - replied);
    if (!asked.isEmpty()) {
      awaitLeaseHolders(asked, reply.getLogIndex(), op.name());
    }
    return MetaOps.fromProto(answer);
  }

  // ---------------------------------------------------------------- open leases
  //
  // With --open-barrier lease a follower asks the leader for a lease every eighth of the election
  // timeout. While it holds one, its strict opens skip the barrier round trip: every node that
  // commits a change waits, before acknowledging it, until each lease holder the leader listed in
  // its reply has applied the change, or gave its lease up (it did not apply it within ACK_WAIT_MS),
  // or, if unreachable, had its lease revoked by the leader and run out. A lease never outlasts the
  // leader's own lease, so a new leader starts with none outstanding.

  /** How long a committer waits for a holder to apply its change before the holder gives its lease up. */
  static final long ACK_WAIT_MS = 100;
  /** How much longer than {@link #ACK_WAIT_MS} a committer waits for a holder's answer before revoking it. */
  static final long ACK_MARGIN_MS = 400;
  /** How long a node that gave its lease up waits (at least) before asking for a new one. */
  static final long RENEW_AFTER_GIVE_UP_MS = 250;
  /** How long a node whose lease was revoked is refused a new one. */
  static final long REVOKE_HOLD_OFF_MS = 5_000;

  /** The node port calls that open leases need ({@link #enableOpenLeases}, {@link #awaitLeaseHolders}). */
  public interface LeaseLink {
    /** Asks the peer at this Raft address (the leader) for a lease. */
    CompletableFuture<Grant> grant(String leaderRaftAddress, String nodeId);

    /** Asks a holder to apply {@code index}: true once it did, false if it gave its lease up instead. */
    CompletableFuture<Boolean> awaitApplied(String raftAddress, long index, long timeoutMs);

    /** Asks the leader to revoke a node's lease; completes once it ran out; false if that peer does not lead. */
    CompletableFuture<Boolean> revoke(String leaderRaftAddress, String nodeId);
  }

  /**
   * A lease answer: valid for this many nanos (0: refused), granted by the leader of this term, usable
   * once the holder has applied {@code applyFirst} (changes before the grant did not wait for it).
   */
  public record Grant(long validNanos, long term, long applyFirst) {}

  /** The lease this node holds: until (System.nanoTime()), granted in term, usable once applyFirst is applied. */
  private record HeldLease(long until, long term, long applyFirst) {}

  private volatile LeaseLink leaseLink;
  private final Object openLeaseLock = new Object(); // orders grants against give-ups
  private volatile HeldLease openLease; // null: none; written under openLeaseLock
  private long openLeaseGeneration; // bumped when the lease is given up; guarded by openLeaseLock
  private volatile long noRenewalUntil = System.nanoTime();
  private volatile long noRenewalBelow; // after a give-up: ask again once this index is applied
  private volatile Thread leaseRenewer;
  private final java.util.concurrent.atomic.AtomicLong leaseOpens = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong leaseGrants = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong leaseGiveUps = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong leaseAcks = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong leaseRevocations = new java.util.concurrent.atomic.AtomicLong();

  private final CommitTimes commits = new CommitTimes();

  /**
   * Where this node's commits spent their time: until the leader's reply (quorum), from the reply
   * until this replica applied the entry (apply), and from the reply until every other lease holder
   * had answered: applied it, gave its lease up, or could not be reached (leases; overlaps apply;
   * a revocation that follows is not included). The counts are of commits that went through each phase.
   */
  public record CommitStats(long commits, long quorumNanos, long applied, long applyNanos, long leaseWaits,
      long leaseNanos) {}

  private static final class CommitTimes {
    private final java.util.concurrent.atomic.LongAdder commits = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder quorum = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder applied = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder apply = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder leaseWaits = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder lease = new java.util.concurrent.atomic.LongAdder();

    void replied(long nanos) {
      commits.increment();
      quorum.add(nanos);
    }

    void applied(long nanos) {
      applied.increment();
      apply.add(nanos);
    }

    void leases(long nanos) {
      leaseWaits.increment();
      lease.add(nanos);
    }

    CommitStats snapshot() {
      return new CommitStats(commits.sum(), quorum.sum(), applied.sum(), apply.sum(), leaseWaits.sum(), lease.sum());
    }
  }

  public CommitStats commitStats() {
    return commits.snapshot();
  }

  /** Lets this node wait for other nodes' leases when it commits (every node of a cluster needs it). */
  public void setLeaseLink(LeaseLink link) {
    this.leaseLink = link;
  }

  /** Starts asking the leader for open leases (--open-barrier lease); needs {@link #setLeaseLink}. */
  public void enableOpenLeases() {
    Thread t = new Thread(this::renewLeases, "open-lease");
    t.setDaemon(true);
    leaseRenewer = t;
    t.start();
  }

  /** Whether strict opens on this node may skip the barrier now. */
  boolean openLeaseHeld() {
    HeldLease l = openLease;
    // Changes committed before the grant did not wait for this node; a newer leader's need not have.
    return l != null && l.until() - System.nanoTime() > 0 && stateMachine.appliedIndex() >= l.applyFirst()
        && currentTerm() == l.term();
  }

  private void renewLeases() {
    long every = Math.max(10, config.electionTimeoutMs() / 8);
    while (!Thread.currentThread().isInterrupted()) {
      try {
        Thread.sleep(every);
        LeaseLink link = leaseLink;
        String leader = leaderAddress();
        if (link == null || leader == null || System.nanoTime() - noRenewalUntil < 0
            || stateMachine.appliedIndex() < noRenewalBelow) {
          continue; // no leader known, this peer leads (its own lease covers its opens), or it gave up and still lags
        }
        long generation;
        synchronized (openLeaseLock) {
          generation = openLeaseGeneration;
        }
        long asked = System.nanoTime();
        Grant g = link.grant(leader, config.nodeId()).get(config.electionTimeoutMs(), TimeUnit.MILLISECONDS);
        synchronized (openLeaseLock) {
          if (g.validNanos() > 0 && generation == openLeaseGeneration) {
            // Counted from the question: never later than the leader counts.
            openLease = new HeldLease(asked + g.validNanos(), g.term(), g.applyFirst());
            leaseGrants.incrementAndGet();
          }
        }
      } catch (InterruptedException e) {
        return;
      } catch (ExecutionException | TimeoutException | RuntimeException e) {
        LOG.debug("open lease not renewed", e);
      }
    }
  }

  /**
   * A committer asks: has this replica applied {@code index}? Waits up to {@code timeoutMs}; if not
   * applied by then, gives the open lease up first (and ignores grants asked for before), so the
   * committer may go on either way.
   */
  public boolean awaitAppliedOrGiveUpLease(long index, long timeoutMs) throws InterruptedException {
    if (stateMachine.awaitApplied(index, timeoutMs)) {
      return true;
    }
    synchronized (openLeaseLock) {
      openLease = null;
      openLeaseGeneration++;
    }
    // Ask again only once caught up with the change given up on, and not at once: a replica that keeps
    // lagging would otherwise cost commit after commit this wait.
    noRenewalBelow = index;
    noRenewalUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RENEW_AFTER_GIVE_UP_MS);
    leaseGiveUps.incrementAndGet();
    return false;
  }

  /** The leader's side of a lease request: refused (0 nanos) unless it leads with its lease and the node is a member. */
  public Grant grantOpenLease(String nodeId) {
    // Fresh: the lease kept for opens shrinks until it lapses and is rebuilt; a grant cut from it
    // near its end would be short and leave the holder without a lease until its next renewal.
    Lease own = refuseLeaseForTesting ? null : currentLease(true);
    if (own == null || peerAddress(nodeId) == null) {
      return new Grant(0, -1, 0); // not a leader with its lease, or not a member (a removed node still asking)
    }
    long valid = Math.min(own.validUntilNanos() - System.nanoTime(),
        TimeUnit.MILLISECONDS.toNanos(config.electionTimeoutMs() * 3 / 4));
    if (valid <= 0) {
      return new Grant(0, own.term(), 0);
    }
    long[] g = stateMachine.grantOpenLease(nodeId, own.term(), valid);
    return new Grant(g[0], own.term(), g[1]);
  }

  /** The other voters and listeners of the current configuration (none if leases cannot be served here). */
  private java.util.Collection<String> otherMembers() {
    if (leaseLink == null) {
      return List.of(); // no lease service on this node: no member can have been granted one here
    }
    try {
      var conf = server.getDivision(GROUP_ID).getRaftConf();
      java.util.Set<String> ids = new java.util.LinkedHashSet<>();
      for (RaftPeer p : conf.getAllPeers(RaftPeerRole.FOLLOWER)) {
        ids.add(p.getId().toString());
      }
      for (RaftPeer p : conf.getAllPeers(RaftPeerRole.LISTENER)) {
        ids.add(p.getId().toString());
      }
      ids.remove(config.nodeId());
      return ids;
    } catch (IOException e) {
      return List.of();
    }
  }

  /** The leader's side of a revocation: returns once the node's lease ran out; false if this peer does not lead. */
  public boolean revokeOpenLease(String nodeId) throws InterruptedException {
    if (!isLeader()) {
      return false;
    }
    leaseRevocations.incrementAndGet();
    long wait = stateMachine.revokeOpenLease(nodeId, TimeUnit.MILLISECONDS.toNanos(REVOKE_HOLD_OFF_MS));
    if (wait > 0) {
      TimeUnit.NANOSECONDS.sleep(wait + TimeUnit.MILLISECONDS.toNanos(1));
    }
    return true;
  }

  /**
   * Asks every other node the leader listed as a possible lease holder to apply {@code index}; this
   * node is not asked (the caller waits for its own replica). With {@link #awaitLeaseHolders}: before
   * a change is acknowledged, every such holder has applied it, or gave its lease up, or
   * (unreachable) had it revoked by the leader and run out.
   */
  private Map<String, CompletableFuture<Boolean>> askLeaseHolders(List<String> holders, long index, String what) {
    LeaseLink link = leaseLink;
    if (link == null) {
      throw new FsException(Errno.EIO, what + " committed, but this node cannot reach lease holders " + holders);
    }
    String self = config.nodeId();
    Map<String, CompletableFuture<Boolean>> asked = new java.util.LinkedHashMap<>();
    for (String h : holders) {
      if (h.equals(self)) {
        continue;
      }
      String address = peerAddress(h);
      leaseAcks.incrementAndGet();
      asked.put(h, address == null ? CompletableFuture.failedFuture(new IllegalStateException("no address"))
          : link.awaitApplied(address, index, ACK_WAIT_MS));
    }
    return asked;
  }

  /** Waits for the holders' answers; one that does not answer has its lease revoked at the leader. */
  private void awaitLeaseHolders(Map<String, CompletableFuture<Boolean>> asked, long index, String what) {
    LeaseLink link = leaseLink;
    long deadline = System.currentTimeMillis() + config.writeTimeoutMs();
    for (Map.Entry<String, CompletableFuture<Boolean>> e : asked.entrySet()) {
      try {
        e.getValue().get(ACK_WAIT_MS + ACK_MARGIN_MS, TimeUnit.MILLISECONDS);
        continue; // applied, or the holder gave its lease up
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        throw new FsException(Errno.EIO, "interrupted");
      } catch (ExecutionException | TimeoutException ex) {
        LOG.info("lease holder {} did not answer for index {} ({}); revoking its lease", e.getKey(), index,
            ex.getCause() != null ? ex.getCause().toString() : ex.toString());
      }
      revokeAtLeader(link, e.getKey(), deadline, what);
    }
  }

  private void revokeAtLeader(LeaseLink link, String node, long deadline, String what) {
    while (System.currentTimeMillis() < deadline) {
      try {
        if (isLeader()) {
          if (revokeOpenLease(node)) {
            return;
          }
        } else {
          String leader = leaderAddress();
          if (leader != null && link.revoke(leader, node).get(config.writeTimeoutMs(), TimeUnit.MILLISECONDS)) {
            return;
          }
        }
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        throw new FsException(Errno.EIO, "interrupted");
      } catch (ExecutionException | TimeoutException | RuntimeException ex) {
        LOG.debug("revoking the lease of {} failed", node, ex);
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        throw new FsException(Errno.EIO, "interrupted");
      }
    }
    throw new FsException(Errno.EIO, what + " committed, but node " + node
        + " may still serve opens from before it: neither it nor the leader answered");
  }

  /** The Raft address of the leader this peer knows of, or null if none or itself. */
  private String leaderAddress() {
    try {
      var id = server.getDivision(GROUP_ID).getInfo().getLeaderId();
      return id == null || id.equals(server.getId()) ? null : peerAddress(id.toString());
    } catch (IOException e) {
      return null;
    }
  }

  private String peerAddress(String nodeId) {
    try {
      RaftPeer peer = server.getDivision(GROUP_ID).getRaftConf().getPeer(RaftPeerId.valueOf(nodeId),
          RaftPeerRole.FOLLOWER, RaftPeerRole.LISTENER);
      return peer == null ? null : peer.getAddress();
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * What open leases did on this node.
   *
   * @param held whether this node holds one now
   * @param grants leases (and renewals) the leader granted this node
   * @param opens strict opens served under the lease, without a barrier round trip
   * @param giveUps times this node gave its lease up because it had not applied a committer's change in time
   * @param acks lease holders this node asked to apply its changes
   * @param revocations leases this node, as leader, revoked for a committer that could not reach the holder
   */
  public record OpenLeaseStats(boolean held, long grants, long opens, long giveUps, long acks, long revocations) {}

  public OpenLeaseStats openLeaseStats() {
    return new OpenLeaseStats(openLeaseHeld(), leaseGrants.get(), leaseOpens.get(), leaseGiveUps.get(),
        leaseAcks.get(), leaseRevocations.get());
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
    if (openLeaseHeld()) {
      leaseOpens.incrementAndGet();
      return;
    }
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
    Lease l = currentLease(false);
    return l == null ? -1 : l.term();
  }

  /**
   * This peer's leader lease, or null if it does not hold one.
   *
   * @param fresh rebuild it from the role report even while the one kept is valid (it may be longer now)
   */
  private Lease currentLease(boolean fresh) {
    try {
      var division = server.getDivision(GROUP_ID);
      var info = division.getInfo();
      long term = info.getCurrentTerm();
      if (!info.isLeaderReady()) {
        return null;
      }
      // Ages only grow until new answers arrive, so a lease found held stays held until the
      // majority's answers reach the lease length: reuse that instead of rebuilding the role
      // report (5-8 us) on every strict open of the leader's own node.
      Lease cached = lease;
      long now = System.nanoTime();
      if (!fresh && cached != null && cached.term == term && now < cached.validUntilNanos) {
        return cached;
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
        return null;
      }
      Lease built = new Lease(term, now + TimeUnit.MILLISECONDS.toNanos(leaseMs - age));
      lease = built;
      return built;
    } catch (IOException e) {
      return null;
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

  /** This peer's Raft address (host:port). */
  public String address() {
    return config.address();
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

  /**
   * Tells {@code listener} what each applied entry changed, leaving out what this node's own
   * requests changed (its kernel made those requests and knows).
   */
  public void setChangeListener(io.sharefs.meta.ChangeListener listener) {
    stateMachine.setChangeListener(listener, List.of(client.getId(), barrierClient.getId(), localClientId));
  }

  public MetaStateMachine stateMachine() {
    return stateMachine;
  }

  public RaftServer server() {
    return server;
  }

  @Override
  public void close() {
    Thread renewer = leaseRenewer;
    if (renewer != null) {
      renewer.interrupt();
    }
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
