package io.sharefs.meta.op;

import com.google.protobuf.ByteString;
import io.sharefs.meta.Errno;
import io.sharefs.meta.FileMode;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.CreateOpProto;
import io.sharefs.proto.MetaOpProto;

/** Creates a file, directory, symlink, fifo, socket or device node under a parent. */
public final class CreateOp extends MetaOp {
  private final long parent;
  private final byte[] name;
  private final int mode;
  private final long rdev;
  private final byte[] symlinkTarget;
  private final long ino;

  public CreateOp(long parent, byte[] name, int mode, long rdev, byte[] symlinkTarget) {
    this(parent, name, mode, rdev, symlinkTarget, 0);
  }

  /**
   * With {@code ino} != 0 the proposer names the new inode itself, from a range it reserved
   * ({@link ReserveInosOp}), so it knows the result before the entry commits (write-behind).
   */
  public CreateOp(long parent, byte[] name, int mode, long rdev, byte[] symlinkTarget, long ino) {
    this.parent = parent;
    this.name = name;
    this.mode = mode;
    this.rdev = rdev;
    this.symlinkTarget = symlinkTarget == null ? new byte[0] : symlinkTarget;
    this.ino = ino;
  }

  static CreateOp fromProto(CreateOpProto p) {
    return new CreateOp(p.getParent(), p.getName().toByteArray(), p.getMode(), p.getRdev(),
        p.getSymlinkTarget().toByteArray(), p.getIno());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setCreate(CreateOpProto.newBuilder().setParent(parent).setName(ByteString.copyFrom(name))
        .setMode(mode).setRdev(rdev).setSymlinkTarget(ByteString.copyFrom(symlinkTarget)).setIno(ino));
  }


  @Override
  public MetaResult apply(Txn txn) {
    int bad = checkName(name);
    if (bad != 0) {
      return MetaResult.error(bad);
    }
    Inode dir = txn.getInode(parent);
    MetaResult notDir = requireDir(dir);
    if (notDir != null) {
      return notDir;
    }
    var existing = txn.getDentry(parent, name);
    if (ino != 0 && existing != null && existing.ino() == ino) {
      return MetaResult.ok(txn.getInode(ino)); // the same proposal applied again (a client retry)
    }
    if (existing != null) {
      return MetaResult.error(Errno.EEXIST);
    }
    if (ino != 0 && (ino < ReserveInosOp.FIRST || txn.getInode(ino) != null)) {
      return MetaResult.error(Errno.EINVAL); // not a reservable number, or already taken
    }
    Inode created = newInode(dir, ino != 0 ? ino : txn.allocIno());
    txn.putInode(created);
    txn.putDentry(parent, name, created.ino(), created.mode());
    txn.putInode(touchedParent(dir));
    return MetaResult.ok(created);
  }

  /** The inode this op creates as {@code ino} under {@code dir}: what apply stores, and what write-behind predicts. */
  public Inode newInode(Inode dir, long ino) {
    boolean isDir = FileMode.isDir(mode);
    Inode.Builder b = new Inode.Builder();
    b.ino = ino;
    b.mode = mode;
    b.uid = uid;
    b.gid = gid;
    if ((dir.mode() & FileMode.S_ISGID) != 0) {
      // setgid directory: new entries take its group; subdirectories inherit the bit.
      b.gid = dir.gid();
      if (isDir) {
        b.mode |= FileMode.S_ISGID;
      }
    }
    if (!isDir && (b.mode & FileMode.S_ISGID) != 0 && uid != 0 && b.gid != gid) {
      b.mode &= ~FileMode.S_ISGID; // as inode_init_owner: non-members cannot create sgid files
    }
    b.nlink = isDir ? 2 : 1;
    b.size = isDir ? 4096 : FileMode.isLink(mode) ? symlinkTarget.length : 0;
    b.atimeNs = b.mtimeNs = b.ctimeNs = nowNs;
    b.rdev = rdev;
    b.symlinkTarget = symlinkTarget;
    b.parent = isDir ? parent : 0;
    return b.build();
  }

  /** The parent directory after this op: what write-behind predicts for it. */
  public Inode touchedParent(Inode dir) {
    return touched(dir, FileMode.isDir(mode) ? 1 : 0);
  }
}
