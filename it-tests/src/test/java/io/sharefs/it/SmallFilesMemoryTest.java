package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Small files keep their content in the inode record, so it travels through the Raft log, its
 * replies and the metadata cache. A node must hold far more of them than its heap: before these
 * were bounded, ~16,000 files of 14 KB killed a node with the default 256 MiB heap (OutOfMemoryError,
 * then its Raft server closed and writes failed with EIO).
 */
class SmallFilesMemoryTest {
  static final int FILES = 8_000;
  static final int SIZE = 15_000; // under the 16 KiB inline threshold

  @TempDir Path tmp;

  static byte[] content(int k) {
    byte[] b = new byte[SIZE];
    ByteBuffer.wrap(b).putInt(k).putInt(SIZE - k);
    b[SIZE - 1] = (byte) k;
    return b;
  }

  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void aNodeWritesAndServesMoreSmallFilesThanItsHeapHolds() throws Exception {
    // 8,000 x 15 KB = 120 MB of content against a 128 MiB heap; no page cache, so every read is
    // served by the node.
    try (NodeProcess node = new NodeProcess(tmp.resolve("data"), tmp.resolve("mnt"),
        "127.0.0.1:" + NodeProcess.freePort(), List.of("--kernel-cache", "off")).maxHeap("128m").start()) {
      Path root = node.mountPoint();
      for (int k = 0; k < FILES; k++) {
        Path dir = root.resolve("thumbs-" + k / 1000);
        if (k % 1000 == 0) {
          Files.createDirectories(dir);
        }
        Files.write(dir.resolve("img-" + k + ".jpg"), content(k));
      }
      for (int k = 0; k < FILES; k++) {
        byte[] got = Files.readAllBytes(root.resolve("thumbs-" + k / 1000).resolve("img-" + k + ".jpg"));
        assertArrayEquals(content(k), got, "file " + k);
      }
      Files.write(root.resolve("after.txt"), "still writable".getBytes());
      assertArrayEquals("still writable".getBytes(), Files.readAllBytes(root.resolve("after.txt")));
      assertTrue(node.process().isAlive(), "node exited");
      assertFalse(node.logText().contains("OutOfMemoryError"), "node ran out of heap:\n" + node.logText());
    }
  }
}
