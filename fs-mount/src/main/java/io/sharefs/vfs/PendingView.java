package io.sharefs.vfs;

import io.sharefs.meta.Dentry;
import io.sharefs.meta.Inode;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What this node's write-behind ops will make of the metadata once they are applied: the inodes and
 * entries they create or change, looked at before the local replica. An op's predictions are taken
 * back as soon as it is applied locally (the replica then says the same) or has failed (the replica
 * then says what really happened); a later prediction for the same key replaces an earlier one and is
 * only taken back by its own op. A removal is predicted as an empty inode and an entry pointing at
 * inode 0.
 */
final class PendingView {
  private final Map<Long, Optional<Inode>> inodes = new ConcurrentHashMap<>();
  private final Map<ByteBuffer, Dentry> dentries = new ConcurrentHashMap<>();

  /** The predicted inode; empty if predicted deleted; null if nothing is predicted. */
  Optional<Inode> inode(long ino) {
    return inodes.isEmpty() ? null : inodes.get(ino);
  }

  /** The predicted entry (inode 0: predicted removed), or null if nothing is predicted. */
  Dentry dentry(long parent, byte[] name) {
    return dentries.isEmpty() ? null : dentries.get(key(parent, name));
  }

  /** Predicts {@code i}; returns what to hand {@link #settle(long, Optional)} once its op is done. */
  Optional<Inode> put(Inode i) {
    Optional<Inode> o = Optional.of(i);
    inodes.put(i.ino(), o);
    return o;
  }

  Optional<Inode> putDeleted(long ino) {
    Optional<Inode> o = Optional.empty();
    inodes.put(ino, o);
    return o;
  }

  void put(Dentry d) {
    dentries.put(key(d.parent(), d.name()), d);
  }

  /** Takes back a prediction unless a later one replaced it. */
  void settle(long ino, Optional<Inode> prediction) {
    inodes.remove(ino, prediction);
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
