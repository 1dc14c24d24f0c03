package io.sharefs.meta.op;

import com.google.protobuf.InvalidProtocolBufferException;
import io.sharefs.meta.Errno;
import io.sharefs.meta.FsException;
import io.sharefs.meta.MetaResult;
import io.sharefs.proto.MetaOpProto;
import io.sharefs.proto.MetaResultProto;

/** Decodes log entries into ops, and results to and from their wire form. */
public final class MetaOps {
  private MetaOps() {}

  public static MetaOp decode(byte[] bytes) {
    MetaOpProto p;
    try {
      p = MetaOpProto.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new FsException(Errno.EINVAL, "malformed metadata entry: " + e.getMessage());
    }
    return decode(p);
  }

  public static MetaOp decode(MetaOpProto p) {
    MetaOp op =
        switch (p.getOpCase()) {
          case CREATE -> CreateOp.fromProto(p.getCreate());
          case LINK -> LinkOp.fromProto(p.getLink());
          case UNLINK -> UnlinkOp.fromProto(p.getUnlink());
          case RENAME -> RenameOp.fromProto(p.getRename());
          case SET_ATTR -> SetAttrOp.fromProto(p.getSetAttr());
          case COMMIT_WRITE -> CommitWriteOp.fromProto(p.getCommitWrite());
          case SET_XATTR -> SetXattrOp.fromProto(p.getSetXattr());
          case REMOVE_XATTR -> RemoveXattrOp.fromProto(p.getRemoveXattr());
          case FORGET -> ForgetOp.fromProto(p.getForget());
          case LOCK -> LockOp.fromProto(p.getLock());
          case RELEASE_NODE_LOCKS -> ReleaseNodeLocksOp.fromProto(p.getReleaseNodeLocks());
          case RECORD_LOCK -> RecordLockOp.fromProto(p.getRecordLock());
          case REPAIR -> RepairOp.fromProto(p.getRepair());
          case SET_REPLICATION -> SetReplicationOp.fromProto(p.getSetReplication());
          case BATCH -> BatchOp.fromProto(p.getBatch());
          case RESERVE_INOS -> ReserveInosOp.fromProto(p.getReserveInos());
          case OP_NOT_SET -> throw new FsException(Errno.EINVAL, "metadata entry without an op");
        };
    return op.settle(p.getNowNs(), p.getUid(), p.getGid());
  }

  /**
   * A result as a peer replies it. Result inodes travel without their inline content: every peer
   * keeps each reply in Ratis' retry cache for the write timeout plus 5 s, and a node writing 14 KB
   * files at ~1,000 files/s would keep ~270 MB of them there. The submitter has the bytes it
   * committed (see Vfs.commit); reads go to the local replica.
   */
  public static byte[] encodeResult(MetaResult r) {
    return toProto(r).toByteArray();
  }

  /** A result as {@link #encodeResult}, with the nodes whose open lease may still be valid. */
  public static byte[] encodeReply(MetaResult r, java.util.List<String> leaseHolders) {
    return toProto(r).toBuilder().addAllLeaseHolders(leaseHolders).build().toByteArray();
  }

  private static MetaResultProto toProto(MetaResult r) {
    MetaResultProto.Builder b = MetaResultProto.newBuilder().setErrno(r.errno()).setReleasedIno(r.releasedIno())
        .setValue(r.value());
    if (r.inode() != null) {
      b.setInode(r.inode().toProto(false));
    }
    for (MetaResult inner : r.batch()) {
      b.addBatch(toProto(inner));
    }
    return b.build();
  }

  public static MetaResult decodeResult(byte[] bytes) {
    return fromProto(parseReply(bytes));
  }

  /** A reply as sent (see {@link #encodeReply}); {@link #fromProto} turns it into the result. */
  public static MetaResultProto parseReply(byte[] bytes) {
    try {
      return MetaResultProto.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new FsException(Errno.EIO, "malformed metadata reply");
    }
  }

  public static MetaResult fromProto(MetaResultProto p) {
    java.util.List<MetaResult> batch = new java.util.ArrayList<>(p.getBatchCount());
    for (MetaResultProto inner : p.getBatchList()) {
      batch.add(fromProto(inner));
    }
    return new MetaResult(p.getErrno(), p.hasInode() ? io.sharefs.meta.Inode.fromProto(p.getInode()) : null,
        p.getReleasedIno(), p.getValue(), batch);
  }
}
