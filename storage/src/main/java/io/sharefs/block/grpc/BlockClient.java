package io.sharefs.block.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.sharefs.tls.TlsIdentity;
import io.sharefs.block.BlockHash;
import io.sharefs.proto.BlockBatchProto;
import io.sharefs.proto.BlockDataProto;
import io.sharefs.proto.BlockInfoProto;
import io.sharefs.proto.ScanBlocksRequestProto;
import io.sharefs.proto.BlockIdProto;
import io.sharefs.proto.BlockServiceGrpc;
import java.security.MessageDigest;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** Calls other nodes' block services over TLS with this node's certificate; one channel per peer address. */
public final class BlockClient implements AutoCloseable {
  private final TlsIdentity identity;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final long timeoutMs;

  private final CallErrors errors;

  public BlockClient(TlsIdentity identity, long timeoutMs) {
    this(identity, timeoutMs, CallErrors.NONE);
  }

  public BlockClient(TlsIdentity identity, long timeoutMs, CallErrors errors) {
    this.identity = identity;
    this.errors = errors;
    this.timeoutMs = timeoutMs;
  }

  private ManagedChannel channel(String address) {
    return channels.computeIfAbsent(address, a -> NettyChannelBuilder.forTarget(a, identity.channelCredentials()).intercept(errors.client())
        .maxInboundMessageSize(8 << 20).build());
  }

  /** The channel to a node's RPC port, for other services served there (one connection per peer). */
  public ManagedChannel channelTo(String address) {
    return channel(address);
  }

  private BlockServiceGrpc.BlockServiceFutureStub stub(String address) {
    return BlockServiceGrpc.newFutureStub(channel(address))
        .withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS);
  }

  /** Sends a block to a peer; completes when the peer has stored it. */
  public CompletableFuture<Void> put(String address, byte[] hash, byte[] data, int off, int len) {
    BlockDataProto req = BlockDataProto.newBuilder().setHash(ByteString.copyFrom(hash))
        .setData(UnsafeByteOperations.unsafeWrap(data, off, len)).build();
    return completable(stub(address).putBlock(req), r -> null);
  }

  /** A gRPC future call as a CompletableFuture of {@code value} applied to its reply. */
  public static <R, T> CompletableFuture<T> completable(ListenableFuture<R> call, java.util.function.Function<R, T> value) {
    CompletableFuture<T> f = new CompletableFuture<>();
    Futures.addCallback(call, new FutureCallback<>() {
      @Override
      public void onSuccess(R r) {
        f.complete(value.apply(r));
      }

      @Override
      public void onFailure(Throwable t) {
        f.completeExceptionally(t);
      }
    }, MoreExecutors.directExecutor());
    return f;
  }

  /** The block from a peer, verified; null if the peer does not have it. Throws on transport errors or a bad copy. */
  public byte[] get(String address, byte[] hash) throws Exception {
    try {
      BlockDataProto r = stub(address).getBlock(BlockIdProto.newBuilder().setHash(ByteString.copyFrom(hash)).build())
          .get(timeoutMs + 1000, TimeUnit.MILLISECONDS);
      byte[] data = r.getData().toByteArray();
      if (!MessageDigest.isEqual(hash, BlockHash.of(data))) {
        throw new IllegalStateException("peer " + address + " sent bytes that do not match block " + BlockHash.hex(hash));
      }
      return data;
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof StatusRuntimeException s && s.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return null;
      }
      throw e;
    }
  }

  /** Every block a peer holds (fsck), re-hashed there when {@code verify}; visits them as they stream in. */
  public void scan(String address, boolean verify, java.util.function.Consumer<BlockInfoProto> visitor) {
    java.util.Iterator<BlockBatchProto> it = BlockServiceGrpc.newBlockingStub(channel(address))
        .withDeadlineAfter(2, TimeUnit.HOURS).scanBlocks(ScanBlocksRequestProto.newBuilder().setVerify(verify).build());
    while (it.hasNext()) {
      it.next().getBlocksList().forEach(visitor);
    }
  }

  /** Whether a peer holds the block (a copy it would serve). */
  public boolean has(String address, byte[] hash) {
    return BlockServiceGrpc.newBlockingStub(channel(address)).withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
        .hasBlocks(io.sharefs.proto.HasBlocksRequestProto.newBuilder().addHashes(ByteString.copyFrom(hash)).build())
        .getPresent(0);
  }

  /** Round trip to a peer's block service (an empty HasBlocks); throws if it does not answer within 1 s. */
  public long pingNanos(String address) {
    long t0 = System.nanoTime();
    BlockServiceGrpc.newBlockingStub(channel(address)).withDeadlineAfter(1, TimeUnit.SECONDS)
        .hasBlocks(io.sharefs.proto.HasBlocksRequestProto.getDefaultInstance());
    return System.nanoTime() - t0;
  }

  /** Asks a peer to drop its copy of a block (fsck repair). */
  public void drop(String address, byte[] hash) {
    BlockServiceGrpc.newBlockingStub(channel(address)).withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)
        .dropBlock(BlockIdProto.newBuilder().setHash(ByteString.copyFrom(hash)).build());
  }

  @Override
  public void close() {
    for (ManagedChannel c : channels.values()) {
      c.shutdownNow();
    }
    channels.clear();
  }
}
