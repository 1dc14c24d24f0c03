package io.sharefs.meta.op;

import io.sharefs.meta.BlockRef;
import io.sharefs.meta.Errno;
import io.sharefs.meta.FileMode;
import io.sharefs.meta.Inode;
import io.sharefs.meta.Layout;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.MetaOpProto;
import io.sharefs.proto.SetAttrOpProto;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** chmod, chown, truncate and utimens. Times arrive settled (UTIME_NOW already resolved). */
public final class SetAttrOp extends MetaOp {
  public static final int MODE = 1;
  public static final int UID = 2;
  public static final int GID = 4;
  public static final int SIZE = 8;
  public static final int ATIME = 16;
  public static final int MTIME = 32;

  private final long ino;
  private final int valid;
  private final int mode;
  private final int newUid;
  private final int newGid;
  private final long size;
  private final long atimeNs;
  private final long mtimeNs;

  public SetAttrOp(long ino, int valid, int mode, int newUid, int newGid, long size, long atimeNs, long mtimeNs) {
    this.ino = ino;
    this.valid = valid;
    this.mode = mode;
    this.newUid = newUid;
    this.newGid = newGid;
    this.size = size;
    this.atimeNs = atimeNs;
    this.mtimeNs = mtimeNs;
  }

  public static SetAttrOp chmod(long ino, int mode) {
    return new SetAttrOp(ino, MODE, mode, 0, 0, 0, 0, 0);
  }

  public static SetAttrOp chown(long ino, int uid, int gid) {
    int valid = (uid >= 0 ? UID : 0) | (gid >= 0 ? GID : 0);
    return new SetAttrOp(ino, valid, 0, Math.max(uid, 0), Math.max(gid, 0), 0, 0, 0);
  }

  public static SetAttrOp truncate(long ino, long size) {
    return new SetAttrOp(ino, SIZE, 0, 0, 0, size, 0, 0);
  }

  public static SetAttrOp times(long ino, boolean setAtime, long atimeNs, boolean setMtime, long mtimeNs) {
    return new SetAttrOp(ino, (setAtime ? ATIME : 0) | (setMtime ? MTIME : 0), 0, 0, 0, 0, atimeNs, mtimeNs);
  }

  static SetAttrOp fromProto(SetAttrOpProto p) {
    return new SetAttrOp(p.getIno(), p.getValid(), p.getMode(), p.getUid(), p.getGid(), p.getSize(),
        p.getAtimeNs(), p.getMtimeNs());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setSetAttr(SetAttrOpProto.newBuilder().setIno(ino).setValid(valid).setMode(mode).setUid(newUid)
        .setGid(newGid).setSize(size).setAtimeNs(atimeNs).setMtimeNs(mtimeNs));
  }

  @Override
  public MetaResult apply(Txn txn) {
    Inode cur = txn.getInode(ino);
    if (cur == null) {
      return MetaResult.error(Errno.ENOENT);
    }
    if ((valid & SIZE) != 0) {
      if (cur.isDir()) {
        return MetaResult.error(Errno.EISDIR);
      }
      if (!cur.isReg()) {
        return MetaResult.error(Errno.EINVAL);
      }
      if (size < 0 || size > Layout.MAX_FILE_SIZE) {
        return MetaResult.error(size < 0 ? Errno.EINVAL : Errno.EFBIG);
      }
    }
    Inode out = applyTo(cur);
    txn.putInode(out);
    return MetaResult.ok(out);
  }

  public long ino() {
    return ino;
  }

  /** True if the op changes only mode, owner or times: it cannot fail on an existing inode. */
  public boolean attributesOnly() {
    return (valid & SIZE) == 0;
  }

  /** {@code cur} after this op (a size change already validated): what apply stores, and what write-behind predicts. */
  public Inode applyTo(Inode cur) {
    Inode.Builder b = cur.toBuilder();
    if ((valid & MODE) != 0) {
      b.mode = (cur.mode() & FileMode.S_IFMT) | (mode & FileMode.PERM_MASK);
    }
    if ((valid & UID) != 0) {
      b.uid = newUid;
    }
    if ((valid & GID) != 0) {
      b.gid = newGid;
    }
    if ((valid & SIZE) != 0) {
      b.size = size;
      b.blocks = truncateBlocks(cur.blocks(), size);
      if (cur.inlineData().length > size) {
        b.inlineData = Arrays.copyOf(cur.inlineData(), (int) size);
      }
      b.mtimeNs = nowNs;
      b.version++;
    }
    if ((valid & ATIME) != 0) {
      b.atimeNs = atimeNs;
    }
    if ((valid & MTIME) != 0) {
      b.mtimeNs = mtimeNs;
    }
    b.ctimeNs = nowNs;
    return b.build();
  }

  /** Drops blocks past {@code size} and shortens the last one; data beyond reads as zeros later. */
  public static List<BlockRef> truncateBlocks(List<BlockRef> blocks, long size) {
    long keep = (size + Layout.BLOCK_SIZE - 1) / Layout.BLOCK_SIZE;
    List<BlockRef> out = new ArrayList<>();
    for (int i = 0; i < blocks.size() && i < keep; i++) {
      long room = size - (long) i * Layout.BLOCK_SIZE;
      out.add(blocks.get(i).withLength((int) Math.min(room, Layout.BLOCK_SIZE)));
    }
    while (!out.isEmpty() && out.get(out.size() - 1).isHole()) {
      out.remove(out.size() - 1);
    }
    return out;
  }
}
