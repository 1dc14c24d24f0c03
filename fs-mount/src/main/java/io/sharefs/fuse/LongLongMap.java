package io.sharefs.fuse;

/**
 * A map from nonzero longs to nonzero longs in two flat arrays (open addressing, linear probing): 16
 * bytes a slot instead of ~80 for a map of boxed longs, which matters at a million cached files.
 * Zero stands for "absent". Thread-safe by a lock on every call.
 */
final class LongLongMap {
  private long[] keys = new long[64];
  private long[] values = new long[64];
  private int size;

  synchronized long get(long key) {
    int mask = keys.length - 1;
    for (int i = slot(key, mask); ; i = (i + 1) & mask) {
      long k = keys[i];
      if (k == key) {
        return values[i];
      }
      if (k == 0) {
        return 0;
      }
    }
  }

  /** Maps {@code key} to {@code value}; returns the value it replaced, or 0. */
  synchronized long put(long key, long value) {
    if (key == 0 || value == 0) {
      throw new IllegalArgumentException("zero means absent");
    }
    if (2 * (size + 1) > keys.length) {
      grow();
    }
    int mask = keys.length - 1;
    for (int i = slot(key, mask); ; i = (i + 1) & mask) {
      if (keys[i] == key) {
        long old = values[i];
        values[i] = value;
        return old;
      }
      if (keys[i] == 0) {
        keys[i] = key;
        values[i] = value;
        size++;
        return 0;
      }
    }
  }

  /** Removes {@code key}; returns its value, or 0. */
  synchronized long remove(long key) {
    int mask = keys.length - 1;
    int i = slot(key, mask);
    while (keys[i] != key) {
      if (keys[i] == 0) {
        return 0;
      }
      i = (i + 1) & mask;
    }
    long old = values[i];
    // Shift later members of the run back so that no lookup stops at the hole.
    for (int hole = i, j = (i + 1) & mask; ; j = (j + 1) & mask) {
      if (keys[j] == 0) {
        keys[hole] = 0;
        values[hole] = 0;
        break;
      }
      int home = slot(keys[j], mask);
      // j may move to the hole unless its home lies cyclically in (hole, j].
      boolean stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (!stays) {
        keys[hole] = keys[j];
        values[hole] = values[j];
        hole = j;
      }
    }
    size--;
    return old;
  }

  synchronized int size() {
    return size;
  }

  /** Calls {@code visitor} with every entry, on a copy taken under the lock. */
  void forEach(java.util.function.BiConsumer<Long, Long> visitor) {
    long[] k;
    long[] v;
    synchronized (this) {
      k = keys.clone();
      v = values.clone();
    }
    for (int i = 0; i < k.length; i++) {
      if (k[i] != 0) {
        visitor.accept(k[i], v[i]);
      }
    }
  }

  private void grow() {
    long[] oldKeys = keys;
    long[] oldValues = values;
    keys = new long[oldKeys.length * 2];
    values = new long[oldKeys.length * 2];
    int mask = keys.length - 1;
    for (int j = 0; j < oldKeys.length; j++) {
      if (oldKeys[j] != 0) {
        int i = slot(oldKeys[j], mask);
        while (keys[i] != 0) {
          i = (i + 1) & mask;
        }
        keys[i] = oldKeys[j];
        values[i] = oldValues[j];
      }
    }
  }

  private static int slot(long key, int mask) {
    long h = key * 0x9E3779B97F4A7C15L;
    return (int) (h ^ (h >>> 32)) & mask;
  }
}
