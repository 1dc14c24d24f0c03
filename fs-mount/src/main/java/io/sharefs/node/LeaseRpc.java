package io.sharefs.node;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.sharefs.block.grpc.BlockClient;
import io.sharefs.meta.ratis.RaftMetaStore;
import io.sharefs.proto.AwaitAppliedReplyProto;
import io.sharefs.proto.AwaitAppliedRequestProto;
import io.sharefs.proto.GrantLeaseReplyProto;
import io.sharefs.proto.GrantLeaseRequestProto;
import io.sharefs.proto.LeaseServiceGrpc;
import io.sharefs.proto.RevokeLeaseReplyProto;
import io.sharefs.proto.RevokeLeaseRequestProto;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/** Open leases ({@link RaftMetaStore.LeaseLink}) over the nodes' own RPC port: the service and the client side. */
final class LeaseRpc {
  private LeaseRpc() {}

  /** Served on the node port to other nodes. */
  static final class Service extends LeaseServiceGrpc.LeaseServiceImplBase {
    private final RaftMetaStore meta;

    Service(RaftMetaStore meta) {
      this.meta = meta;
    }

    @Override
    public void grantLease(GrantLeaseRequestProto r, StreamObserver<GrantLeaseReplyProto> out) {
      RaftMetaStore.Grant g = meta.grantOpenLease(r.getNodeId());
      out.onNext(GrantLeaseReplyProto.newBuilder().setValidNanos(g.validNanos()).setTerm(g.term())
          .setApplyFirst(g.applyFirst()).build());
      out.onCompleted();
    }

    @Override
    public void awaitApplied(AwaitAppliedRequestProto r, StreamObserver<AwaitAppliedReplyProto> out) {
      try {
        boolean applied = meta.awaitAppliedOrGiveUpLease(r.getIndex(), Math.min(r.getTimeoutMs(), 10_000));
        out.onNext(AwaitAppliedReplyProto.newBuilder().setApplied(applied).build());
        out.onCompleted();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        out.onError(Status.UNAVAILABLE.withDescription("node shutting down").asRuntimeException());
      }
    }

    @Override
    public void revokeLease(RevokeLeaseRequestProto r, StreamObserver<RevokeLeaseReplyProto> out) {
      try {
        out.onNext(RevokeLeaseReplyProto.newBuilder().setLeader(meta.revokeOpenLease(r.getNodeId())).build());
        out.onCompleted();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        out.onError(Status.UNAVAILABLE.withDescription("node shutting down").asRuntimeException());
      }
    }
  }

  /** Calls other nodes' lease services on {@code client}'s channels; no call outlives {@code timeoutMs}. */
  static RaftMetaStore.LeaseLink link(BlockClient client, long timeoutMs) {
    Function<String, LeaseServiceGrpc.LeaseServiceFutureStub> stub = raftAddress -> LeaseServiceGrpc
        .newFutureStub(client.channelTo(NodeConfig.dataAddress(raftAddress)))
        .withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS);
    return new RaftMetaStore.LeaseLink() {
      @Override
      public CompletableFuture<RaftMetaStore.Grant> grant(String leader, String nodeId) {
        return BlockClient.completable(stub.apply(leader).grantLease(GrantLeaseRequestProto.newBuilder().setNodeId(nodeId).build()),
            r -> new RaftMetaStore.Grant(r.getValidNanos(), r.getTerm(), r.getApplyFirst()));
      }

      @Override
      public CompletableFuture<Boolean> awaitApplied(String address, long index, long waitMs) {
        return BlockClient.completable(stub.apply(address).awaitApplied(AwaitAppliedRequestProto.newBuilder().setIndex(index)
            .setTimeoutMs((int) waitMs).build()), AwaitAppliedReplyProto::getApplied);
      }

      @Override
      public CompletableFuture<Boolean> revoke(String leader, String nodeId) {
        return BlockClient.completable(stub.apply(leader).revokeLease(RevokeLeaseRequestProto.newBuilder().setNodeId(nodeId).build()),
            RevokeLeaseReplyProto::getLeader);
      }
    };
  }
}
