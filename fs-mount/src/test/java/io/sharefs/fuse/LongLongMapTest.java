package io.sharefs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LongLongMapTest {
  /** Random puts and removes over a small key range (many collisions and runs) agree with a HashMap. */
  @Test
  void behavesAsAMapThroughGrowthAndRemovals() {
    LongLongMap map = new LongLongMap();
    Map<Long, Long> ref = new HashMap<>();
    Random r = new Random(7);
    for (int step = 0; step < 200_000; step++) {
      long k = 1 + r.nextInt(3_000);
      if (r.nextInt(3) == 0) {
        assertEquals(ref.getOrDefault(k, 0L), map.remove(k), "remove " + k);
        ref.remove(k);
      } else {
        long v = 1 + r.nextInt(1_000_000);
        assertEquals(ref.getOrDefault(k, 0L), map.put(k, v), "put " + k);
        ref.put(k, v);
      }
    }
    assertEquals(ref.size(), map.size());
    for (long k = 1; k <= 3_000; k++) {
      assertEquals(ref.getOrDefault(k, 0L), map.get(k), "get " + k);
    }
    Map<Long, Long> visited = new HashMap<>();
    map.forEach(visited::put);
    assertEquals(ref, visited);
  }

  @Test
  void zeroMeansAbsent() {
    LongLongMap map = new LongLongMap();
    assertEquals(0, map.get(5));
    assertEquals(0, map.remove(5));
    assertThrows(IllegalArgumentException.class, () -> map.put(5, 0));
  }
}
