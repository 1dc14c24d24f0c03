package io.sharefs.meta.table;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToIntFunction;

/**
 * Decoded records kept in memory, bounded both by count and by the bytes their payloads hold (an
 * inode may carry up to the inline threshold of file content). Over the count it starts afresh;
 * over the bytes it drops only the records that carry a payload, so a stream of small files passing
 * through does not push out the directories every lookup resolves. Crude, but the hot records come
 * back at once, and it never grows past its budget. Each value carries the generation of its key's
 * stripe when it was read; see {@link MetaTables}. The byte count is approximate under races and
 * only ever steers eviction.
 */
final class RecordCache<K, V> {
  record Cached<V>(V value, long gen, int weight) {}

  private final ConcurrentHashMap<K, Cached<V>> map = new ConcurrentHashMap<>();
  private final int maxEntries;
  private final long maxBytes;
  private final ToIntFunction<V> weigher;
  private final AtomicLong bytes = new AtomicLong();

  RecordCache(int maxEntries, long maxBytes, ToIntFunction<V> weigher) {
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
    this.weigher = weigher;
  }

  Cached<V> get(K key) {
    return map.get(key);
  }

  /** Keeps {@code value}; a record heavier than a sixteenth of the budget is not kept at all. */
  void put(K key, V value, long gen) {
    int w = weigher.applyAsInt(value);
    if (w > maxBytes / 16) {
      remove(key);
      return;
    }
    if (map.size() >= maxEntries) {
      clear();
    } else if (bytes.get() + w > maxBytes) {
      dropPayloads();
    }
    Cached<V> old = map.put(key, new Cached<>(value, gen, w));
    bytes.addAndGet(w - (old == null ? 0 : old.weight()));
  }

  void remove(K key) {
    Cached<V> old = map.remove(key);
    if (old != null) {
      bytes.addAndGet(-old.weight());
    }
  }

  void clear() {
    map.clear();
    bytes.set(0);
  }

  private void dropPayloads() {
    map.values().removeIf(c -> c.weight() > 0);
    bytes.set(0);
  }

  int size() {
    return map.size();
  }

  /** Payload bytes held (approximate). */
  long bytes() {
    return Math.max(0, bytes.get());
  }
}
