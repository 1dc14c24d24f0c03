package io.sharefs.meta;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.sharefs.proto.BlockRefProto;
import io.sharefs.proto.InodeProto;
import java.util.ArrayList;
import java.util.List;

/** An immutable inode: attributes plus the file's content layout. Owns its codec. */
public record Inode(
    long ino,
    int mode,
    int uid,
    int gid,
    int nlink,
    long size,
    long atimeNs,
    long mtimeNs,
    long ctimeNs,
    long rdev,
    List<BlockRef> blocks,
    byte[] inlineData,
    byte[] symlinkTarget,
    long version,
    long parent) {

  public static final long ROOT_INO = 1;

  public boolean isDir() {
    return FileMode.isDir(mode);
  }

  public boolean isReg() {
    return FileMode.isReg(mode);
  }

  public boolean isSymlink() {
    return FileMode.isLink(mode);
  }

  public int type() {
    return FileMode.type(mode);
  }

  public InodeProto toProto() {
    return toProto(true);
  }

  /** The record; without {@code inline} content when {@code withInline} is false (size and layout stay). */
  public InodeProto toProto(boolean withInline) {
    InodeProto.Builder b =
        InodeProto.newBuilder()
            .setIno(ino)
            .setMode(mode)
            .setUid(uid)
            .setGid(gid)
            .setNlink(nlink)
            .setSize(size)
            .setAtimeNs(atimeNs)
            .setMtimeNs(mtimeNs)
            .setCtimeNs(ctimeNs)
            .setRdev(rdev)
            .setVersion(version)
            .setParent(parent);
    for (BlockRef r : blocks) {
      b.addBlocks(toProto(r));
    }
    if (withInline && inlineData.length > 0) {
      b.setInlineData(ByteString.copyFrom(inlineData));
    }
    if (symlinkTarget.length > 0) {
      b.setSymlinkTarget(ByteString.copyFrom(symlinkTarget));
    }
    return b.build();
  }

  public byte[] toBytes() {
    return toProto().toByteArray();
  }

  public static Inode fromProto(InodeProto p) {
    return new Inode(
        p.getIno(),
        p.getMode(),
        p.getUid(),
        p.getGid(),
        p.getNlink(),
        p.getSize(),
        p.getAtimeNs(),
        p.getMtimeNs(),
        p.getCtimeNs(),
        p.getRdev(),
        fromProtos(p.getBlocksList()),
        p.getInlineData().toByteArray(),
        p.getSymlinkTarget().toByteArray(),
        p.getVersion(),
        p.getParent());
  }

  public static Inode fromBytes(byte[] bytes) {
    try {
      return fromProto(InodeProto.parseFrom(bytes));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt inode record", e);
    }
  }

  public static BlockRefProto toProto(BlockRef r) {
    return BlockRefProto.newBuilder().setHash(ByteString.copyFrom(r.hash())).setLength(r.length()).build();
  }

  public static List<BlockRef> fromProtos(List<BlockRefProto> list) {
    List<BlockRef> out = new ArrayList<>(list.size());
    for (BlockRefProto p : list) {
      out.add(p.getHash().isEmpty() ? BlockRef.HOLE : new BlockRef(p.getHash().toByteArray(), p.getLength()));
    }
    return List.copyOf(out);
  }

  /** A builder seeded from this inode, for the state machine's mutations. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** Mutable copy used inside {@code apply}; never escapes it. */
  public static final class Builder {
    public long ino;
    public int mode;
    public int uid;
    public int gid;
    public int nlink;
    public long size;
    public long atimeNs;
    public long mtimeNs;
    public long ctimeNs;
    public long rdev;
    public List<BlockRef> blocks;
    public byte[] inlineData;
    public byte[] symlinkTarget;
    public long version;
    public long parent;

    public Builder() {
      blocks = List.of();
      inlineData = new byte[0];
      symlinkTarget = new byte[0];
    }

    Builder(Inode i) {
      ino = i.ino;
      mode = i.mode;
      uid = i.uid;
      gid = i.gid;
      nlink = i.nlink;
      size = i.size;
      atimeNs = i.atimeNs;
      mtimeNs = i.mtimeNs;
      ctimeNs = i.ctimeNs;
      rdev = i.rdev;
      blocks = i.blocks;
      inlineData = i.inlineData;
      symlinkTarget = i.symlinkTarget;
      version = i.version;
      parent = i.parent;
    }

    public Inode build() {
      return new Inode(ino, mode, uid, gid, nlink, size, atimeNs, mtimeNs, ctimeNs, rdev,
          List.copyOf(blocks), inlineData, symlinkTarget, version, parent);
    }
  }
}
