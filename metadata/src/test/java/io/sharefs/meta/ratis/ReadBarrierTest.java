package io.sharefs.meta.ratis;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.meta.FileMode;
import io.sharefs.meta.Inode;
import io.sharefs.meta.op.CreateOp;
import io.sharefs.meta.table.MetaTables;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The follower's close-to-open barrier on a real 3-peer group: fresh for every caller, shared when concurrent. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReadBarrierTest {
  @TempDir Path tmp;

  @Test
  void concurrentBarriersOnAFollowerShareRoundsAndEachSeesWhatWasCommittedBeforeIt() throws Exception {
    Map<String, String> peers = new LinkedHashMap<>();
    for (String id : List.of("n1", "n2", "n3")) {
      peers.put(id, "127.0.0.1:" + RaftMetaStoreTest.freePort());
    }
    List<RaftMetaStore> stores = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(9);
    try {
      for (String id : peers.keySet()) {
        stores.add(RaftMetaStore.start(new RaftConfig(id, peers, tmp.resolve(id + "/raft"), 10_000, 10_000),
            MetaTables.open(tmp.resolve(id + "/meta"))));
      }
      for (RaftMetaStore s : stores) {
        assertTrue(s.awaitLeader(30_000), "no leader");
      }
      RaftMetaStore leader = null;
      RaftMetaStore follower = null;
      for (RaftMetaStore s : stores) {
        if (s.status().role().equals("leader")) {
          leader = s;
        } else {
          follower = s;
        }
      }
      assertNotNull(leader);
      RaftMetaStore l = leader;
      RaftMetaStore f = follower;
      long[] before = f.barrierCounts();
      // A stream of other writes keeps the follower applying, so read-index replies also complete on
      // Ratis' state machine thread (where sending the next shared round once deadlocked).
      java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
      Future<?> background = pool.submit(() -> {
        for (int k = 0; !done.get(); k++) {
          l.submit(new CreateOp(Inode.ROOT_INO, ("bg-" + k).getBytes(UTF_8), FileMode.S_IFREG | 0644, 0, null)
              .settle(1, 0, 0)).orThrow();
        }
        return null;
      });
      List<Future<?>> runs = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int thread = t;
        runs.add(pool.submit(() -> {
          for (int k = 0; k < 40; k++) {
            byte[] name = ("t" + thread + "-" + k).getBytes(UTF_8);
            Inode made = l.submit(new CreateOp(Inode.ROOT_INO, name, FileMode.S_IFREG | 0644, 0, null)
                .settle(1, 0, 0)).orThrow();
            f.syncWithLeader(); // committed before the call: must be visible after it
            var d = f.lookup(Inode.ROOT_INO, name);
            assertNotNull(d, "entry committed before the barrier missing on the follower");
            assertTrue(d.ino() == made.ino());
          }
          return null;
        }));
      }
      for (Future<?> r : runs) {
        r.get(60, TimeUnit.SECONDS);
      }
      done.set(true);
      background.get(30, TimeUnit.SECONDS);
      long[] after = f.barrierCounts();
      long calls = after[0] - before[0];
      long rounds = after[1] - before[1];
      System.out.printf("follower barrier: %d calls, %d read-index rounds%n", calls, rounds);
      assertTrue(calls == 320, "calls " + calls);
      assertTrue(rounds < calls, "8 concurrent callers should share read-index rounds: " + rounds + " for " + calls);
    } finally {
      pool.shutdownNow();
      for (RaftMetaStore s : stores) {
        s.close();
      }
    }
  }
}
