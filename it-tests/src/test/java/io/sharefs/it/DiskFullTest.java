package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node whose data disk fills up: writes fail with ENOSPC (not EIO), nothing written before is lost,
 * and once files are removed the node frees their blocks by itself and takes writes again.
 */
class DiskFullTest {
  @TempDir Path tmp;

  @Test
  @Timeout(value = 4, unit = TimeUnit.MINUTES)
  void aFullDiskRefusesWritesWithEnospcKeepsWhatWasWrittenAndRecoversOnceFilesAreRemoved() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "mounting a small tmpfs needs root");
    Path disk = tmp.resolve("disk");
    Files.createDirectories(disk);
    NodeProcess.sh(tmp, "mount -t tmpfs -o size=64m sharefs-test-disk " + disk).ok();
    try {
      int port = NodeProcess.freePort();
      // --gc-interval 3600: within the test the collector runs only because the disk runs low.
      try (NodeProcess node = new NodeProcess(disk, tmp.resolve("mnt"), "127.0.0.1:" + port, // log beside, not on it
          List.of("--gc-interval", "3600", "--gc-grace", "10", "--write-timeout", "5")).start()) {
        Path root = node.mountPoint();
        Random rnd = new Random(7);
        List<byte[]> kept = new ArrayList<>();
        Files.createDirectories(root.resolve("keep"));
        for (int k = 0; k < 3; k++) {
          byte[] b = new byte[200_000 + k];
          rnd.nextBytes(b);
          Files.write(root.resolve("keep/f" + k), b);
          kept.add(b);
        }
        byte[] mb = new byte[1 << 20];
        List<Path> big = new ArrayList<>();
        IOException full = null; // write(2) and close(2) fail with ENOSPC
        for (int k = 0; k < 100 && full == null; k++) {
          rnd.nextBytes(mb);
          Path p = root.resolve("big" + k);
          big.add(p);
          try {
            Files.write(p, mb);
          } catch (IOException e) {
            full = e;
          }
        }
        assertTrue(full != null, "100 MiB fitted on a 64 MiB disk");
        assertTrue(String.valueOf(full.getMessage()).contains("No space left on device"), full.toString());
        for (int k = 0; k < kept.size(); k++) {
          assertArrayEquals(kept.get(k), Files.readAllBytes(root.resolve("keep/f" + k)), "keep/f" + k);
        }

        for (Path p : big) {
          Files.deleteIfExists(p);
        }
        // The removed files' blocks become collectable 10 s after they were stored; while the disk
        // is low a pass runs every 10 s, or every 30 s after a pass that freed nothing.
        byte[] after = new byte[3 << 20];
        rnd.nextBytes(after);
        long deadline = System.currentTimeMillis() + 150_000;
        while (true) {
          try {
            Files.write(root.resolve("after"), after);
            break;
          } catch (IOException e) {
            assertTrue(String.valueOf(e.getMessage()).contains("No space left on device"), e.toString());
            assertTrue(System.currentTimeMillis() < deadline, "still full 150 s after the files were removed\n"
                + node.logText());
            Thread.sleep(2_000);
          }
        }
        assertArrayEquals(after, Files.readAllBytes(root.resolve("after")));
        for (int k = 0; k < kept.size(); k++) {
          assertArrayEquals(kept.get(k), Files.readAllBytes(root.resolve("keep/f" + k)), "keep/f" + k);
        }
        String metrics = metrics(port + 2);
        assertTrue(SharefsCluster.metric(metrics, "sharefs_block_gc_dropped_blocks_total") >= 10, metrics);
        assertTrue(SharefsCluster.metric(metrics, "sharefs_data_disk_headroom_bytes") == 2 << 20, metrics);
        double free = SharefsCluster.metric(metrics, "sharefs_data_disk_free_bytes");
        assertTrue(free > 2 << 20 && free < 64 << 20, metrics);
        assertTrue(node.process().isAlive(), "node exited\n" + node.logText());
      }
    } finally {
      NodeProcess.sh(tmp, "umount " + disk + " || umount -l " + disk);
    }
  }

  private static String metrics(int port) throws IOException, InterruptedException {
    var client = java.net.http.HttpClient.newHttpClient();
    var req = java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build();
    return client.send(req, java.net.http.HttpResponse.BodyHandlers.ofString()).body();
  }
}
