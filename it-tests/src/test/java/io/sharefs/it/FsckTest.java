package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.sharefs.block.BlockHash;
import io.sharefs.node.admin.AdminClient;
import io.sharefs.proto.TestHookRequestProto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fsck on a real 3-node cluster: each kind of damage is injected into the nodes' stores (test hooks
 * write to RocksDB directly, as a bad disk or a bug would), reported by a check that changes
 * nothing, fixed by --repair where a good copy exists, and moved to lost+found where none does.
 */
class FsckTest {
  static final int MIB = 1 << 20;
  @TempDir Path tmp;

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** Hash of the i-th 1 MiB block of {@code data}. */
  private static byte[] block(byte[] data, int i) {
    return BlockHash.of(data, i * MIB, Math.min(MIB, data.length - i * MIB));
  }

  private static void hook(SharefsCluster c, int node, String action, byte[] hash, byte[] data, long ino)
      throws Exception {
    TestHookRequestProto.Builder b = TestHookRequestProto.newBuilder().setAction(action).setIno(ino);
    if (hash != null) {
      b.setHash(ByteString.copyFrom(hash));
    }
    if (data != null) {
      b.setData(ByteString.copyFrom(data));
    }
    try (AdminClient a = c.adminClient(node)) {
      a.testHook(b.build());
    }
  }

  @Test
  void findsEachKindOfDamageAndRepairsWhatHasAGoodCopy() throws Exception {
    // Also a cluster on a non-default election timeout (fsck does not depend on Raft timing).
    try (SharefsCluster c = SharefsCluster.startWithTestHooks(tmp, 3, "--election-timeout", "800")) {
      for (int node = 0; node < 3; node++) {
        assertEquals(0.8, SharefsCluster.metric(c.metrics(node), "sharefs_raft_election_timeout_seconds"),
            1e-9);
      }
      Path m0 = c.mountPoint(0);
      byte[] a = random(2 * MIB, 1);
      byte[] b = random(MIB + 1000, 2);
      byte[] cc = random(MIB + 2000, 3);
      byte[] d = random(MIB + 3000, 4);
      Files.createDirectories(m0.resolve("uploads"));
      Files.write(m0.resolve("uploads/a.bin"), a);
      Files.write(m0.resolve("uploads/b.bin"), b);
      Files.write(m0.resolve("uploads/c.bin"), cc);
      Files.write(m0.resolve("uploads/d.bin"), d);
      Files.writeString(m0.resolve("uploads/small.txt"), "inline");
      long dIno = (Long) Files.getAttribute(m0.resolve("uploads/d.bin"), "unix:ino");
      NodeProcess.Result clean = awaitClean(c);
      assertTrue(clean.out().contains("clean"), clean.out());

      hook(c, 1, "corrupt-block", block(a, 0), null, 0);                 // one bad copy: repairable
      for (int i = 0; i < 3; i++) {
        hook(c, i, "drop-block", block(b, 1), null, 0);                  // no copy anywhere: lost
        hook(c, i, "drop-inode", null, null, dIno);                      // an entry without its inode
      }
      hook(c, 2, "drop-block", block(cc, 0), null, 0);                   // one copy short: repairable
      byte[] stray = random(5000, 5);
      hook(c, 0, "put-block", null, stray, 0);                           // referenced by nothing, 2 h old

      NodeProcess.Result check = c.admin("fsck", "--node", c.address(0));
      assertEquals(4, check.code(), check.out());
      for (String kind : new String[] {"block-corrupt", "block-missing", "block-under-replicated",
          "block-unreferenced", "dangling-dentry"}) {
        assertTrue(check.out().contains("FOUND     " + kind), kind + " not reported:\n" + check.out());
      }
      assertTrue(check.out().contains("/uploads/b.bin"), check.out());
      assertFalse(check.out().contains("REPAIRED"), check.out());
      NodeProcess.Result again = c.admin("fsck", "--json", "--node", c.address(1));
      assertEquals(4, again.code(), again.out());
      assertTrue(again.out().contains("\"result\": \"unrepaired\""), again.out());
      assertTrue(again.out().contains("block-unreferenced"), "a check alone must not drop anything:\n" + again.out());

      NodeProcess.Result repair = c.admin("fsck", "--repair", "--node", c.address(0));
      System.out.println(repair.out());
      assertEquals(4, repair.code(), repair.out()); // b.bin has no good copy left
      for (String kind : new String[] {"block-corrupt", "block-under-replicated", "block-unreferenced",
          "dangling-dentry"}) {
        assertTrue(repair.out().contains("REPAIRED  " + kind), kind + " not repaired:\n" + repair.out());
      }
      assertTrue(repair.out().contains("FOUND     block-missing"), repair.out());

      // Afterwards only the lost file is left, now in /lost+found; removing it leaves a clean tree.
      NodeProcess.Result after = c.admin("fsck", "--node", c.address(2));
      assertEquals(4, after.code(), after.out());
      assertTrue(after.out().contains("/lost+found/"), after.out());
      assertFalse(after.out().contains("block-corrupt") || after.out().contains("under-replicated")
          || after.out().contains("unreferenced") || after.out().contains("dangling"), after.out());
      assertFalse(Files.exists(m0.resolve("uploads/b.bin")));
      assertFalse(Files.exists(c.mountPoint(1).resolve("uploads/d.bin")));
      assertArrayEquals(a, Files.readAllBytes(c.mountPoint(1).resolve("uploads/a.bin")));
      assertArrayEquals(cc, Files.readAllBytes(c.mountPoint(2).resolve("uploads/c.bin")));
      try (var s = Files.list(m0.resolve("lost+found"))) {
        for (Path p : s.toList()) {
          Files.delete(p);
        }
      }
      NodeProcess.Result end = c.admin("fsck", "--node", c.address(0));
      assertEquals(0, end.code(), end.out());
    }
  }

  /** Waits until every node holds every block (the background pull has finished). */
  private static NodeProcess.Result awaitClean(SharefsCluster c) throws Exception {
    NodeProcess.Result r = null;
    for (int i = 0; i < 100; i++) {
      r = c.admin("fsck", "--node", c.address(0));
      if (r.code() == 0) {
        return r;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("cluster never became clean:\n" + r.out());
  }
}
