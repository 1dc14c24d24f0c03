package io.sharefs.node.admin;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.sharefs.meta.ratis.RaftMetaStore;
import io.sharefs.meta.ratis.RaftMetaStore.Member;
import io.sharefs.proto.AddMemberRequestProto;
import io.sharefs.proto.ClusterStatusReplyProto;
import io.sharefs.proto.FsckEventProto;
import io.sharefs.proto.FsckFindingProto;
import io.sharefs.proto.FsckProgressProto;
import io.sharefs.proto.FsckRequestProto;
import io.sharefs.proto.FsckSummaryProto;
import io.sharefs.proto.RebalanceEventProto;
import io.sharefs.proto.RebalancePlanProto;
import io.sharefs.proto.RebalanceRequestProto;
import io.sharefs.proto.RebalanceSummaryProto;
import io.sharefs.proto.TestHookReplyProto;
import io.sharefs.proto.TestHookRequestProto;
import io.sharefs.proto.MemberStatusProto;
import io.sharefs.proto.AdminServiceGrpc;
import io.sharefs.proto.MemberProto;
import io.sharefs.proto.MembersReplyProto;
import io.sharefs.proto.MembersRequestProto;
import io.sharefs.proto.RemoveMemberRequestProto;
import io.sharefs.proto.StatusReplyProto;
import io.sharefs.proto.StatusRequestProto;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Status and membership over gRPC; the only place admin protos meet domain types. */
public final class AdminServiceImpl extends AdminServiceGrpc.AdminServiceImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(AdminServiceImpl.class);

  private final RaftMetaStore meta;
  private final Supplier<NodeStatus> status;
  private final int maxVoters;
  private final PeerStatus peers;

  /** How this node asks another member for its status (over node-to-node TLS). */
  @FunctionalInterface
  public interface PeerStatus {
    NodeStatus of(Member m) throws IOException;
  }

  private final Supplier<Fsck> fsck;
  private final java.util.function.BiFunction<List<Member>, List<Member>, Rebalance> rebalancer;
  private final TestHooks hooks;

  /** Fault injection for tests (null unless the node runs with SHAREFS_TEST_HOOKS=1). */
  public interface TestHooks {
    void run(TestHookRequestProto req) throws IOException;
  }

  public AdminServiceImpl(RaftMetaStore meta, Supplier<NodeStatus> status, int maxVoters, PeerStatus peers,
      Supplier<Fsck> fsck, java.util.function.BiFunction<List<Member>, List<Member>, Rebalance> rebalancer,
      TestHooks hooks) {
    this.rebalancer = rebalancer;
    this.meta = meta;
    this.status = status;
    this.maxVoters = maxVoters;
    this.peers = peers;
    this.fsck = fsck;
    this.hooks = hooks;
  }

  /** Runs fsck here, streaming progress (at most every 200 ms), each finding, then the summary. */
  @Override
  public void fsck(FsckRequestProto req, StreamObserver<FsckEventProto> out) {
    long grace = req.getGraceMs() > 0 ? Math.max(req.getGraceMs(), MIN_GRACE_MS) : DEFAULT_GRACE_MS;
    LOG.info("fsck started ({}; grace {} s)", req.getRepair() ? "repair" : "check only", grace / 1000);
    try {
      Gate gate = new Gate();
      Fsck.Summary s = fsck.get().run(req.getRepair(), grace, new Fsck.Listener() {
        @Override
        public void progress(String phase, long done, long total) {
          if (gate.due(done, total)) {
            send(out, FsckEventProto.newBuilder().setProgress(progressProto(phase, done, total)).build());
          }
        }

        @Override
        public void finding(String kind, String detail, boolean repaired, String action) {
          LOG.warn("fsck: {}: {}{}", kind, detail, action.isEmpty() ? "" : " — " + action);
          send(out, FsckEventProto.newBuilder().setFinding(FsckFindingProto.newBuilder().setKind(kind)
              .setDetail(detail).setRepaired(repaired).setAction(action)).build());
        }
      });
      LOG.info("fsck done: {} found, {} repaired", s.found(), s.repaired());
      send(out, FsckEventProto.newBuilder().setSummary(FsckSummaryProto.newBuilder().setInodes(s.inodes())
          .setDentries(s.dentries()).setBlocksReferenced(s.blocksReferenced()).setNodesScanned(s.nodesScanned())
          .setFound(s.found()).setRepaired(s.repaired()).setReplication(s.replication())
          .addAllUnreachableNodes(s.unreachable())).build());
      out.onCompleted();
    } catch (RuntimeException e) {
      LOG.error("fsck failed", e);
      out.onError(Status.INTERNAL.withDescription("fsck failed: " + e).asRuntimeException());
    }
  }

  /** Unreferenced blocks younger than this are never dropped (a write may still commit them). */
  public static final long MIN_GRACE_MS = 60_000;
  public static final long DEFAULT_GRACE_MS = 3_600_000;

  /** Stream events may come from several threads; a StreamObserver takes one at a time. */
  private static synchronized <T> void send(StreamObserver<T> out, T e) {
    out.onNext(e);
  }

  /** Lets a progress event through at most every 200 ms, and always the last one of a phase. */
  private static final class Gate {
    private long last;

    boolean due(long done, long total) {
      long now = System.nanoTime();
      if (done == total || now - last > 200_000_000L) {
        last = now;
        return true;
      }
      return false;
    }
  }

  private static FsckProgressProto progressProto(String phase, long done, long total) {
    return FsckProgressProto.newBuilder().setPhase(phase).setDone(done).setTotal(total).build();
  }

  /** Optionally sets the replication factor, then moves blocks to their places, streaming plan and progress. */
  @Override
  public void rebalance(RebalanceRequestProto req, StreamObserver<RebalanceEventProto> out) {
    io.grpc.Context call = io.grpc.Context.current();
    try {
      int replication = meta.tables().replication();
      if (req.getReplication() >= 0 && req.getReplication() != replication) {
        if (req.getReplication() > io.sharefs.meta.op.SetReplicationOp.MAX) {
          out.onError(Status.INVALID_ARGUMENT.withDescription("replication must be 0 (every member) to "
              + io.sharefs.meta.op.SetReplicationOp.MAX).asRuntimeException());
          return;
        }
        replication = req.getReplication();
        if (!req.getDryRun()) {
          LOG.info("replication factor set to {}", replication == 0 ? "every member" : replication);
          meta.submit(new io.sharefs.meta.op.SetReplicationOp(replication)
              .settle(System.currentTimeMillis() * 1_000_000L, 0, 0));
        }
      }
      List<Member> members = meta.memberList();
      List<Member> targets = req.getLeaving().isEmpty() ? members
          : members.stream().filter(m -> !m.id().equals(req.getLeaving())).toList();
      if (targets.size() == members.size() && !req.getLeaving().isEmpty()) {
        out.onError(Status.NOT_FOUND.withDescription("no member " + req.getLeaving()).asRuntimeException());
        return;
      }
      Gate gate = new Gate();
      Rebalance.Result r = rebalancer.apply(members, targets).run(replication, req.getDryRun(),
          req.getLeaving().isEmpty(),
          req.getRateBytesPerSec(), call::isCancelled, new Rebalance.Listener() {
            @Override
            public void plan(io.sharefs.block.placement.RebalancePlan p, int copies) {
              send(out, RebalanceEventProto.newBuilder().setPlan(RebalancePlanProto.newBuilder()
                  .setCopies(p.copies().size()).setCopyBytes(p.copyBytes()).setDrops(p.drops().size())
                  .setReplication(copies).setUnplaceable(p.unplaceable())).build());
            }

            @Override
            public void progress(String phase, long done, long total) {
              if (gate.due(done, total)) {
                send(out, RebalanceEventProto.newBuilder().setProgress(progressProto(phase, done, total)).build());
              }
            }
          });
      if (r.cancelled()) {
        LOG.warn("rebalance cancelled by the client after {} copies; run it again to resume", r.copied());
        return;
      }
      LOG.info("rebalance done: {} copied, {} dropped, {} failed", r.copied(), r.dropped(), r.failed());
      send(out, RebalanceEventProto.newBuilder().setSummary(RebalanceSummaryProto.newBuilder().setCopied(r.copied())
          .setCopiedBytes(r.copiedBytes()).setDropped(r.dropped()).setFailed(r.failed())).build());
      out.onCompleted();
    } catch (RuntimeException e) {
      LOG.error("rebalance failed", e);
      out.onError(Status.UNAVAILABLE.withDescription("rebalance failed: " + e.getMessage()).asRuntimeException());
    }
  }

  @Override
  public void testHook(TestHookRequestProto req, StreamObserver<TestHookReplyProto> out) {
    if (hooks == null) {
      out.onError(Status.PERMISSION_DENIED.withDescription("test hooks are off on this node").asRuntimeException());
      return;
    }
    try {
      hooks.run(req);
      out.onNext(TestHookReplyProto.getDefaultInstance());
      out.onCompleted();
    } catch (IOException | RuntimeException e) {
      out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
    }
  }

  static StatusReplyProto toProto(NodeStatus s) {
    StatusReplyProto.Builder b = StatusReplyProto.newBuilder().setNodeId(s.nodeId()).setRole(s.role()).setTerm(s.term())
        .setLeaderId(s.leaderId()).setCommitIndex(s.commitIndex()).setAppliedIndex(s.appliedIndex())
        .setBlocks(s.blocks()).setBlockBytes(s.blockBytes()).setPullQueue(s.pullQueue())
        .setReplicationPending(s.replicationPending()).setInodes(s.inodes()).setLogBytes(s.logBytes())
        .setDiskFreeBytes(s.diskFreeBytes()).setVersion(s.version()).setMaxVoters(s.maxVoters())
        .setReplication(s.replication()).setUnderReplicated(s.underReplicated());
    s.members().forEach(m -> b.addMembers(toProto(m)));
    return b.build();
  }

  static NodeStatus fromProto(StatusReplyProto r) {
    List<Member> members = new ArrayList<>();
    r.getMembersList().forEach(m -> members.add(fromProto(m)));
    return new NodeStatus(r.getNodeId(), r.getRole(), r.getTerm(), r.getLeaderId(), r.getCommitIndex(),
        r.getAppliedIndex(), members, r.getBlocks(), r.getBlockBytes(), r.getPullQueue(), r.getReplicationPending(),
        r.getInodes(), r.getLogBytes(), r.getDiskFreeBytes(), r.getVersion(), r.getMaxVoters(), r.getReplication(),
        r.getUnderReplicated());
  }

  static MemberProto toProto(Member m) {
    return MemberProto.newBuilder().setId(m.id()).setAddress(m.address()).setVoter(m.voter()).build();
  }

  static Member fromProto(MemberProto p) {
    return new Member(p.getId(), p.getAddress(), p.getVoter());
  }

  private MembersReplyProto members(List<Member> list) {
    MembersReplyProto.Builder b = MembersReplyProto.newBuilder().setMaxVoters(maxVoters);
    list.forEach(m -> b.addMembers(toProto(m)));
    return b.build();
  }

  @Override
  public void status(StatusRequestProto req, StreamObserver<StatusReplyProto> out) {
    out.onNext(toProto(status.get()));
    out.onCompleted();
  }

  /** This node's status plus every other member's, asked in parallel; a member that does not answer is unreachable. */
  @Override
  public void clusterStatus(StatusRequestProto req, StreamObserver<ClusterStatusReplyProto> out) {
    NodeStatus self = status.get();
    java.util.concurrent.ExecutorService pool = FanOut.threads("status-ask", self.members().size());
    List<CompletableFuture<MemberStatusProto>> asks;
    try {
      asks = askAll(self, pool);
    } finally {
      pool.shutdown(); // the asks already queued still run
    }
    ClusterStatusReplyProto.Builder b = ClusterStatusReplyProto.newBuilder().setAsked(self.nodeId());
    asks.forEach(f -> b.addMembers(f.join()));
    out.onNext(b.build());
    out.onCompleted();
  }

  private List<CompletableFuture<MemberStatusProto>> askAll(NodeStatus self, java.util.concurrent.Executor pool) {
    List<CompletableFuture<MemberStatusProto>> asks = new ArrayList<>();
    for (Member m : self.members()) {
      if (m.id().equals(self.nodeId())) {
        asks.add(CompletableFuture.completedFuture(MemberStatusProto.newBuilder().setMember(toProto(m))
            .setReachable(true).setStatus(toProto(self)).build()));
        continue;
      }
      asks.add(CompletableFuture.supplyAsync(() -> {
        MemberStatusProto.Builder b = MemberStatusProto.newBuilder().setMember(toProto(m));
        try {
          return b.setReachable(true).setStatus(toProto(peers.of(m))).build();
        } catch (IOException | RuntimeException e) {
          return b.setReachable(false).setError(String.valueOf(e.getMessage())).build();
        }
      }, pool));
    }
    return asks;
  }

  @Override
  public void members(MembersRequestProto req, StreamObserver<MembersReplyProto> out) {
    out.onNext(members(meta.memberList()));
    out.onCompleted();
  }

  @Override
  public void addMember(AddMemberRequestProto req, StreamObserver<MembersReplyProto> out) {
    Member m = fromProto(req.getMember());
    if (m.id().isBlank() || !m.address().matches("[^:]+:\\d{1,5}")) {
      out.onError(Status.INVALID_ARGUMENT.withDescription("a member needs an id and a HOST:PORT address")
          .asRuntimeException());
      return;
    }
    try {
      long voters = meta.memberList().stream().filter(Member::voter).count();
      Member placed = new Member(m.id(), m.address(), m.voter() && voters < maxVoters);
      LOG.info("adding member {} at {} as {}", placed.id(), placed.address(), placed.voter() ? "voter" : "listener");
      out.onNext(members(meta.addMember(placed)));
      out.onCompleted();
    } catch (IOException e) {
      out.onError(Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException());
    }
  }

  @Override
  public void removeMember(RemoveMemberRequestProto req, StreamObserver<MembersReplyProto> out) {
    try {
      List<Member> all = meta.memberList();
      List<Member> remaining = all.stream().filter(m -> !m.id().equals(req.getId())).toList();
      if (remaining.size() == all.size()) {
        out.onError(Status.NOT_FOUND.withDescription("no member " + req.getId()).asRuntimeException());
        return;
      }
      // Before it goes, every block it may hold gets its copies on the members that stay.
      Rebalance.Result r = rebalancer.apply(all, remaining).run(meta.tables().replication(), false, false, 0,
          () -> false, new Rebalance.Listener() {
            @Override
            public void plan(io.sharefs.block.placement.RebalancePlan p, int copies) {
              LOG.info("before removing {}: {} block copies to make, {} blocks with no copy anywhere", req.getId(),
                  p.copies().size(), p.unplaceable());
            }

            @Override
            public void progress(String phase, long done, long total) {}
          });
      if (r.failed() > 0 && !req.getForce()) {
        out.onError(Status.FAILED_PRECONDITION.withDescription(r.failed() + " block copies could not be made on the"
            + " members that stay; " + req.getId() + " was not removed (see the node log; --force removes it anyway)")
            .asRuntimeException());
        return;
      }
      LOG.info("removing member {} ({} block copies made first)", req.getId(), r.copied());
      List<Member> left = meta.removeMember(req.getId());
      meta.submit(new io.sharefs.meta.op.ReleaseNodeLocksOp(req.getId()).settle(System.currentTimeMillis() * 1_000_000L, 0, 0));
      out.onNext(members(left));
      out.onCompleted();
    } catch (IOException | RuntimeException e) {
      out.onError(Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException());
    }
  }
}
