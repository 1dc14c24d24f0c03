package io.sharefs.node.admin;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.sharefs.block.grpc.ClusterSecret;
import io.sharefs.meta.ratis.RaftMetaStore.Member;
import io.sharefs.proto.AddMemberRequestProto;
import io.sharefs.proto.AdminServiceGrpc;
import io.sharefs.proto.MembersReplyProto;
import io.sharefs.proto.MembersRequestProto;
import io.sharefs.proto.RemoveMemberRequestProto;
import io.sharefs.proto.StatusReplyProto;
import io.sharefs.proto.StatusRequestProto;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Talks to one node's admin service (its block/admin port), with the cluster secret. */
public final class AdminClient implements AutoCloseable {
  private final String address;
  private final ManagedChannel channel;
  private final AdminServiceGrpc.AdminServiceBlockingStub stub;

  /** {@code adminAddress} is the node's block/admin address (its Raft port + 1). */
  public AdminClient(String adminAddress, ClusterSecret secret) {
    this.address = adminAddress;
    this.channel = NettyChannelBuilder.forTarget(adminAddress).usePlaintext().build();
    this.stub = AdminServiceGrpc.newBlockingStub(channel).withCallCredentials(secret.callCredentials());
  }

  /** Members of the group and how many may vote. */
  public record Members(List<Member> members, int maxVoters) {}

  public NodeStatus status() throws IOException {
    try {
      StatusReplyProto r = stub.withDeadlineAfter(5, TimeUnit.SECONDS).status(StatusRequestProto.getDefaultInstance());
      List<Member> members = new ArrayList<>();
      r.getMembersList().forEach(m -> members.add(AdminServiceImpl.fromProto(m)));
      return new NodeStatus(r.getNodeId(), r.getRole(), r.getTerm(), r.getLeaderId(), r.getCommitIndex(),
          r.getAppliedIndex(), members, r.getBlocks(), r.getBlockBytes(), r.getPullQueue(), r.getReplicationPending(),
          r.getInodes(), r.getLogBytes(), r.getDiskFreeBytes(), r.getVersion(), r.getMaxVoters());
    } catch (StatusRuntimeException e) {
      throw failure(e);
    }
  }

  public Members members() throws IOException {
    try {
      return members(stub.withDeadlineAfter(5, TimeUnit.SECONDS).members(MembersRequestProto.getDefaultInstance()));
    } catch (StatusRuntimeException e) {
      throw failure(e);
    }
  }

  public Members addMember(Member m) throws IOException {
    try {
      return members(stub.withDeadlineAfter(120, TimeUnit.SECONDS)
          .addMember(AddMemberRequestProto.newBuilder().setMember(AdminServiceImpl.toProto(m)).build()));
    } catch (StatusRuntimeException e) {
      throw failure(e);
    }
  }

  public Members removeMember(String id) throws IOException {
    try {
      return members(stub.withDeadlineAfter(120, TimeUnit.SECONDS)
          .removeMember(RemoveMemberRequestProto.newBuilder().setId(id).build()));
    } catch (StatusRuntimeException e) {
      throw failure(e);
    }
  }

  private static Members members(MembersReplyProto r) {
    List<Member> out = new ArrayList<>();
    r.getMembersList().forEach(m -> out.add(AdminServiceImpl.fromProto(m)));
    return new Members(out, r.getMaxVoters());
  }

  private IOException failure(StatusRuntimeException e) {
    String why = switch (e.getStatus().getCode()) {
      case UNAVAILABLE -> "node " + address + " is unreachable or refused: " + e.getStatus().getDescription();
      case UNAUTHENTICATED -> "node " + address + " refused our credentials (is the cluster secret right?)";
      case DEADLINE_EXCEEDED -> "node " + address + " did not answer in time";
      default -> "node " + address + ": " + e.getStatus().getCode() + " " + e.getStatus().getDescription();
    };
    return new IOException(why, e);
  }

  @Override
  public void close() {
    channel.shutdownNow();
  }
}
