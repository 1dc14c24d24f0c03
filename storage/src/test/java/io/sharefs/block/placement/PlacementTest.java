package io.sharefs.block.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.block.BlockHash;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PlacementTest {
  @Test
  void spreadsEvenlyAndMovesOnlyWhatANewNodeTakes() {
    List<String> three = List.of("n1", "n2", "n3");
    List<String> four = List.of("n1", "n2", "n3", "n4");
    Map<String, Integer> load = new HashMap<>();
    int moved = 0;
    int blocks = 20_000;
    for (int i = 0; i < blocks; i++) {
      byte[] h = BlockHash.of(("block " + i).getBytes());
      List<String> before = Placement.choose(h, three, 2);
      List<String> after = Placement.choose(h, four, 2);
      after.forEach(n -> load.merge(n, 1, Integer::sum));
      assertEquals(2, after.size());
      for (String n : after) {
        if (!before.contains(n)) {
          moved++;
          assertEquals("n4", n, "only the new node gains copies");
        }
      }
      assertEquals(before, Placement.choose(h, List.of("n3", "n1", "n2"), 2), "order of members does not matter");
    }
    for (String n : four) {
      double share = load.get(n) / (2.0 * blocks);
      assertTrue(Math.abs(share - 0.25) < 0.02, n + " holds " + share);
    }
    // n4 should take about half of the copies it now holds from others: 2/4 of blocks × 1 copy each.
    assertTrue(Math.abs(moved / (double) blocks - 0.5) < 0.03, "moved " + moved);
  }

  @Test
  void zeroOrTooManyCopiesMeansEveryNode() {
    byte[] h = BlockHash.of(new byte[] {1});
    assertEquals(3, Placement.choose(h, List.of("a", "b", "c"), 0).size());
    assertEquals(3, Placement.choose(h, List.of("a", "b", "c"), 5).size());
  }
}
