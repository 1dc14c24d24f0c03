package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node mounted with --no-xattrs: xattr calls fail with EOPNOTSUPP, and after the first refusal the
 * kernel stops sending GETXATTR (it otherwise asks for security.capability before every write()).
 */
class NoXattrsMountTest {
  @TempDir Path tmp;

  @Test
  void aMountServingXattrsIsAskedBeforeEveryWrite() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp.resolve("with"), 1)) {
      long before = getxattrCalls(c.metrics(0));
      writeChunks(c.mountPoint(0).resolve("second.bin"), new byte[4096], 50);
      assertTrue(getxattrCalls(c.metrics(0)) - before >= 50, "the kernel did not ask: the test below proves nothing");
    }
  }

  @Test
  void xattrsAreRefusedAndWritesStopAskingForThem() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp.resolve("without"), 1, "--no-xattrs")) {
      Path f = c.mountPoint(0).resolve("upload.bin");
      byte[] data = new byte[600_000];
      new Random(9).nextBytes(data);
      try (OutputStream out = Files.newOutputStream(f)) {
        for (int off = 0; off < data.length; off += 4096) {
          out.write(data, off, Math.min(4096, data.length - off));
          out.flush();
        }
      }
      assertArrayEquals(data, Files.readAllBytes(f));
      UserDefinedFileAttributeView view = Files.getFileAttributeView(f, UserDefinedFileAttributeView.class);
      IOException e = assertThrows(IOException.class, () -> view.write("user.a", ByteBuffer.wrap(new byte[1])));
      assertTrue(String.valueOf(e.getMessage()).contains("not supported"), String.valueOf(e.getMessage()));
      assertThrows(IOException.class, view::list);

      // 147 write() calls, each of which asks for security.capability on a mount that serves xattrs:
      // here the kernel asked at most once, got ENOSYS, and never asked again.
      long asked = getxattrCalls(c.metrics(0));
      assertTrue(asked <= 1, "getxattr reached the node " + asked + " times");
      writeChunks(c.mountPoint(0).resolve("second.bin"), data, 50);
      assertEquals(asked, getxattrCalls(c.metrics(0)));
      assertNotEquals(0, Files.size(c.mountPoint(0).resolve("second.bin")));
    }
  }

  private static void writeChunks(Path f, byte[] data, int chunks) throws IOException {
    try (OutputStream out = Files.newOutputStream(f)) {
      for (int i = 0; i < chunks; i++) {
        out.write(data, 0, 4096);
        out.flush();
      }
    }
  }

  private static long getxattrCalls(String metrics) {
    return metrics.lines().filter(l -> l.startsWith("sharefs_fuse_op_seconds_count{op=\"getxattr\"}"))
        .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
  }
}
