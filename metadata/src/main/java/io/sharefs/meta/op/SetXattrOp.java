package io.sharefs.meta.op;

import com.google.protobuf.ByteString;
import io.sharefs.meta.Errno;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.Txn;
import io.sharefs.proto.MetaOpProto;
import io.sharefs.proto.SetXattrOpProto;

/** setxattr(2) with XATTR_CREATE / XATTR_REPLACE. */
public final class SetXattrOp extends MetaOp {
  public static final int CREATE = 1;
  public static final int REPLACE = 2;
  public static final int NAME_MAX = 255;
  public static final int VALUE_MAX = 65536;

  private final long ino;
  private final byte[] name;
  private final byte[] value;
  private final int flags;

  public SetXattrOp(long ino, byte[] name, byte[] value, int flags) {
    this.ino = ino;
    this.name = name;
    this.value = value;
    this.flags = flags;
  }

  static SetXattrOp fromProto(SetXattrOpProto p) {
    return new SetXattrOp(p.getIno(), p.getName().toByteArray(), p.getValue().toByteArray(), p.getFlags());
  }

  @Override
  protected void fill(MetaOpProto.Builder b) {
    b.setSetXattr(SetXattrOpProto.newBuilder().setIno(ino).setName(ByteString.copyFrom(name))
        .setValue(ByteString.copyFrom(value)).setFlags(flags));
  }

  @Override
  public MetaResult apply(Txn txn) {
    if (name.length == 0 || name.length > NAME_MAX) {
      return MetaResult.error(name.length == 0 ? Errno.EINVAL : Errno.ERANGE);
    }
    if (value.length > VALUE_MAX) {
      return MetaResult.error(Errno.ENOSPC);
    }
    Inode cur = txn.getInode(ino);
    if (cur == null) {
      return MetaResult.error(Errno.ENOENT);
    }
    boolean exists = txn.getXattr(ino, name) != null;
    if ((flags & CREATE) != 0 && exists) {
      return MetaResult.error(Errno.EEXIST);
    }
    if ((flags & REPLACE) != 0 && !exists) {
      return MetaResult.error(Errno.ENODATA);
    }
    txn.putXattr(ino, name, value);
    Inode.Builder b = cur.toBuilder();
    b.ctimeNs = nowNs;
    Inode out = b.build();
    txn.putInode(out);
    return MetaResult.ok(out);
  }
}
