package io.sharefs.meta;

/**
 * Told what each applied log entry changed, so that caches outside the tables (the kernel's, on a
 * mounted node) can drop what went stale. Called on the apply thread, inside the apply: it must only
 * record, never wait.
 */
public interface ChangeListener {
  /** An inode record was written or deleted. */
  void inodeChanged(long ino);

  /** The entry {@code name} of directory {@code parent} was written or deleted. */
  void entryChanged(long parent, byte[] name);

  /**
   * An inode was deleted (its number is never used again). Reported for every entry, including this
   * node's own, so that whatever is kept per inode can go.
   */
  void inodeDeleted(long ino);

  /** The tables were replaced wholesale (a snapshot from the leader): anything may have changed. */
  void everythingChanged();
}
