package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three nodes mounted with --write-behind: a tree extracted on node 1 reaches the other nodes without
 * anyone waiting for it, and fsync is the barrier after which every node sees the data.
 */
class WriteBehindClusterTest {
  @TempDir Path tmp;

  @Test
  void aTreeWrittenBehindReachesEveryNodeAndFsyncIsTheBarrier() throws Exception {
    Path plain = tmp.resolve("plain");
    TreeFixture.build(plain, 400, 11);
    NodeProcess.sh(tmp, "tar -C plain -cf tree.tar .").ok();
    try (SharefsCluster c = SharefsCluster.start(tmp.resolve("c"), 3, "--write-behind", "--write-timeout", "5")) {
      NodeProcess.sh(tmp, "tar -C " + c.mountPoint(0) + " -xf tree.tar").ok();
      NodeProcess.sh(tmp, "diff -r --no-dereference plain " + c.mountPoint(0)).ok(); // the writer, at once
      for (int node = 1; node < 3; node++) {
        long deadline = System.currentTimeMillis() + 60_000;
        NodeProcess.Result r;
        while ((r = NodeProcess.sh(tmp, "diff -r --no-dereference plain " + c.mountPoint(node))).code() != 0) {
          assertTrue(System.currentTimeMillis() < deadline, "node " + (node + 1) + " never caught up:\n" + r.out());
          Thread.sleep(100);
        }
      }

      // Unlinks are written behind too: the writer sees them at once, the others once they land.
      NodeProcess.sh(tmp, "rm -rf " + c.mountPoint(0).resolve("wp-content/plugins")).ok();
      assertTrue(!java.nio.file.Files.exists(c.mountPoint(0).resolve("wp-content/plugins")));
      for (int node = 1; node < 3; node++) {
        long deadline = System.currentTimeMillis() + 60_000;
        while (java.nio.file.Files.exists(c.mountPoint(node).resolve("wp-content/plugins"))) {
          assertTrue(System.currentTimeMillis() < deadline, "the removed tree never left node " + (node + 1));
          Thread.sleep(100);
        }
        // a file removed from plugins/ keeps its other link
        assertArrayEquals(java.nio.file.Files.readAllBytes(plain.resolve("wp-content/uploads/2026/11/hardlink.php")),
            java.nio.file.Files.readAllBytes(c.mountPoint(node).resolve("wp-content/uploads/2026/11/hardlink.php")));
      }

      // After fsync returns on node 1, node 2's next open sees the bytes: no polling.
      for (int k = 0; k < 20; k++) {
        byte[] v = ("version " + k + " of wp-config.php").getBytes();
        try (FileChannel ch = FileChannel.open(c.mountPoint(0).resolve("wp-config.php"), StandardOpenOption.CREATE,
            StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
          ch.write(ByteBuffer.wrap(v));
          ch.force(true);
          assertArrayEquals(v, java.nio.file.Files.readAllBytes(c.mountPoint(1).resolve("wp-config.php")),
              "version " + k + " on node 2 right after fsync on node 1");
        }
      }

      String m = c.metrics(0);
      assertEquals(0, (long) SharefsCluster.metric(m, "sharefs_write_behind_failures_total"));
      assertEquals(0, (long) SharefsCluster.metric(m, "sharefs_meta_pending_ops"));
      assertTrue(SharefsCluster.metric(m, "sharefs_meta_ops_total")
          >= SharefsCluster.metric(m, "sharefs_meta_entries_total"));
    }
  }
}
