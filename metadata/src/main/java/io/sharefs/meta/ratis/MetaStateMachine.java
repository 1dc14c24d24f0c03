package io.sharefs.meta.ratis;

import io.sharefs.meta.MetaResult;
import io.sharefs.meta.op.Applier;
import io.sharefs.meta.op.MetaOps;
import io.sharefs.meta.table.MetaTables;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.LifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The metadata state machine: decodes each committed entry and applies it to the local tables in one
 * atomic batch that also records the applied index. The applied index lives in the same RocksDB, so
 * a restart resumes exactly after the last applied entry; snapshots are checkpoints of that DB.
 */
public final class MetaStateMachine extends BaseStateMachine {
  private static final Logger LOG = LoggerFactory.getLogger(MetaStateMachine.class);

  private final MetaTables tables;
  private final Applier applier;
  private final CheckpointSnapshotStorage storage = new CheckpointSnapshotStorage();
  private final ReentrantLock applyLock = new ReentrantLock();
  private final Condition appliedAdvanced = applyLock.newCondition();
  private volatile long appliedIndex;
  /**
   * Index of the last applied entry that carried a change (not a configuration, no-op or Ratis metadata
   * entry). Every write acknowledged to anyone is at or below it on the leader, so it is what a
   * follower's close-to-open barrier must reach. (Ratis's own read index is the leader's commit index,
   * which after a quiet spell is the metadata entry Ratis appends to record the commit; followers
   * learn that it committed only from the next heartbeat.)
   */
  private volatile long lastChangeIndex;
  private volatile java.util.function.Consumer<MetaResult> applyListener = r -> {};
  private volatile io.sharefs.meta.ChangeListener changeListener;
  /** The Raft client ids this node proposes with: entries from them are this node's own changes. */
  private volatile java.util.Set<org.apache.ratis.thirdparty.com.google.protobuf.ByteString> localClients =
      java.util.Set.of();

  public MetaStateMachine(MetaTables tables) {
    this.tables = tables;
    this.applier = new Applier(tables);
  }

  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage) throws IOException {
    super.initialize(server, groupId, raftStorage);
    storage.init(raftStorage);
    long[] ti = tables.appliedTermIndex();
    appliedIndex = ti[1];
    lastChangeIndex = ti[1];
    if (ti[1] >= 0) {
      setLastAppliedTermIndex(TermIndex.valueOf(ti[0], ti[1]));
    }
    SnapshotInfo snap = storage.getLatestSnapshot();
    LOG.info("metadata state machine at applied index {} (latest snapshot {})", ti[1],
        snap == null ? "none" : snap.getTermIndex());
    getLifeCycle().transition(LifeCycle.State.STARTING);
    getLifeCycle().transition(LifeCycle.State.RUNNING);
  }

  /** Before a snapshot from the leader replaces the tables: no apply may run meanwhile. */
  @Override
  public void pause() {
    applyLock.lock();
    try {
      if (getLifeCycle().getCurrentState() == LifeCycle.State.RUNNING) {
        getLifeCycle().transition(LifeCycle.State.PAUSING);
        getLifeCycle().transition(LifeCycle.State.PAUSED);
      }
    } finally {
      applyLock.unlock();
    }
  }

  /** After Ratis installed a snapshot from the leader: the tables become that checkpoint. */
  @Override
  public void reinitialize() throws IOException {
    applyLock.lock();
    try {
      storage.rescan();
      SnapshotInfo snap = storage.getLatestSnapshot();
      if (snap == null) {
        throw new IOException("reinitialize without an installed snapshot");
      }
      Path dir = storage.dirFor(snap.getTerm(), snap.getIndex());
      tables.replaceWith(dir);
      io.sharefs.meta.ChangeListener changes = changeListener;
      if (changes != null) {
        changes.everythingChanged();
      }
      long[] ti = tables.appliedTermIndex();
      appliedIndex = ti[1];
      lastChangeIndex = ti[1];
      setLastAppliedTermIndex(TermIndex.valueOf(ti[0], ti[1]));
      LOG.info("installed metadata snapshot {} from the leader; applied index now {}", snap.getTermIndex(), ti[1]);
      Thread t = new Thread(snapshotInstalled, "after-snapshot-install");
      t.setDaemon(true);
      t.start();
      appliedAdvanced.signalAll();
      if (getLifeCycle().getCurrentState() == LifeCycle.State.PAUSED) {
        getLifeCycle().transition(LifeCycle.State.STARTING);
        getLifeCycle().transition(LifeCycle.State.RUNNING);
      }
    } finally {
      applyLock.unlock();
    }
  }

  @Override
  public StateMachineStorage getStateMachineStorage() {
    return storage;
  }

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
    LogEntryProto entry = trx.getLogEntry();
    long index = entry.getIndex();
    long term = entry.getTerm();
    MetaResult result;
    List<String> holders = List.of();
    applyLock.lock();
    try {
      if (index <= appliedIndex) {
        // Already in the tables (they may run ahead of the latest snapshot); replay is a no-op.
        return CompletableFuture.completedFuture(Message.EMPTY);
      }
      byte[] data = entry.getStateMachineLogEntry().getLogData().toByteArray();
      boolean proposedHere = localClients.contains(entry.getStateMachineLogEntry().getClientId());
      result = applier.apply(term, index, data, proposedHere, changeListener);
      appliedIndex = index;
      lastChangeIndex = index;
      updateLastAppliedTermIndex(term, index);
      appliedAdvanced.signalAll();
      if (trx.getServerRole() == RaftPeerRole.LEADER) {
        // Under the apply lock: a lease granted after this point needs the entry applied first.
        long now = System.nanoTime();
        holders = openLeases.holders(now);
        if (now - leaderSinceNanos < inheritNanos) {
          // Early in this peer's leadership a predecessor's grant may still run (a leadership
          // transfer elects without waiting for the old leader's lease): every member may hold one.
          java.util.Set<String> all = new java.util.LinkedHashSet<>(holders);
          all.addAll(members.get());
          holders = List.copyOf(all);
        }
      }
    } finally {
      applyLock.unlock();
    }
    try {
      if (result.batch().isEmpty()) {
        applyListener.accept(result);
      } else {
        result.batch().forEach(applyListener);
      }
    } catch (RuntimeException e) {
      LOG.warn("apply listener failed at index {}", index, e);
    }
    byte[] reply = holders.isEmpty() ? MetaOps.encodeResult(result) : MetaOps.encodeReply(result, holders);
    return CompletableFuture.completedFuture(Message.valueOf(UnsafeByteOperations.unsafeWrap(reply)));
  }

  // ---------------------------------------------------------------- open leases (leader side)

  private final OpenLeaseTable openLeases = new OpenLeaseTable();
  private volatile long leaderSinceNanos = System.nanoTime() - (1L << 62);
  private volatile long inheritNanos;
  private volatile java.util.function.Supplier<java.util.Collection<String>> members = List::of;
  private volatile long openLeaseTerm = -1;

  /**
   * For the first {@code inheritNanos} of this peer's leadership, commits list every member in
   * {@code members} (the other voters and listeners) as a possible lease holder.
   */
  public void setLeaseInheritance(long inheritNanos, java.util.function.Supplier<java.util.Collection<String>> members) {
    this.inheritNanos = inheritNanos;
    this.members = members;
  }

  /**
   * Grants {@code node} an open lease of {@code validNanos} (the caller, leading in {@code term}, keeps
   * it within its own leader lease): until it runs out, every committer waits for that node to apply its change.
   * Under the apply lock, so a change is either applied after the grant (and lists the node as a
   * holder in its reply) or before it — then it is at most the returned last change, which the node
   * must apply before it uses the lease.
   *
   * @return {how long the lease is valid (nanos, counted by the node from when it asked; 0: refused),
   *     the last change applied here}
   */
  long[] grantOpenLease(String node, long term, long validNanos) {
    applyLock.lock();
    try {
      if (term != openLeaseTerm) {
        openLeases.clear();
        openLeaseTerm = term;
      }
      return new long[] {openLeases.grant(node, validNanos, System.nanoTime()), lastChangeIndex};
    } finally {
      applyLock.unlock();
    }
  }

  /**
   * Takes a node's open lease away (see {@link OpenLeaseTable#revoke}); returns nanos to wait it out:
   * its grant from here, or early in this leadership one from a predecessor, which this peer has no
   * record of but which ends within the inheritance window.
   */
  long revokeOpenLease(String node, long holdOffNanos) {
    long now = System.nanoTime();
    return Math.max(openLeases.revoke(node, now, holdOffNanos), Math.max(0, leaderSinceNanos + inheritNanos - now));
  }

  private volatile Runnable snapshotInstalled = () -> {};

  /** Called (on its own thread) after a snapshot from the leader replaced the tables. */
  public void setSnapshotInstalledListener(Runnable r) {
    this.snapshotInstalled = r;
  }

  /**
   * Told, inside each apply, what the entry changed; entries proposed by {@code localClients} (this
   * node's own Raft clients) report only the changes its kernel does not know of.
   */
  public void setChangeListener(io.sharefs.meta.ChangeListener listener,
      java.util.Collection<org.apache.ratis.protocol.ClientId> localClients) {
    java.util.Set<org.apache.ratis.thirdparty.com.google.protobuf.ByteString> ids = new java.util.HashSet<>();
    localClients.forEach(c -> ids.add(c.toByteString()));
    this.localClients = java.util.Set.copyOf(ids);
    this.changeListener = listener;
  }

  /** Called after each applied mutation, outside the apply lock (e.g. to pull the blocks of new files). */
  public void setApplyListener(java.util.function.Consumer<MetaResult> listener) {
    this.applyListener = listener;
  }

  /**
   * Barrier query, sent to the leader as a non-linearizable read: while its lease holds, the index of
   * the last change it applied and its term, which the asking follower then waits to apply itself;
   * otherwise empty (refused). The read-index fallback's query is answered empty as well: the
   * linearizable read's wait before it was the point.
   */
  @Override
  public CompletableFuture<Message> query(Message request) {
    if (request.getContent().equals(RaftMetaStore.READ_INDEX_BARRIER.getContent())) {
      return CompletableFuture.completedFuture(Message.EMPTY); // a linearizable read: its wait was the point
    }
    long term = leaseTerm.getAsLong();
    if (term < 0) {
      return CompletableFuture.completedFuture(Message.EMPTY); // refused: not a leader holding its lease
    }
    return CompletableFuture.completedFuture(Message.valueOf(UnsafeByteOperations.unsafeWrap(
        java.nio.ByteBuffer.allocate(2 * Long.BYTES).putLong(lastChangeIndex).putLong(term).array())));
  }

  private volatile java.util.function.LongSupplier leaseTerm = () -> -1;

  /**
   * The term in which this peer may answer barrier queries, or -1: it leads, and no other peer can
   * have been elected since a majority last answered it. Barrier queries are sent as non-linearizable
   * reads (Ratis' linearizable path waits for its own read index, which stalls as described above),
   * so this check is what keeps a deposed leader from answering.
   */
  public void setLeaseTerm(java.util.function.LongSupplier leaseTerm) {
    this.leaseTerm = leaseTerm;
  }

  /** Decodes a {@link #query} answer: {last change index, leader's term}, or null if it refused. */
  static long[] barrierAnswer(Message answer) {
    var content = answer.getContent();
    if (content.isEmpty()) {
      return null;
    }
    if (content.size() != 2 * Long.BYTES) {
      throw new IllegalArgumentException("barrier answer of " + content.size() + " bytes");
    }
    var b = content.asReadOnlyByteBuffer();
    return new long[] {b.getLong(), b.getLong()};
  }

  @Override
  public void notifyTermIndexUpdated(long term, long index) {
    // Configuration and no-op entries: record them so the applied index stays contiguous.
    applyLock.lock();
    try {
      if (index > appliedIndex) {
        try (var txn = tables.begin()) {
          txn.commit(term, index);
        }
        appliedIndex = index;
        appliedAdvanced.signalAll();
        super.notifyTermIndexUpdated(term, index);
      }
    } finally {
      applyLock.unlock();
    }
  }

  /** Waits until this replica has applied {@code index}; false on timeout. */
  public boolean awaitApplied(long index, long timeoutMs) throws InterruptedException {
    if (appliedIndex >= index) {
      return true;
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    applyLock.lock();
    try {
      while (appliedIndex < index) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        appliedAdvanced.awaitNanos(left);
      }
      return true;
    } finally {
      applyLock.unlock();
    }
  }

  private final java.util.concurrent.atomic.AtomicLong leaderChanges = new java.util.concurrent.atomic.AtomicLong();

  @Override
  public void notifyLeaderChanged(org.apache.ratis.protocol.RaftGroupMemberId groupMemberId,
      org.apache.ratis.protocol.RaftPeerId newLeaderId) {
    leaderChanges.incrementAndGet();
    if (newLeaderId != null && newLeaderId.equals(groupMemberId.getPeerId())) {
      leaderSinceNanos = System.nanoTime();
    }
    LOG.info("metadata leader is now {}", newLeaderId);
  }

  public long leaderChanges() {
    return leaderChanges.get();
  }

  public long appliedIndex() {
    return appliedIndex;
  }

  @Override
  public long takeSnapshot() throws IOException {
    applyLock.lock();
    try {
      TermIndex last = getLastAppliedTermIndex();
      if (last == null || last.getIndex() < 0) {
        return -1;
      }
      Path dir = storage.dirFor(last.getTerm(), last.getIndex());
      if (!dir.toFile().exists()) {
        Path tmp = storage.tmpDir().resolve(dir.getFileName());
        CheckpointSnapshotStorage.deleteTree(tmp);
        java.nio.file.Files.createDirectories(tmp.getParent());
        tables.checkpoint(tmp);
        java.nio.file.Files.move(tmp, dir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      }
      storage.published(last.getTerm(), last.getIndex());
      LOG.info("snapshot taken at {}", last);
      return last.getIndex();
    } finally {
      applyLock.unlock();
    }
  }
}
