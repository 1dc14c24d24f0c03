package io.sharefs.node.admin;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.sharefs.meta.ratis.RaftMetaStore;
import io.sharefs.meta.ratis.RaftMetaStore.Member;
import io.sharefs.proto.AddMemberRequestProto;
import io.sharefs.proto.ClusterStatusReplyProto;
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

  public AdminServiceImpl(RaftMetaStore meta, Supplier<NodeStatus> status, int maxVoters, PeerStatus peers) {
    this.meta = meta;
    this.status = status;
    this.maxVoters = maxVoters;
    this.peers = peers;
  }

  static StatusReplyProto toProto(NodeStatus s) {
    StatusReplyProto.Builder b = StatusReplyProto.newBuilder().setNodeId(s.nodeId()).setRole(s.role()).setTerm(s.term())
        .setLeaderId(s.leaderId()).setCommitIndex(s.commitIndex()).setAppliedIndex(s.appliedIndex())
        .setBlocks(s.blocks()).setBlockBytes(s.blockBytes()).setPullQueue(s.pullQueue())
        .setReplicationPending(s.replicationPending()).setInodes(s.inodes()).setLogBytes(s.logBytes())
        .setDiskFreeBytes(s.diskFreeBytes()).setVersion(s.version()).setMaxVoters(s.maxVoters());
    s.members().forEach(m -> b.addMembers(toProto(m)));
    return b.build();
  }

  static NodeStatus fromProto(StatusReplyProto r) {
    List<Member> members = new ArrayList<>();
    r.getMembersList().forEach(m -> members.add(fromProto(m)));
    return new NodeStatus(r.getNodeId(), r.getRole(), r.getTerm(), r.getLeaderId(), r.getCommitIndex(),
        r.getAppliedIndex(), members, r.getBlocks(), r.getBlockBytes(), r.getPullQueue(), r.getReplicationPending(),
        r.getInodes(), r.getLogBytes(), r.getDiskFreeBytes(), r.getVersion(), r.getMaxVoters());
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
      }));
    }
    ClusterStatusReplyProto.Builder b = ClusterStatusReplyProto.newBuilder().setAsked(self.nodeId());
    asks.forEach(f -> b.addMembers(f.join()));
    out.onNext(b.build());
    out.onCompleted();
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
      LOG.info("removing member {}", req.getId());
      List<Member> left = meta.removeMember(req.getId());
      meta.submit(new io.sharefs.meta.op.ReleaseNodeLocksOp(req.getId()).settle(System.currentTimeMillis() * 1_000_000L, 0, 0));
      out.onNext(members(left));
      out.onCompleted();
    } catch (IOException e) {
      out.onError(Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException());
    }
  }
}
