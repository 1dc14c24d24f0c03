package io.sharefs.it;

import static io.sharefs.it.SharefsCluster.metric;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --open-barrier lease}, the default (the first test mounts without the flag): followers holding a lease from the leader serve strict opens without
 * a round trip, and close-to-open still holds because every commit waits for the holders first.
 */
class OpenLeaseTest {
  @TempDir Path tmp;

  @Test
  void followersServeStrictOpensUnderTheirLeaseAndSeeEveryClose() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp, 3)) {
      int leader = c.leader(30_000);
      int f1 = (leader + 1) % 3;
      int f2 = (leader + 2) % 3;
      awaitLease(c, f1, 20_000);
      awaitLease(c, f2, 20_000);
      String before = c.metrics(f1);
      // Changes from every node (new files and overwrites), each read at once on the next node.
      for (int k = 0; k < 60; k++) {
        int w = k % 3;
        int r = (k + 1) % 3;
        String name = "f" + (k % 7);
        String v = "v" + k + "-" + "x".repeat(k * 37);
        Files.writeString(c.mountPoint(w).resolve(name), v);
        assertEquals(v, Files.readString(c.mountPoint(r).resolve(name)), "node " + r + " after a close on " + w);
      }
      // Opens after a rename and a delete elsewhere see them at once as well.
      Files.writeString(c.mountPoint(leader).resolve("a.txt"), "moved");
      Files.move(c.mountPoint(leader).resolve("a.txt"), c.mountPoint(leader).resolve("b.txt"));
      assertThrows(NoSuchFileException.class, () -> Files.readString(c.mountPoint(f1).resolve("a.txt")));
      assertEquals("moved", Files.readString(c.mountPoint(f1).resolve("b.txt")));
      Files.delete(c.mountPoint(f2).resolve("b.txt"));
      assertThrows(NoSuchFileException.class, () -> Files.readString(c.mountPoint(f1).resolve("b.txt")));

      String after = c.metrics(f1);
      double underLease = metric(after, "sharefs_open_lease_opens_total") - metric(before, "sharefs_open_lease_opens_total");
      double rounds = metric(after, "sharefs_barrier_rounds_total") - metric(before, "sharefs_barrier_rounds_total");
      assertTrue(underLease >= 20, underLease + " opens under the lease on node " + f1 + "\n" + after);
      assertTrue(rounds < underLease, rounds + " barrier round trips against " + underLease + " lease opens");
      assertTrue(metric(c.metrics(leader), "sharefs_open_lease_acks_total") > 0, "the leader waited for no holder");
      // Where f1's commits spent their time, lease waits included (20 files written there).
      assertTrue(metric(after, "sharefs_meta_commits_total{phase=\"quorum\"}") >= 20, after);
      assertTrue(metric(after, "sharefs_meta_commits_total{phase=\"apply\"}") >= 20, after);
      assertTrue(metric(after, "sharefs_meta_commits_total{phase=\"leases\"}")
          > metric(before, "sharefs_meta_commits_total{phase=\"leases\"}"), after);
      assertTrue(metric(after, "sharefs_meta_commit_seconds_total{phase=\"quorum\"}") > 0, after);
      assertTrue(metric(after, "sharefs_meta_commit_seconds_total{phase=\"leases\"}") > 0, after);
    }
  }

  @Test
  void aFrozenHolderIsWaitedOutAndServesNothingStaleWhenItWakes() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp, 3, "--open-barrier", "lease")) {
      int leader = c.leader(30_000);
      int frozen = (leader + 1) % 3;
      int writer = (leader + 2) % 3;
      // A lease can lapse between renewals; the commit waits only for holders the leader lists, so
      // freeze the holder until one commit had to revoke its lease (once is enough).
      for (int round = 0; round < 3 && metric(c.metrics(leader), "sharefs_open_lease_revocations_total") < 1;
          round++) {
        awaitLease(c, frozen, 30_000); // refused for 5 s after a revocation, then granted again
        Files.writeString(c.mountPoint(leader).resolve("page.php"), "old" + round);
        assertEquals("old" + round, Files.readString(c.mountPoint(frozen).resolve("page.php")));
        c.pause(frozen);
        long took;
        try {
          long t0 = System.nanoTime();
          Files.writeString(c.mountPoint(writer).resolve("page.php"), "new" + round);
          took = (System.nanoTime() - t0) / 1_000_000;
        } finally {
          c.resume(frozen);
        }
        // Its lease ran out while it was frozen: the first open after waking asks the leader.
        assertEquals("new" + round, Files.readString(c.mountPoint(frozen).resolve("page.php")));
        assertTrue(took < 10_000, "the write waited " + took + " ms for the frozen holder");
      }
      assertTrue(metric(c.metrics(leader), "sharefs_open_lease_revocations_total") >= 1,
          "no commit had to wait out the frozen holder's lease\n" + c.logs());
      // Granted again once caught up, and fresh under the new lease too.
      awaitLease(c, frozen, 30_000);
      Files.writeString(c.mountPoint(writer).resolve("page.php"), "newer");
      assertEquals("newer", Files.readString(c.mountPoint(frozen).resolve("page.php")));
    }
  }

  private static void awaitLease(SharefsCluster c, int node, long timeoutMs) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (metric(c.metrics(node), "sharefs_open_lease_held") < 1) {
      if (System.currentTimeMillis() > deadline) {
        throw new AssertionError("node " + node + " got no open lease in " + timeoutMs + " ms\n" + c.metrics(node));
      }
      Thread.sleep(50);
    }
  }
}
