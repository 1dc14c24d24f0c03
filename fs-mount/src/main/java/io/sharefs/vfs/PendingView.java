package io.sharefs.vfs;

import io.sharefs.meta.Dentry;
import io.sharefs.meta.Inode;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What this node's write-behind ops will make of the metadata once they are applied: the inodes and
 * entries they create or change, looked at before the local replica. An op's predictions are taken
 * back as soon as it is applied locally (the replica then says the same) or has failed (the replica
 * then says what really happened); a later prediction for the same key replaces an earlier one and is
 * only taken back by its own op. Only additions and updates are predicted: removals stay synchronous.
 */
final class PendingView {
  private final Map<Long, Inode> inodes = new ConcurrentHashMap<>();
  private final Map<ByteBuffer, Dentry> dentries = new ConcurrentHashMap<>();

  Inode inode(long ino) {
    return inodes.isEmpty() ? null : inodes.get(ino);
  }

  Dentry dentry(long parent, byte[] name) {
    return dentries.isEmpty() ? null : dentries.get(key(parent, name));
  }

  void put(Inode i) {
    inodes.put(i.ino(), i);
  }

  void put(Dentry d) {
    dentries.put(key(d.parent(), d.name()), d);
  }

  /** Takes back {@code i} unless a later prediction replaced it. */
  void settle(Inode i) {
    inodes.remove(i.ino(), i);
  }

  void settle(Dentry d) {
    dentries.remove(key(d.parent(), d.name()), d);
  }

  boolean isEmpty() {
    return inodes.isEmpty() && dentries.isEmpty();
  }

  private static ByteBuffer key(long parent, byte[] name) {
    return ByteBuffer.allocate(8 + name.length).putLong(parent).put(name).flip();
  }
}
