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
  private final Attrs attrs;

  /** Attribute changes (chmod, chown, atime) made while the file was open for writing; valid is a SetAttrOp mask. */
  public record Attrs(int valid, int mode, int uid, int gid, long atimeNs) {
    public static final Attrs NONE = new Attrs(0, 0, 0, 0, 0);
  }

  public CommitWriteOp(long ino, long size, List<BlockRef> blocks, byte[] inlineData, long mtimeNs) {
    this(ino, size, blocks, inlineData, mtimeNs, Attrs.NONE);
  }

  public CommitWriteOp(long ino, long size, List<BlockRef> blocks, byte[] inlineData, long mtimeNs, Attrs attrs) {
    this.ino = ino;
    this.size = size;
    this.blocks = blocks;
    this.inlineData = inlineData;
    this.mtimeNs = mtimeNs;
    this.attrs = attrs;
  }

  static CommitWriteOp fromProto(CommitWriteOpProto p) {
    return new CommitWriteOp(p.getIno(), p.getSize(), Inode.fromProtos(p.getBlocksList()),
        p.getInlineData().toByteArray(), p.getMtimeNs(),
        new Attrs(p.getAttrValid(), p.getMode(), p.getUid(), p.getGid(), p.getAtimeNs()));
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    CommitWriteOpProto.Builder c = CommitWriteOpProto.newBuilder().setIno(ino).setSize(size)
        .setInlineData(ByteString.copyFrom(inlineData)).setMtimeNs(mtimeNs)
        .setAttrValid(attrs.valid()).setMode(attrs.mode()).setUid(attrs.uid()).setGid(attrs.gid())
        .setAtimeNs(attrs.atimeNs());
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
    Inode out = applyTo(cur);
    txn.putInode(out);
    return MetaResult.ok(out);
  }

  /** The regular file {@code cur} after this commit: what apply stores, and what write-behind predicts. */
  public Inode applyTo(Inode cur) {
    Inode.Builder b = cur.toBuilder();
    b.size = size;
    b.blocks = blocks;
    b.inlineData = inlineData;
    b.mtimeNs = mtimeNs;
    b.ctimeNs = Math.max(mtimeNs, nowNs);
    b.version++;
    if ((attrs.valid() & SetAttrOp.MODE) != 0) {
      b.mode = (cur.mode() & FileMode.S_IFMT) | (attrs.mode() & FileMode.PERM_MASK);
    }
    if ((attrs.valid() & SetAttrOp.UID) != 0) {
      b.uid = attrs.uid();
    }
    if ((attrs.valid() & SetAttrOp.GID) != 0) {
      b.gid = attrs.gid();
    }
    if ((attrs.valid() & SetAttrOp.ATIME) != 0) {
      b.atimeNs = attrs.atimeNs();
    }
    return b.build();
  }
}
