package io.sharefs.block.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.block.BlockHash;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RebalancePlanTest {
  @Test
  void planningAgainAfterApplyingThePlanFindsNothingToDo() {
    List<String> members = List.of("n1", "n2", "n3", "n4");
    Map<ByteBuffer, Map<String, Long>> holders = new HashMap<>();
    Set<ByteBuffer> referenced = new HashSet<>();
    for (int i = 0; i < 500; i++) {
      ByteBuffer h = ByteBuffer.wrap(BlockHash.of(("b" + i).getBytes()));
      referenced.add(h);
      Map<String, Long> have = new HashMap<>();
      for (String n : List.of("n1", "n2", "n3")) {
        have.put(n, 100L); // every old member holds every block; n4 is new
      }
      holders.put(h, have);
    }
    ByteBuffer stray = ByteBuffer.wrap(BlockHash.of("stray".getBytes()));
    holders.put(stray, new HashMap<>(Map.of("n1", 5L)));
    RebalancePlan plan = RebalancePlan.of(holders, referenced, members, 2);
    assertTrue(plan.copies().stream().allMatch(c -> c.to().equals("n4")), "copies only go to the new node");
    assertEquals(500 * 3 - 500 * 2 + plan.copies().size(), plan.drops().size(), "each block ends with 2 copies");
    for (RebalancePlan.Copy c : plan.copies()) {
      holders.get(ByteBuffer.wrap(c.hash())).put(c.to(), c.size());
    }
    for (RebalancePlan.Drop d : plan.drops()) {
      holders.get(ByteBuffer.wrap(d.hash())).remove(d.node());
    }
    RebalancePlan again = RebalancePlan.of(holders, referenced, members, 2);
    assertEquals(0, again.copies().size());
    assertEquals(0, again.drops().size());
    assertEquals(Map.of("n1", 5L), holders.get(stray), "unreferenced blocks are fsck's business");
  }

  @Test
  void aLeavingNodeServesAsTheSourceOfWhatOnlyItHolds() {
    ByteBuffer h = ByteBuffer.wrap(BlockHash.of("only-on-n4".getBytes()));
    RebalancePlan plan = RebalancePlan.of(Map.of(h, Map.of("n4", 7L)), Set.of(h), List.of("n1", "n2", "n3"), 0);
    assertEquals(3, plan.copies().size());
    assertTrue(plan.copies().stream().allMatch(c -> c.from().equals("n4")));
    assertEquals(0, plan.drops().size());
  }
}
