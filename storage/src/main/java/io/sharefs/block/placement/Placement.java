package io.sharefs.block.placement;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * Where a block lives: rendezvous (highest-random-weight) hashing. Each node gets a score for the
 * block; the {@code copies} highest-scoring nodes hold it. When a node joins or leaves, only the
 * blocks for which it scores among the top move, and every node computes the same answer alone.
 */
public final class Placement {
  private Placement() {}

  /** The nodes (ids) that should hold {@code hash}, best first; {@code copies <= 0} means all of them. */
  public static List<String> choose(byte[] hash, Collection<String> nodes, int copies) {
    List<String> sorted = new ArrayList<>(nodes);
    long h = ByteBuffer.wrap(hash, 0, 8).getLong();
    sorted.sort(Comparator.comparingLong((String n) -> score(h, n)).reversed().thenComparing(n -> n));
    return copies <= 0 || copies >= sorted.size() ? sorted : List.copyOf(sorted.subList(0, copies));
  }

  static long score(long blockBits, String node) {
    return mix(blockBits ^ seed(node));
  }

  private static long seed(String node) {
    long x = 0xcbf29ce484222325L; // FNV-1a
    for (byte b : node.getBytes(StandardCharsets.UTF_8)) {
      x = (x ^ (b & 0xff)) * 0x100000001b3L;
    }
    return x;
  }

  /** SplitMix64's finalizer: every input bit moves every output bit. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
