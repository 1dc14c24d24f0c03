package io.sharefs.node.admin;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.sharefs.proto.ClusterStatusReplyProto;
import io.sharefs.tls.TlsIdentity;
import java.util.LinkedHashMap;
import java.util.Map;
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

/** Talks to one node's admin service over mutual TLS, with a certificate from the cluster CA. */
public final class AdminClient implements AutoCloseable {
  private final String address;
  private final ManagedChannel channel;
  private final AdminServiceGrpc.AdminServiceBlockingStub stub;

  /** {@code address} is the node's admin address, or (with a node certificate) its node-to-node address. */
  public AdminClient(String address, TlsIdentity identity) {
    this.address = address;
    this.channel = NettyChannelBuilder.forTarget(address, identity.channelCredentials()).build();
    this.stub = AdminServiceGrpc.newBlockingStub(channel);
  }

  /** One member as the asked node saw it: its status, or why it could not be reached. */
  public record MemberStatus(Member member, NodeStatus status, String error) {}

  /** Every member's status, gathered by the node asked; keyed by member id, in membership order. */
  public Map<String, MemberStatus> clusterStatus() throws IOException {
    try {
      ClusterStatusReplyProto r = stub.withDeadlineAfter(10, TimeUnit.SECONDS)
          .clusterStatus(StatusRequestProto.getDefaultInstance());
      Map<String, MemberStatus> out = new LinkedHashMap<>();
      r.getMembersList().forEach(m -> out.put(m.getMember().getId(), new MemberStatus(
          AdminServiceImpl.fromProto(m.getMember()), m.getReachable() ? AdminServiceImpl.fromProto(m.getStatus()) : null,
          m.getReachable() ? null : m.getError())));
      return out;
    } catch (StatusRuntimeException e) {
      throw failure(e);
    }
  }

  /** Members of the group and how many may vote. */
  public record Members(List<Member> members, int maxVoters) {}

  public NodeStatus status() throws IOException {
    try {
      return AdminServiceImpl.fromProto(stub.withDeadlineAfter(3, TimeUnit.SECONDS)
          .status(StatusRequestProto.getDefaultInstance()));
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

  public Members removeMember(String id, boolean force) throws IOException {
    try {
      return members(stub.withDeadlineAfter(120, TimeUnit.SECONDS)
          .removeMember(RemoveMemberRequestProto.newBuilder().setId(id).setForce(force).build()));
    } catch (StatusRuntimeException e) {
      throw failure(e);
    }
  }

  /** Runs fsck on the node, handing every streamed event (progress, finding, summary) to {@code events}. */
  public void fsck(boolean repair, long graceMs, java.util.function.Consumer<io.sharefs.proto.FsckEventProto> events)
      throws IOException {
    try {
      stub.withDeadlineAfter(6, TimeUnit.HOURS).fsck(io.sharefs.proto.FsckRequestProto.newBuilder().setRepair(repair)
          .setGraceMs(graceMs).build()).forEachRemaining(events);
    } catch (StatusRuntimeException e) {
      throw failure(e);
    }
  }

  /** Runs a rebalance on the node, handing every streamed event to {@code events}; closing the call cancels it. */
  public void rebalance(io.sharefs.proto.RebalanceRequestProto req,
      java.util.function.Consumer<io.sharefs.proto.RebalanceEventProto> events) throws IOException {
    try {
      stub.withDeadlineAfter(24, TimeUnit.HOURS).rebalance(req).forEachRemaining(events);
    } catch (StatusRuntimeException e) {
      throw failure(e);
    }
  }

  /** Test fault injection (the node must run with SHAREFS_TEST_HOOKS=1). */
  public void testHook(io.sharefs.proto.TestHookRequestProto req) throws IOException {
    try {
      stub.withDeadlineAfter(10, TimeUnit.SECONDS).testHook(req);
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
      case UNAVAILABLE -> "node " + address + " is unreachable or refused the TLS handshake (is the certificate from"
          + " this cluster's CA?): " + io.sharefs.block.grpc.NodeServer.rootMessage(e);
      case UNAUTHENTICATED -> "node " + address + " refused us: " + e.getStatus().getDescription();
      case PERMISSION_DENIED -> "node " + address + " does not let this certificate do that: "
          + e.getStatus().getDescription();
      case DEADLINE_EXCEEDED -> "node " + address + " did not answer in time";
      case UNIMPLEMENTED -> "node " + address + " is still starting (or runs a version without this call)";
      default -> "node " + address + ": " + e.getStatus().getCode() + " " + e.getStatus().getDescription();
    };
    return new IOException(why, e);
  }

  @Override
  public void close() {
    channel.shutdownNow();
  }
}
