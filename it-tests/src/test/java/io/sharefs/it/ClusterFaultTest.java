package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Crashes, restarts and a node cut off from the majority, with real processes and mounts. */
class ClusterFaultTest {
  @TempDir Path tmp;

  static byte[] content(int k) {
    byte[] b = new byte[k % 3 == 0 ? 200_000 : 16_384];
    new Random(k).nextBytes(b);
    return b;
  }

  /** Waits until every acknowledged file reads back identical on every node. */
  static void assertAllPresent(SharefsCluster c, Map<Integer, Boolean> acked, String dir) throws Exception {
    long deadline = System.currentTimeMillis() + 60_000;
    AssertionError last = null;
    while (System.currentTimeMillis() < deadline) {
      try {
        for (int i = 0; i < c.size(); i++) {
          for (int k : acked.keySet()) {
            Path p = c.mountPoint(i).resolve(dir).resolve("w-" + k);
            if (!Files.exists(p) || !Arrays.equals(content(k), Files.readAllBytes(p))) {
              throw new AssertionError("node " + (i + 1) + " lacks acknowledged file w-" + k);
            }
          }
        }
        return;
      } catch (AssertionError e) {
        last = e;
        Thread.sleep(200);
      }
    }
    throw last;
  }

  @Test
  void leaderKilledUnderWritesLosesNothingAcknowledged() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp, 3, "--write-timeout", "20")) {
      int leader = c.leader(30_000);
      int writerNode = (leader + 1) % 3;
      Path dir = Files.createDirectories(c.mountPoint(writerNode).resolve("load"));
      Map<Integer, Boolean> acked = new ConcurrentHashMap<>();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong lastAckAt = new AtomicLong();
      AtomicLong failures = new AtomicLong();
      java.util.List<long[]> writes = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
      Thread writer = new Thread(() -> {
        for (int k = 0; !stop.get(); k++) {
          try {
            long started = System.nanoTime();
            Files.write(dir.resolve("w-" + k), content(k));
            acked.put(k, true);
            lastAckAt.set(System.nanoTime());
            writes.add(new long[] {started, lastAckAt.get()});
          } catch (IOException e) {
            failures.incrementAndGet();
          }
        }
      });
      writer.start();
      Thread.sleep(1500);
      int before = acked.size();
      long killedAt = System.nanoTime();
      c.kill9(leader);
      long resumed = -1;
      long deadline = System.currentTimeMillis() + 30_000;
      while (System.currentTimeMillis() < deadline) {
        long t = lastAckAt.get();
        if (t > killedAt) {
          resumed = t - killedAt;
          break;
        }
        Thread.sleep(10);
      }
      Thread.sleep(1500);
      stop.set(true);
      writer.join();
      assertTrue(resumed > 0, "writes never resumed after the leader died\n" + c.logs());
      // The first write started after the kill, and how long after the kill it was acknowledged.
      long firstAfter = -1;
      synchronized (writes) {
        for (long[] w : writes) {
          if (w[0] > killedAt) {
            firstAfter = w[1] - killedAt;
            break;
          }
        }
      }
      long slowest = 0;
      synchronized (writes) {
        for (long[] w : writes) {
          if (w[1] > killedAt) {
            slowest = Math.max(slowest, w[1] - Math.max(w[0], killedAt));
          }
        }
      }
      System.out.printf("leader kill: %d files acked before, %d in all, %d failed writes; first write started after "
          + "the kill acked %.0f ms after it; longest write stall %.0f ms%n", before, acked.size(), failures.get(),
          firstAfter / 1e6, slowest / 1e6);
      c.restart(leader);
      assertAllPresent(c, acked, "load");
    }
  }

  @Test
  void restartedFollowerCatchesUpFromTheLog() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp, 3)) {
      int leader = c.leader(30_000);
      int follower = (leader + 1) % 3;
      Path dir = Files.createDirectories(c.mountPoint(leader).resolve("catchup"));
      Map<Integer, Boolean> acked = new ConcurrentHashMap<>();
      c.kill9(follower);
      for (int k = 0; k < 40; k++) {
        Files.write(dir.resolve("w-" + k), content(k));
        acked.put(k, true);
      }
      // The writer knows which blocks the dead node lacks, and says so.
      assertTrue(underReplicated(c, leader) > 0, c.metrics(leader));
      c.restart(follower);
      assertAllPresent(c, acked, "catchup");
      // Once the node is back every block is on it again, and the writer's count drops to zero.
      long deadline = System.currentTimeMillis() + 30_000;
      while (underReplicated(c, leader) > 0 && System.currentTimeMillis() < deadline) {
        Thread.sleep(200);
      }
      assertEquals(0, underReplicated(c, leader), c.metrics(leader));
    }
  }

  private static double underReplicated(SharefsCluster c, int node) throws Exception {
    return c.metrics(node).lines().filter(l -> l.startsWith("sharefs_block_under_replicated "))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst().orElse(-1);
  }

  @Test
  void restartedFollowerCatchesUpFromASnapshotOnceTheLogIsPurged() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp, 3, "--snapshot-every", "40", "--log-segment-bytes", "65536")) {
      int leader = c.leader(30_000);
      int follower = (leader + 2) % 3;
      Path dir = Files.createDirectories(c.mountPoint(leader).resolve("snap"));
      Map<Integer, Boolean> acked = new ConcurrentHashMap<>();
      c.kill9(follower);
      for (int k = 0; k < 150; k++) { // several snapshots, each purging the log the follower would need
        Files.write(dir.resolve("w-" + k), content(k));
        acked.put(k, true);
      }
      c.restart(follower);
      assertAllPresent(c, acked, "snap");
      assertTrue(c.node(follower).logText().contains("installed metadata snapshot"), c.node(follower).logText());
      // And it keeps applying new entries after the install.
      Files.write(c.mountPoint(leader).resolve("snap/after"), new byte[] {7});
      long deadline = System.currentTimeMillis() + 10_000;
      while (!Files.exists(c.mountPoint(follower).resolve("snap/after")) && System.currentTimeMillis() < deadline) {
        Thread.sleep(50);
      }
      assertArrayEquals(new byte[] {7}, Files.readAllBytes(c.mountPoint(follower).resolve("snap/after")),
          c.node(follower).logText());
    }
  }

  @Test
  void cutOffNodeRefusesWritesServesReadsAndRejoins() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp, 3, "--write-timeout", "3")) {
      Path f = c.mountPoint(0).resolve("before.txt");
      Files.writeString(f, "still readable");
      c.leader(30_000);
      c.pause(1);
      c.pause(2);
      try {
        IOException e = assertThrows(IOException.class,
            () -> Files.writeString(c.mountPoint(0).resolve("during.txt"), "x"));
        assertTrue(String.valueOf(e.getMessage()).contains("Input/output error") || e.toString().contains("I/O"),
            e.toString());
        assertEquals("still readable", Files.readString(f));
      } finally {
        c.resume(1);
        c.resume(2);
      }
      long deadline = System.currentTimeMillis() + 30_000;
      while (true) {
        try {
          Files.writeString(c.mountPoint(0).resolve("after.txt"), "healed");
          break;
        } catch (IOException e) {
          if (System.currentTimeMillis() > deadline) {
            throw e;
          }
          Thread.sleep(200);
        }
      }
      assertEquals("healed", Files.readString(c.mountPoint(2).resolve("after.txt")));
    }
  }
}
