package io.sharefs.meta.ratis;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The follower's close-to-open barrier on a real 3-peer group: fresh for every caller, shared when
 * concurrent, not waiting for heartbeats, and answered only by a leader that holds its lease.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReadBarrierTest {
  @TempDir Path tmp;

  @Test
  void concurrentBarriersOnAFollowerShareRoundsAndEachSeesWhatWasCommittedBeforeIt() throws Exception {
    List<RaftMetaStore> stores = startGroup(RaftConfig.DEFAULT_ELECTION_TIMEOUT_MS);
    ExecutorService pool = Executors.newFixedThreadPool(9);
    try {
      RaftMetaStore l = withRole(stores, true);
      RaftMetaStore f = withRole(stores, false);
      var before = f.barrierStats();
      // A stream of other writes keeps the follower applying, so barrier answers also complete while
      // Ratis' threads are busy (where sending the next shared round once deadlocked).
      AtomicBoolean done = new AtomicBoolean();
      Future<?> background = pool.submit(() -> {
        for (int k = 0; !done.get(); k++) {
          create(l, "bg-" + k);
        }
        return null;
      });
      List<Future<?>> runs = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int thread = t;
        runs.add(pool.submit(() -> {
          for (int k = 0; k < 40; k++) {
            writeThenBarrier(l, f, "t" + thread + "-" + k);
          }
          return null;
        }));
      }
      for (Future<?> r : runs) {
        r.get(60, TimeUnit.SECONDS);
      }
      done.set(true);
      background.get(30, TimeUnit.SECONDS);
      var after = f.barrierStats();
      long calls = after.calls() - before.calls();
      long rounds = after.rounds() - before.rounds();
      System.out.printf("follower barrier: %d calls, %d rounds%n", calls, rounds);
      assertEquals(320, calls, "calls");
      assertTrue(rounds < calls, "8 concurrent callers should share rounds: " + rounds + " for " + calls);
    } finally {
      pool.shutdownNow();
      closeAll(stores);
    }
  }

  /**
   * With heartbeats one second apart, a barrier right after a write must not wait for one. Ratis' own
   * read index did (the commit index then names the metadata entry logged after the write, whose commit
   * a follower learns from the next heartbeat): up to a second here, typically a few ms now.
   */
  @Test
  void aBarrierRightAfterAWriteDoesNotWaitForTheNextHeartbeat() throws Exception {
    List<RaftMetaStore> stores = startGroup(2_000);
    try {
      RaftMetaStore l = withRole(stores, true);
      RaftMetaStore f = withRole(stores, false);
      f.syncWithLeader(); // connections up
      List<Long> slow = new ArrayList<>();
      for (int k = 0; k < 20; k++) {
        long ms = writeThenBarrier(l, f, "w" + k);
        if (ms >= 500) { // half the heartbeat interval: a wait for a heartbeat, not a slow machine
          slow.add(ms);
        }
      }
      assertTrue(slow.isEmpty(), "barriers that waited for a heartbeat (ms): " + slow);
    } finally {
      closeAll(stores);
    }
  }

  @Test
  void onlyALeaderThatAMajorityAnsweredRecentlyHoldsTheLease() throws Exception {
    // Lease 1.5 s; Ratis lets the leader step down only after 4 s without a majority: the lease must
    // lapse while the peer still believes it leads.
    List<RaftMetaStore> stores = startGroup(2_000);
    try {
      RaftMetaStore l = withRole(stores, true);
      for (RaftMetaStore s : stores) {
        if (s != l) {
          assertFalse(s.leaseHeld(), "a follower would answer barrier queries");
        }
      }
      long until = System.currentTimeMillis() + 10_000;
      while (!l.leaseHeld() && System.currentTimeMillis() < until) {
        Thread.sleep(10);
      }
      assertTrue(l.leaseHeld(), "the leader of a healthy group holds no lease");
      for (RaftMetaStore s : stores) {
        if (s != l) {
          s.close(); // nobody answers the leader any more
        }
      }
      until = System.currentTimeMillis() + 10_000;
      while (l.leaseHeld() && System.currentTimeMillis() < until) {
        Thread.sleep(5);
      }
      assertFalse(l.leaseHeld(), "lease still held with no follower answering");
      assertTrue(l.status().role().equals("leader"),
          "the lease lapsed only because the leader stepped down (" + l.status().role() + ")");
    } finally {
      closeAll(stores);
    }
  }

  @Test
  void withoutTheLeadersLeaseBarriersFallBackToRatisReadIndexAndStayFresh() throws Exception {
    List<RaftMetaStore> stores = startGroup(RaftConfig.DEFAULT_ELECTION_TIMEOUT_MS);
    try {
      RaftMetaStore l = withRole(stores, true);
      RaftMetaStore f = withRole(stores, false);
      for (RaftMetaStore s : stores) {
        s.refuseLeaseForTesting(true); // whoever leads, even after a change of leader
      }
      for (int k = 0; k < 10; k++) {
        writeThenBarrier(l, f, "nolease-" + k);
      }
      var stats = f.barrierStats();
      assertTrue(stats.readIndexFallbacks() >= 10, "fallbacks " + stats.readIndexFallbacks());
      assertFalse(stats.degraded(), "a reachable leader without its lease made the follower serve stale reads");
      long refusals = stores.stream().mapToLong(s -> s.barrierStats().leaseRefusals()).sum();
      assertTrue(refusals >= 10, "refusals " + refusals);
    } finally {
      closeAll(stores);
    }
  }

  @Test
  void underAnOpenLeaseAFollowerSkipsTheRoundTripAndEveryCommitWaitsForIt() throws Exception {
    List<RaftMetaStore> stores = leasedGroup();
    try {
      RaftMetaStore l = withRole(stores, true);
      RaftMetaStore f = withRole(stores, false);
      var before = f.barrierStats();
      long opensBefore = f.openLeaseStats().opens();
      // A stall of 100 ms in the follower's apply (a busy 2-core machine) makes it give the lease up
      // and take round trips for >= 250 ms: count barriers until 30 went under the lease.
      long opens = 0;
      int writes = 0;
      while (opens < 30 && writes < 500) {
        writeThenBarrier(l, f, "leased-" + writes++);
        opens = f.openLeaseStats().opens() - opensBefore;
      }
      long rounds = f.barrierStats().rounds() - before.rounds();
      assertTrue(opens >= 30, opens + " of " + writes + " barriers under the lease, " + rounds
          + " round trips; follower " + f.openLeaseStats() + " leader " + l.openLeaseStats());
      assertTrue(l.openLeaseStats().acks() > 0, "the leader never waited for the holder");
    } finally {
      closeAll(stores);
    }
  }

  @Test
  void aHolderThatLagsGivesItsLeaseUpAndARevokedOneIsRefusedForAWhile() throws Exception {
    List<RaftMetaStore> stores = leasedGroup();
    try {
      RaftMetaStore l = withRole(stores, true);
      RaftMetaStore f = withRole(stores, false);
      // A committer asks for an index this replica has not applied: it gives the lease up at once.
      long ahead = l.stateMachine().appliedIndex() + 1; // nothing is being written: not applied in 10 ms
      assertFalse(f.awaitAppliedOrGiveUpLease(ahead, 10));
      assertFalse(f.openLeaseStats().held());
      assertEquals(1, f.openLeaseStats().giveUps());
      create(l, "catch-up");
      awaitLease(f); // and gets one again once it applied that index
      // A grant names the leader's last change: the holder uses the lease only once it applied that.
      long before = l.stateMachine().appliedIndex();
      create(l, "lag-check");
      RaftMetaStore.Grant g = l.grantOpenLease(f.nodeId());
      assertTrue(g.validNanos() > 0, "no grant to a member");
      assertTrue(g.applyFirst() > before, "the grant does not cover the change just made: " + g);
      assertEquals(0, l.grantOpenLease("n9").validNanos(), "a grant to a node that is not a member");
      // A revoked holder: the revocation returns only once the holder's own clock has ended its
      // lease, and it gets no new one for a while.
      awaitLease(f);
      long t0 = System.nanoTime();
      assertTrue(l.revokeOpenLease(f.nodeId()));
      long waitedMs = (System.nanoTime() - t0) / 1_000_000;
      assertFalse(f.openLeaseStats().held(), "the holder still had its lease when the revocation returned");
      assertTrue(waitedMs < RaftConfig.DEFAULT_ELECTION_TIMEOUT_MS, "revocation waited " + waitedMs + " ms");
      assertEquals(0, l.grantOpenLease(f.nodeId()).validNanos());
      assertFalse(f.revokeOpenLease(l.nodeId()), "a follower revoked a lease");
    } finally {
      closeAll(stores);
    }
  }

  /** A 3-peer group whose first follower holds an open lease. */
  private List<RaftMetaStore> leasedGroup() throws Exception {
    List<RaftMetaStore> stores = startGroup(RaftConfig.DEFAULT_ELECTION_TIMEOUT_MS);
    try {
      linkInProcess(stores);
      RaftMetaStore f = withRole(stores, false);
      f.enableOpenLeases();
      awaitLease(f);
      return stores;
    } catch (Exception | Error e) {
      closeAll(stores);
      throw e;
    }
  }

  /** Lease calls between the stores of one JVM, as the node port carries them between nodes. */
  private static void linkInProcess(List<RaftMetaStore> stores) {
    Map<String, RaftMetaStore> byAddress = new LinkedHashMap<>();
    for (RaftMetaStore s : stores) {
      byAddress.put(s.address(), s);
    }
    RaftMetaStore.LeaseLink link = new RaftMetaStore.LeaseLink() {
      @Override
      public CompletableFuture<RaftMetaStore.Grant> grant(String leader, String nodeId) {
        return CompletableFuture.supplyAsync(() -> byAddress.get(leader).grantOpenLease(nodeId));
      }

      @Override
      public CompletableFuture<Boolean> awaitApplied(String address, long index, long timeoutMs) {
        return CompletableFuture.supplyAsync(() -> {
          try {
            return byAddress.get(address).awaitAppliedOrGiveUpLease(index, timeoutMs);
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        });
      }

      @Override
      public CompletableFuture<Boolean> revoke(String leader, String nodeId) {
        return CompletableFuture.supplyAsync(() -> {
          try {
            return byAddress.get(leader).revokeOpenLease(nodeId);
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        });
      }
    };
    stores.forEach(s -> s.setLeaseLink(link));
  }

  private static void awaitLease(RaftMetaStore s) throws InterruptedException {
    long deadline = System.currentTimeMillis() + 20_000;
    while (!s.openLeaseStats().held()) {
      assertTrue(System.currentTimeMillis() < deadline, "no open lease: " + s.status());
      Thread.sleep(10);
    }
  }

  private static Inode create(RaftMetaStore via, String name) {
    return via.submit(new CreateOp(Inode.ROOT_INO, name.getBytes(UTF_8), FileMode.S_IFREG | 0644, 0, null)
        .settle(1, 0, 0)).orThrow();
  }

  /**
   * Creates {@code name} through {@code writer}, then runs {@code reader}'s barrier: the entry,
   * committed before the call, must be visible after it. Returns the barrier's duration in ms.
   */
  private static long writeThenBarrier(RaftMetaStore writer, RaftMetaStore reader, String name) {
    Inode made = create(writer, name);
    long t0 = System.nanoTime();
    reader.syncWithLeader();
    long ms = (System.nanoTime() - t0) / 1_000_000;
    var d = reader.lookup(Inode.ROOT_INO, name.getBytes(UTF_8));
    assertNotNull(d, () -> "entry committed before the barrier missing after it: " + reader.status() + " "
        + reader.barrierStats() + " leader " + writer.status());
    assertEquals(made.ino(), d.ino());
    return ms;
  }

  private List<RaftMetaStore> startGroup(long electionTimeoutMs) throws Exception {
    Map<String, String> peers = new LinkedHashMap<>();
    for (String id : List.of("n1", "n2", "n3")) {
      peers.put(id, "127.0.0.1:" + RaftMetaStoreTest.freePort());
    }
    List<RaftMetaStore> stores = new ArrayList<>();
    for (String id : peers.keySet()) {
      stores.add(RaftMetaStore.start(new RaftConfig(id, peers, tmp.resolve(id + "/raft"), 10_000, 10_000)
          .withElectionTimeout(electionTimeoutMs), MetaTables.open(tmp.resolve(id + "/meta"))));
    }
    for (RaftMetaStore s : stores) {
      assertTrue(s.awaitLeader(60_000), "no leader");
    }
    return stores;
  }

  private static RaftMetaStore withRole(List<RaftMetaStore> stores, boolean leader) {
    for (RaftMetaStore s : stores) {
      if (s.status().role().equals("leader") == leader) {
        return s;
      }
    }
    throw new AssertionError("no " + (leader ? "leader" : "follower"));
  }

  private static void closeAll(List<RaftMetaStore> stores) {
    for (RaftMetaStore s : stores) {
      s.close();
    }
  }
}
