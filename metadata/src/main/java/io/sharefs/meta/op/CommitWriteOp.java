package io.sharefs.meta.op;

import com.google.protobuf.ByteString;
import io.sharefs.meta.BlockRef;
import io.sharefs.meta.Errno;
import io.sharefs.meta.FileMode;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.CommitWriteOpProto;
import io.sharefs.proto.MetaOpProto;
import java.util.List;

/** Replaces a file's content with blocks already stored (or small inline bytes): the later commit wins. */
public final class CommitWriteOp extends MetaOp {
  private final long ino;
  private final long size;
  private final List<BlockRef> blocks;
  private final byte[] inlineData;
  private final long mtimeNs;

  public CommitWriteOp(long ino, long size, List<BlockRef> blocks, byte[] inlineData, long mtimeNs) {
    this.ino = ino;
    this.size = size;
    this.blocks = blocks;
    this.inlineData = inlineData;
    this.mtimeNs = mtimeNs;
  }

  static CommitWriteOp fromProto(CommitWriteOpProto p) {
    return new CommitWriteOp(p.getIno(), p.getSize(), Inode.fromProtos(p.getBlocksList()),
        p.getInlineData().toByteArray(), p.getMtimeNs());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    CommitWriteOpProto.Builder c = CommitWriteOpProto.newBuilder().setIno(ino).setSize(size)
        .setInlineData(ByteString.copyFrom(inlineData)).setMtimeNs(mtimeNs);
    for (BlockRef r : blocks) {
      c.addBlocks(Inode.toProto(r));
    }
    b.setCommitWrite(c);
  }

  public List<BlockRef> blocks() {
    return blocks;
  }

  @Override
  public MetaResult apply(Txn txn) {
    Inode cur = txn.getInode(ino);
    if (cur == null) {
      return MetaResult.error(Errno.ENOENT);
    }
    if (!FileMode.isReg(cur.mode())) {
      return MetaResult.error(Errno.EINVAL);
    }
    Inode.Builder b = cur.toBuilder();
    b.size = size;
    b.blocks = blocks;
    b.inlineData = inlineData;
    b.mtimeNs = mtimeNs;
    b.ctimeNs = Math.max(mtimeNs, nowNs);
    b.version++;
    Inode out = b.build();
    txn.putInode(out);
    return MetaResult.ok(out);
  }
}
