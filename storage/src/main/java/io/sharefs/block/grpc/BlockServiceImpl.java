package io.sharefs.block.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.sharefs.block.BlockHash;
import io.sharefs.block.BlockStoreException;
import io.sharefs.block.CorruptBlockException;
import io.sharefs.block.rocks.RocksBlockStore;
import io.sharefs.proto.BlockBatchProto;
import io.sharefs.proto.BlockDataProto;
import io.sharefs.proto.BlockInfoProto;
import io.sharefs.proto.DropBlockReplyProto;
import io.sharefs.proto.ScanBlocksRequestProto;
import io.sharefs.proto.BlockIdProto;
import io.sharefs.proto.BlockServiceGrpc;
import io.sharefs.proto.HasBlocksReplyProto;
import io.sharefs.proto.HasBlocksRequestProto;
import io.sharefs.proto.PutBlockReplyProto;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Serves this node's local blocks to peers; verifies every block it receives against its hash. */
public final class BlockServiceImpl extends BlockServiceGrpc.BlockServiceImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(BlockServiceImpl.class);
  private final RocksBlockStore store;

  public BlockServiceImpl(RocksBlockStore store) {
    this.store = store;
  }

  @Override
  public void getBlock(BlockIdProto req, StreamObserver<BlockDataProto> out) {
    byte[] hash = req.getHash().toByteArray();
    try {
      byte[] data = store.get(hash);
      if (data == null) {
        out.onError(Status.NOT_FOUND.withDescription("no block " + BlockHash.hex(hash)).asRuntimeException());
        return;
      }
      out.onNext(BlockDataProto.newBuilder().setHash(req.getHash()).setData(UnsafeByteOperations.unsafeWrap(data))
          .build());
      out.onCompleted();
    } catch (CorruptBlockException e) {
      LOG.error("peer asked for a corrupt block: {}", e.getMessage());
      out.onError(Status.DATA_LOSS.withDescription(e.getMessage()).asRuntimeException());
    } catch (BlockStoreException e) {
      out.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
    }
  }

  @Override
  public void putBlock(BlockDataProto req, StreamObserver<PutBlockReplyProto> out) {
    byte[] hash = req.getHash().toByteArray();
    try {
      // A write may be deduplicated onto a stored block: touching it keeps it from fsck and the block
      // collector; if one dropped it between the check and the touch, store the bytes after all.
      if (!store.has(hash) || !store.touch(hash)) {
        store.putVerified(hash, req.getData().toByteArray());
      }
      // The writer counts this copy towards the commit that will name the block, and Ratis fsyncs
      // that commit before it acknowledges it: the copy must be on disk first.
      store.sync();
      out.onNext(PutBlockReplyProto.newBuilder().setStored(true).build());
      out.onCompleted();
    } catch (CorruptBlockException e) {
      LOG.warn("refused a block from a peer: {}", e.getMessage());
      out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
    } catch (BlockStoreException e) {
      Status s = e.noSpace() ? Status.RESOURCE_EXHAUSTED : Status.INTERNAL;
      out.onError(s.withDescription(e.getMessage()).asRuntimeException());
    }
  }

  @Override
  public void scanBlocks(ScanBlocksRequestProto req, StreamObserver<BlockBatchProto> out) {
    BlockBatchProto.Builder[] batch = {BlockBatchProto.newBuilder()};
    try {
      store.scan(req.getVerify(), b -> {
        batch[0].addBlocks(BlockInfoProto.newBuilder().setHash(ByteString.copyFrom(b.hash())).setSize(b.size())
            .setTouchedMs(b.touchedMs()).setCorrupt(b.corrupt()));
        if (batch[0].getBlocksCount() == 4096) {
          out.onNext(batch[0].build());
          batch[0] = BlockBatchProto.newBuilder();
        }
        return true;
      });
      // fsck and rebalance count every copy listed here, and rebalance may drop others on its word:
      // a listed copy written moments ago (a file not yet committed) must be on disk too.
      store.sync();
      out.onNext(batch[0].build());
      out.onCompleted();
    } catch (BlockStoreException e) {
      out.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
    }
  }

  @Override
  public void dropBlock(BlockIdProto req, StreamObserver<DropBlockReplyProto> out) {
    byte[] hash = req.getHash().toByteArray();
    boolean had = store.has(hash);
    store.delete(hash);
    LOG.info("dropped block {} on fsck's request", BlockHash.hex(hash));
    out.onNext(DropBlockReplyProto.newBuilder().setDropped(had).build());
    out.onCompleted();
  }

  @Override
  public void hasBlocks(HasBlocksRequestProto req, StreamObserver<HasBlocksReplyProto> out) {
    HasBlocksReplyProto.Builder b = HasBlocksReplyProto.newBuilder();
    for (ByteString h : req.getHashesList()) {
      b.addPresent(store.has(h.toByteArray()));
    }
    out.onNext(b.build());
    out.onCompleted();
  }
}
