package io.sharefs.block.rocks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.block.BlockHash;
import io.sharefs.block.CorruptBlockException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RocksBlockStoreTest {
  @TempDir Path tmp;

  @Test
  void aCommitsBlocksAreFsyncedOnceAndOnlyWhenSomethingNewWasStored() throws Exception {
    try (RocksBlockStore s = RocksBlockStore.open(tmp)) {
      byte[] a = "first block".getBytes();
      byte[] b = "second block".getBytes();
      byte[] ha = s.put(a, 0, a.length);
      byte[] hb = s.put(b, 0, b.length);
      assertEquals(0, s.walSyncs(), "stores alone do not fsync");
      s.awaitReplicated(List.of(ha, hb));
      assertEquals(1, s.walSyncs(), "one fsync covers every block stored before it");
      s.awaitReplicated(List.of(ha));
      s.sync();
      assertEquals(1, s.walSyncs(), "nothing stored since: no fsync");
      s.put(a, 0, a.length); // deduplicated: nothing new to make durable
      s.awaitReplicated(List.of(ha));
      assertEquals(1, s.walSyncs());
      s.awaitReplicated(List.of());
      byte[] c = "third block, from a peer".getBytes();
      s.putVerified(BlockHash.of(c), c);
      s.sync();
      assertEquals(2, s.walSyncs());
      assertArrayEquals(c, s.get(BlockHash.of(c)));
    }
  }

  /** A writer that reuses a block another thread is still storing must not skip the fsync. */
  @Test
  void reusingABlockWhoseStoreIsNotCountedYetStillFsyncsIt() throws Exception {
    try (RocksBlockStore s = RocksBlockStore.open(tmp)) {
      byte[] x = "written by two files at once".getBytes();
      java.util.concurrent.CountDownLatch written = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
      s.beforeCountForTesting(() -> {
        written.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      Thread first = new Thread(() -> s.put(x, 0, x.length));
      first.start();
      assertTrue(written.await(10, java.util.concurrent.TimeUnit.SECONDS));
      s.beforeCountForTesting(() -> {});
      byte[] h = s.put(x, 0, x.length); // found: deduplicated onto the first thread's write
      s.awaitReplicated(List.of(h));
      assertEquals(1, s.walSyncs(), "the reuse was committed without an fsync of the block");
      release.countDown();
      first.join();
      assertArrayEquals(x, s.get(h));
    }
  }

  @Test
  void aConditionalDeleteSparesBlocksUsedSinceTheCutoff() throws Exception {
    long now = System.currentTimeMillis();
    byte[] old = "stored two hours ago".getBytes();
    byte[] reused = "stored two hours ago, then written again".getBytes();
    byte[] fresh = "stored just now".getBytes();
    try (RocksBlockStore s = RocksBlockStore.open(tmp)) {
      s.putAgedForTesting(old, now - 7_200_000);
      s.putAgedForTesting(reused, now - 7_200_000);
      byte[] again = s.put(reused, 0, reused.length); // a write deduplicating onto it touches it
      byte[] f = s.put(fresh, 0, fresh.length);
      long cutoff = now - 3_600_000;
      assertEquals(old.length, s.deleteIfUntouchedSince(BlockHash.of(old), cutoff));
      assertFalse(s.has(BlockHash.of(old)));
      assertEquals(-1, s.deleteIfUntouchedSince(again, cutoff));
      assertEquals(-1, s.deleteIfUntouchedSince(f, cutoff));
      assertEquals(-1, s.deleteIfUntouchedSince(BlockHash.of(old), cutoff), "already gone");
      assertTrue(s.has(again));
      assertTrue(s.has(f));
    }
  }

  @Test
  void storesByHashAndDeduplicates() throws Exception {
    byte[] data = new byte[1 << 20];
    new Random(1).nextBytes(data);
    try (RocksBlockStore s = RocksBlockStore.open(tmp)) {
      byte[] h = s.put(data, 0, data.length);
      assertArrayEquals(BlockHash.of(data), h);
      assertArrayEquals(h, s.put(data.clone(), 0, data.length));
      assertArrayEquals(data, s.get(h));
      byte[] part = s.put(data, 10, 100);
      assertEquals(100, s.get(part).length);
      assertTrue(s.has(part));
      s.delete(part);
      assertFalse(s.has(part));
      assertNull(s.get(part));
    }
    try (RocksBlockStore s = RocksBlockStore.open(tmp)) {
      assertArrayEquals(data, s.get(BlockHash.of(data)), "blocks survive reopening");
    }
  }

  @Test
  void inventoryComesFromTheIndexWithSizesAndTouchTimes() throws Exception {
    byte[] big = new byte[300_000];
    new Random(2).nextBytes(big);
    byte[] small = "<?php echo 1;".getBytes();
    byte[] bigHash;
    byte[] smallHash = BlockHash.of(small);
    try (RocksBlockStore s = RocksBlockStore.open(tmp)) {
      s.putAgedForTesting(big, 1_000L);
      bigHash = BlockHash.of(big);
      s.putVerified(smallHash, small);
      assertThrows(CorruptBlockException.class, () -> s.putVerified(BlockHash.of(big), small));
      assertFalse(s.has(BlockHash.of("never stored".getBytes())));
    }
    try (RocksBlockStore s = RocksBlockStore.open(tmp)) {
      Map<String, RocksBlockStore.BlockInfo> seen = new HashMap<>();
      s.scan(false, b -> seen.put(BlockHash.hex(b.hash()), b) == null);
      assertEquals(2, seen.size());
      assertEquals(300_000, seen.get(BlockHash.hex(bigHash)).size());
      assertEquals(1_000L, seen.get(BlockHash.hex(bigHash)).touchedMs());
      assertEquals(small.length, seen.get(BlockHash.hex(smallHash)).size());

      long before = System.currentTimeMillis();
      s.put(big, 0, big.length); // deduplicated: refreshes the touch time, keeps the size
      seen.clear();
      s.scan(true, b -> seen.put(BlockHash.hex(b.hash()), b) == null);
      assertTrue(seen.get(BlockHash.hex(bigHash)).touchedMs() >= before);
      assertEquals(300_000, seen.get(BlockHash.hex(bigHash)).size());
      assertFalse(seen.get(BlockHash.hex(bigHash)).corrupt());

      s.delete(bigHash);
      assertFalse(s.has(bigHash));
      seen.clear();
      s.scan(false, b -> seen.put(BlockHash.hex(b.hash()), b) == null);
      assertEquals(Set.of(BlockHash.hex(smallHash)), seen.keySet());
    }
  }

  @Test
  void reclaimingFreesDeletedBlocksAndKeepsTheRest() throws Exception {
    try (RocksBlockStore s = RocksBlockStore.open(tmp)) {
      Random r = new Random(4);
      List<byte[]> kept = new ArrayList<>();
      List<byte[]> hashes = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        byte[] b = new byte[200_000];
        r.nextBytes(b);
        hashes.add(s.put(b, 0, b.length));
        if (i % 4 == 0) {
          kept.add(b);
        }
      }
      s.sync();
      s.reclaimSpace(); // flushes: everything is in blob files now
      long full = s.storedBytes();
      assertTrue(full >= 40 * 200_000L, "stored " + full);
      for (int i = 0; i < 40; i++) {
        if (i % 4 != 0) {
          s.delete(hashes.get(i));
        }
      }
      assertTrue(s.storedBytes() >= full - 200_000, "deleting alone does not shrink blob files");
      s.reclaimSpace();
      long after = s.storedBytes();
      assertTrue(after < full / 3, "stored " + after + " of " + full + " after reclaiming 30 of 40 blocks");
      for (int i = 0; i < kept.size(); i++) {
        assertArrayEquals(kept.get(i), s.get(hashes.get(4 * i)));
      }
      assertNull(s.get(hashes.get(1)));
    }
  }

  @Test
  void corruptBlocksAreDetectedNotReturned() throws Exception {
    try (RocksBlockStore s = RocksBlockStore.open(tmp)) {
      byte[] h = s.put("wp-config".getBytes(), 0, 9);
      s.putRawForTesting(h, "evil".getBytes());
      CorruptBlockException e = assertThrows(CorruptBlockException.class, () -> s.get(h));
      assertTrue(e.getMessage().contains(BlockHash.hex(h)));
      assertThrows(CorruptBlockException.class, () -> s.putVerified(h, "other".getBytes()));
    }
  }
}
