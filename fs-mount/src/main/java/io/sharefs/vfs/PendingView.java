package io.sharefs.vfs;

import io.sharefs.meta.Dentry;
import io.sharefs.meta.Inode;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What this node's write-behind ops will make of the metadata once they are applied: the inodes and
 * entries they create, change or remove, looked at before the local replica. Each op's predictions
 * form one {@link Prediction}, taken back as soon as the op is applied locally (the replica then says
 * the same) or has failed (the replica then says what really happened); a later prediction for the
 * same key replaces an earlier one and is only taken back by its own op.
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

  boolean isEmpty() {
    return inodes.isEmpty() && dentries.isEmpty();
  }

  /** Starts the predictions of one op. */
  Prediction predict() {
    return new Prediction();
  }

  /** One op's predictions, visible as soon as they are made and taken back together by {@link #settle}. */
  final class Prediction {
    private final List<Runnable> undo = new ArrayList<>(3);

    Prediction inode(Inode i) {
      return inode(i.ino(), Optional.of(i));
    }

    Prediction deleted(long ino) {
      return inode(ino, Optional.empty());
    }

    private Prediction inode(long ino, Optional<Inode> value) {
      inodes.put(ino, value);
      undo.add(() -> inodes.remove(ino, value));
      return this;
    }

    Prediction entry(Dentry d) {
      ByteBuffer k = key(d.parent(), d.name());
      dentries.put(k, d);
      undo.add(() -> dentries.remove(k, d));
      return this;
    }

    void settle() {
      undo.forEach(Runnable::run);
    }
  }

  private static ByteBuffer key(long parent, byte[] name) {
    return ByteBuffer.allocate(8 + name.length).putLong(parent).put(name).flip();
  }
}
