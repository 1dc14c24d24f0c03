package io.sharefs.block.placement;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What rebalancing has to do, computed from what each node holds: for every referenced block, a copy
 * to each of its places that lacks it (from a node that has it, a place first), then a drop from each
 * member that holds it but is not one of its places. A pure function of its inputs, so an
 * interrupted rebalance is resumed by planning again from what the nodes hold now.
 */
public final class RebalancePlan {
  public record Copy(byte[] hash, String from, String to, long size) {}

  public record Drop(byte[] hash, String node) {}

  private final List<Copy> copies;
  private final List<Drop> drops;
  private final int unplaceable;

  private RebalancePlan(List<Copy> copies, List<Drop> drops, int unplaceable) {
    this.copies = copies;
    this.drops = drops;
    this.unplaceable = unplaceable;
  }

  /**
   * @param holders for each block, the nodes holding it and its size (nodes outside {@code members},
   *     such as one being removed, may serve as sources)
   * @param referenced blocks some file references; others are left to fsck
   * @param members the nodes blocks should live on
   * @param replication copies per block, 0 for every member
   */
  public static RebalancePlan of(Map<ByteBuffer, Map<String, Long>> holders, Set<ByteBuffer> referenced,
      Collection<String> members, int replication) {
    List<Copy> copies = new ArrayList<>();
    List<Drop> drops = new ArrayList<>();
    int unplaceable = 0;
    for (ByteBuffer key : referenced) {
      Map<String, Long> have = holders.getOrDefault(key, Map.of());
      byte[] hash = new byte[key.remaining()];
      key.duplicate().get(hash);
      if (have.isEmpty()) {
        unplaceable++; // no copy anywhere: fsck reports it
        continue;
      }
      List<String> places = Placement.choose(hash, members, replication);
      String source = places.stream().filter(have::containsKey).findFirst()
          .orElse(have.keySet().iterator().next());
      long size = have.get(source);
      for (String p : places) {
        if (!have.containsKey(p)) {
          copies.add(new Copy(hash, source, p, size));
        }
      }
      for (String h : have.keySet()) {
        if (members.contains(h) && !places.contains(h)) {
          drops.add(new Drop(hash, h));
        }
      }
    }
    return new RebalancePlan(List.copyOf(copies), List.copyOf(drops), unplaceable);
  }

  public List<Copy> copies() {
    return copies;
  }

  public List<Drop> drops() {
    return drops;
  }

  /** Referenced blocks with no copy on any node (nothing rebalancing can do). */
  public int unplaceable() {
    return unplaceable;
  }

  public long copyBytes() {
    return copies.stream().mapToLong(Copy::size).sum();
  }
}
