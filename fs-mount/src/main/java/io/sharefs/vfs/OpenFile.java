package io.sharefs.vfs;

import io.sharefs.block.BlockStore;
import io.sharefs.meta.BlockRef;
import io.sharefs.meta.Errno;
import io.sharefs.meta.FsException;
import io.sharefs.meta.Inode;
import io.sharefs.meta.Layout;
import io.sharefs.meta.op.SetAttrOp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/**
 * The content of one open regular file on this node, shared by all its handles: the committed layout
 * (blocks or inline bytes) plus dirty blocks not yet sealed into the block store. Writes land in
 * dirty blocks; a block that fills up is sealed (hashed and stored) at once so a large sequential
 * write holds one block in memory; {@link #prepareCommit} seals the rest and yields the layout for
 * the metadata commit. All methods are called with the object's monitor held.
 */
final class OpenFile {
  private static final int B = Layout.BLOCK_SIZE;

  final long ino;
  int refs;
  private final BlockStore store;
  private final int inlineThreshold;
  private final int maxDirty;

  private long size;
  private final List<BlockRef> blocks = new ArrayList<>();
  private byte[] inline;
  private final TreeMap<Integer, Dirty> dirty = new TreeMap<>();
  private boolean modified;
  private long mtimeNs;

  /** chmod/chown/atime changes made while dirty, committed with the content (SetAttrOp mask). */
  private int attrValid;
  private int attrMode;
  private int attrUid;
  private int attrGid;
  private long attrAtimeNs;
  private long attrCtimeNs;

  private int cachedIndex = -1;
  private byte[] cachedBlock;

  private static final class Dirty {
    byte[] buf;
    int len;

    Dirty(byte[] buf, int len) {
      this.buf = buf;
      this.len = len;
    }
  }

  OpenFile(Inode inode, BlockStore store, int inlineThreshold, int maxDirty) {
    this.ino = inode.ino();
    this.store = store;
    this.inlineThreshold = inlineThreshold;
    this.maxDirty = maxDirty;
    reset(inode);
  }

  /** Adopts the committed layout of {@code inode}; only when nothing is dirty. */
  void reset(Inode inode) {
    if (modified) {
      return;
    }
    size = inode.size();
    blocks.clear();
    blocks.addAll(inode.blocks());
    inline = inode.inlineData();
    cachedIndex = -1;
    cachedBlock = null;
    mtimeNs = inode.mtimeNs();
  }

  boolean modified() {
    return modified;
  }

  /** Records an attribute change to commit with the pending content; only while modified. */
  void setAttrs(int valid, int mode, int uid, int gid, long atimeNs, long mtimeNs, long nowNs) {
    if ((valid & SetAttrOp.MODE) != 0) {
      attrMode = mode;
    }
    if ((valid & SetAttrOp.UID) != 0) {
      attrUid = uid;
    }
    if ((valid & SetAttrOp.GID) != 0) {
      attrGid = gid;
    }
    if ((valid & SetAttrOp.ATIME) != 0) {
      attrAtimeNs = atimeNs;
    }
    if ((valid & SetAttrOp.MTIME) != 0) {
      this.mtimeNs = mtimeNs; // a later write moves it on again, as POSIX wants
    }
    attrValid |= valid & ~SetAttrOp.MTIME;
    attrCtimeNs = nowNs;
  }

  /** The inode as this node sees it: committed attributes overlaid with pending ones. */
  Inode overlay(Inode i) {
    Inode.Builder b = i.toBuilder();
    b.size = size;
    b.blocks = pendingBlocks();
    b.inlineData = new byte[0];
    b.mtimeNs = mtimeNs;
    b.ctimeNs = Math.max(Math.max(i.ctimeNs(), mtimeNs), attrCtimeNs);
    if ((attrValid & SetAttrOp.MODE) != 0) {
      b.mode = (i.mode() & io.sharefs.meta.FileMode.S_IFMT) | (attrMode & io.sharefs.meta.FileMode.PERM_MASK);
    }
    if ((attrValid & SetAttrOp.UID) != 0) {
      b.uid = attrUid;
    }
    if ((attrValid & SetAttrOp.GID) != 0) {
      b.gid = attrGid;
    }
    if ((attrValid & SetAttrOp.ATIME) != 0) {
      b.atimeNs = attrAtimeNs;
    }
    return b.build();
  }

  io.sharefs.meta.op.CommitWriteOp.Attrs pendingAttrs() {
    return new io.sharefs.meta.op.CommitWriteOp.Attrs(attrValid, attrMode, attrUid, attrGid, attrAtimeNs);
  }

  long size() {
    return size;
  }

  long mtimeNs() {
    return mtimeNs;
  }

  /** Hashes of the stored blocks this file's layout holds: committed, or sealed and not yet committed. */
  void forEachStoredBlock(java.util.function.Consumer<byte[]> out) {
    for (BlockRef r : blocks) {
      if (!r.isHole()) {
        out.accept(r.hash());
      }
    }
  }

  /** The layout as it will be committed, dirty blocks standing in with a placeholder hash (for st_blocks). */
  List<BlockRef> pendingBlocks() {
    List<BlockRef> out = new ArrayList<>(blocks);
    if (inline.length > 0 && out.isEmpty()) {
      out.add(new BlockRef(PLACEHOLDER, inline.length));
    }
    for (var e : dirty.entrySet()) {
      while (out.size() <= e.getKey()) {
        out.add(BlockRef.HOLE);
      }
      out.set(e.getKey(), e.getValue().len == 0 ? BlockRef.HOLE : new BlockRef(PLACEHOLDER, e.getValue().len));
    }
    return out;
  }

  private static final byte[] PLACEHOLDER = new byte[32];

  /** Reads up to {@code len} bytes at {@code off} into {@code dst}; returns the count (0 at EOF). */
  int read(byte[] dst, int len, long off) {
    if (off >= size || len <= 0) {
      return 0;
    }
    int n = (int) Math.min(len, size - off);
    int done = 0;
    while (done < n) {
      long pos = off + done;
      int idx = (int) (pos / B);
      int in = (int) (pos % B);
      int chunk = Math.min(B - in, n - done);
      Dirty d = dirty.get(idx);
      byte[] src;
      int valid;
      if (d != null) {
        src = d.buf;
        valid = d.len;
      } else {
        src = baseBlock(idx);
        valid = baseValid(idx, src);
      }
      int fromSrc = Math.max(0, Math.min(chunk, valid - in));
      if (fromSrc > 0) {
        System.arraycopy(src, in, dst, done, fromSrc);
      }
      if (fromSrc < chunk) {
        Arrays.fill(dst, done + fromSrc, done + chunk, (byte) 0);
      }
      done += chunk;
    }
    return n;
  }

  /** Writes {@code len} bytes of {@code src} at {@code off}. */
  void write(byte[] src, int len, long off, long nowNs) {
    if (off + len > Layout.MAX_FILE_SIZE || off < 0) {
      throw new FsException(Errno.EFBIG);
    }
    int done = 0;
    while (done < len) {
      long pos = off + done;
      int idx = (int) (pos / B);
      int in = (int) (pos % B);
      int chunk = Math.min(B - in, len - done);
      Dirty d = dirtyBlock(idx, in + chunk);
      if (in > d.len) {
        Arrays.fill(d.buf, d.len, in, (byte) 0);
      }
      System.arraycopy(src, done, d.buf, in, chunk);
      d.len = Math.max(d.len, in + chunk);
      done += chunk;
      if (d.len == B && in + chunk == B) {
        seal(idx, d);
      }
    }
    size = Math.max(size, off + len);
    mtimeNs = nowNs;
    modified = true;
    if (dirty.size() > maxDirty) {
      sealAll();
    }
  }

  /** Changes the size: shrinking drops and trims blocks, growing leaves a hole that reads as zeros. */
  void truncate(long newSize, long nowNs) {
    if (newSize < size) {
      dirty.keySet().removeIf(i -> (long) i * B >= newSize);
      dirty.forEach((i, d) -> d.len = (int) Math.min(d.len, newSize - (long) i * B));
      List<BlockRef> kept = SetAttrOp.truncateBlocks(blocks, newSize);
      blocks.clear();
      blocks.addAll(kept);
      if (inline.length > newSize) {
        inline = Arrays.copyOf(inline, (int) newSize);
      }
      cachedIndex = -1;
      cachedBlock = null;
    }
    size = newSize;
    mtimeNs = nowNs;
    modified = true;
  }

  /** What to commit: inline bytes for small files, else every block sealed. */
  record Pending(long size, List<BlockRef> blocks, byte[] inline, long mtimeNs) {}

  Pending prepareCommit() {
    if (size <= inlineThreshold) {
      byte[] all = new byte[(int) size];
      read(all, all.length, 0);
      return new Pending(size, List.of(), all, mtimeNs);
    }
    if (inline.length > 0 && !dirty.containsKey(0)) {
      dirtyBlock(0, inline.length); // materialise the old inline bytes as block 0
    }
    sealAll();
    inline = new byte[0];
    return new Pending(size, List.copyOf(SetAttrOp.truncateBlocks(blocks, size)), new byte[0], mtimeNs);
  }

  /** After a successful commit: the committed inode becomes the new base. */
  void committed(Inode inode) {
    modified = false;
    attrValid = 0;
    dirty.clear();
    reset(inode);
  }

  private void sealAll() {
    for (var e : new ArrayList<>(dirty.entrySet())) {
      seal(e.getKey(), e.getValue());
    }
  }

  private void seal(int idx, Dirty d) {
    BlockRef ref;
    if (d.len == 0 || isZero(d.buf, d.len)) {
      ref = BlockRef.HOLE;
    } else {
      ref = new BlockRef(store.put(d.buf, 0, d.len), d.len);
    }
    while (blocks.size() <= idx) {
      blocks.add(BlockRef.HOLE);
    }
    blocks.set(idx, ref);
    dirty.remove(idx);
    if (cachedIndex == idx) {
      cachedIndex = -1;
      cachedBlock = null;
    }
  }

  private static boolean isZero(byte[] b, int len) {
    for (int i = 0; i < len; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }

  /** The dirty buffer of block {@code idx}, created from its committed bytes, with room for {@code need} bytes. */
  private Dirty dirtyBlock(int idx, int need) {
    Dirty d = dirty.get(idx);
    if (d == null) {
      byte[] base = baseBlock(idx);
      int valid = baseValid(idx, base);
      byte[] buf = new byte[capacityFor(Math.max(need, valid))];
      if (valid > 0) {
        System.arraycopy(base, 0, buf, 0, valid);
      }
      d = new Dirty(buf, valid);
      dirty.put(idx, d);
    } else if (d.buf.length < need) {
      d.buf = Arrays.copyOf(d.buf, capacityFor(need));
    }
    return d;
  }

  private static int capacityFor(int need) {
    int cap = 4096;
    while (cap < need) {
      cap <<= 1;
    }
    return Math.min(cap, B);
  }

  /** Bytes of block {@code idx} as committed (verified), or an empty array for holes. */
  private byte[] baseBlock(int idx) {
    if (idx == 0 && inline.length > 0) {
      return inline;
    }
    if (idx >= blocks.size() || blocks.get(idx).isHole()) {
      return EMPTY;
    }
    if (cachedIndex == idx) {
      return cachedBlock;
    }
    BlockRef ref = blocks.get(idx);
    byte[] data = BlockReader.read(store, ref.hash(), ino);
    cachedIndex = idx;
    cachedBlock = data;
    return data;
  }

  private int baseValid(int idx, byte[] data) {
    long limit = size - (long) idx * B;
    int refLen = idx == 0 && inline.length > 0 ? inline.length
        : idx < blocks.size() ? blocks.get(idx).length() : 0;
    return (int) Math.max(0, Math.min(Math.min(refLen, data.length), limit));
  }

  private static final byte[] EMPTY = new byte[0];
}
