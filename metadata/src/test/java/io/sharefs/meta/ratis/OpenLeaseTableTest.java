package io.sharefs.meta.ratis;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class OpenLeaseTableTest {
  private static final long MS = 1_000_000;

  @Test
  void aGrantListsItsHolderUntilItRunsOutAndALaterOneExtendsIt() {
    OpenLeaseTable t = new OpenLeaseTable();
    assertEquals(100 * MS, t.grant("n2", 100 * MS, 0));
    assertEquals(50 * MS, t.grant("n2", 50 * MS, 20 * MS)); // ends before the first: the first still counts
    assertEquals(List.of("n2"), t.holders(99 * MS));
    assertEquals(List.of(), t.holders(100 * MS));
  }

  @Test
  void aRevokedHolderStaysListedUntilItsLeaseEndsAndGetsNoNewOneDuringTheHoldOff() {
    OpenLeaseTable t = new OpenLeaseTable();
    t.grant("n2", 300 * MS, 0);
    t.grant("n3", 300 * MS, 0);
    assertEquals(200 * MS, t.revoke("n2", 100 * MS, 5_000 * MS));
    // Commits during the wait must still wait for n2 (or revoke it as well).
    assertEquals(Set.of("n2", "n3"), Set.copyOf(t.holders(250 * MS)));
    assertEquals(0, t.grant("n2", 300 * MS, 1_000 * MS));
    assertEquals(0, t.revoke("n2", 1_000 * MS, 5_000 * MS));
    assertEquals(0, t.grant("n2", 300 * MS, 5_200 * MS)); // the second revocation refuses until 6,000 ms
    assertEquals(300 * MS, t.grant("n2", 300 * MS, 6_100 * MS));
  }
}
