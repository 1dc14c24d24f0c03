package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What close() or fsync() acknowledged survives a clean stop and a kill -9, bit for bit and attribute for attribute. */
class PersistenceTest {
  @TempDir Path tmp;

  static String manifest(Path root) throws Exception {
    String attrs = NodeProcess.sh(root, "find . -mindepth 1 -printf '%p %y %m %U %G %s %n %T@ %C@ %l\\n' | sort").ok().out();
    String sums = NodeProcess.sh(root, "find . -type f -print0 | sort -z | xargs -0 -r sha256sum").ok().out();
    StringBuilder x = new StringBuilder();
    try (var s = Files.walk(root)) {
      for (Path p : s.sorted().toList()) {
        if (Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
          UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
          for (String n : v.list()) {
            ByteBuffer b = ByteBuffer.allocate(v.size(n));
            v.read(n, b);
            x.append(root.relativize(p)).append(' ').append(n).append('=').append(new String(b.array())).append('\n');
          }
        }
      }
    }
    return attrs + sums + x;
  }

  private void populate(Path mnt, String tag) throws Exception {
    NodeProcess.sh(mnt, String.join("\n",
        "set -e",
        "mkdir -p " + tag + "/plugins/akismet " + tag + "/uploads",
        "head -c 3000000 /dev/urandom > " + tag + "/uploads/photo.jpg",
        "echo '<?php // plugin' > " + tag + "/plugins/akismet/akismet.php",
        "chmod 640 " + tag + "/plugins/akismet/akismet.php",
        "chown -R 33:33 " + tag + "/uploads",
        "ln -s plugins/akismet " + tag + "/current",
        "ln " + tag + "/plugins/akismet/akismet.php " + tag + "/hard.php",
        "mkfifo " + tag + "/fifo",
        "touch -d '2021-05-06 07:08:09.123456789' " + tag + "/plugins/akismet/akismet.php",
        "head -c 100000 /dev/urandom > " + tag + "/uploads/sparse.bin && truncate -s 9M " + tag + "/uploads/sparse.bin")).ok();
    UserDefinedFileAttributeView v = Files.getFileAttributeView(mnt.resolve(tag + "/uploads/photo.jpg"),
        UserDefinedFileAttributeView.class);
    v.write("sharefs.test", ByteBuffer.wrap(tag.getBytes()));
  }

  @Test
  void survivesCleanStopAndKill9() throws Exception {
    String listen = "127.0.0.1:" + NodeProcess.freePort();
    // No attribute caching: the manifest must show what is stored, not a kernel cache of another hard-link name.
    List<String> args = List.of("--attr-timeout", "0");
    Path data = tmp.resolve("data");
    Path mnt = tmp.resolve("mnt");
    String before;
    try (NodeProcess node = new NodeProcess(data, mnt, listen, args).start()) {
      populate(mnt, "a");
      before = manifest(mnt);
      assertEquals(0, node.stop(), "SIGTERM exits 0");
      assertFalse(NodeProcess.isMounted(mnt), "SIGTERM unmounts");
    }
    try (NodeProcess node = new NodeProcess(data, mnt, listen, args).start()) {
      assertEquals(before, manifest(mnt));
      populate(mnt, "b");
      NodeProcess.sh(mnt, "head -c 5000000 /dev/urandom > b/fsynced.bin && sync b/fsynced.bin").ok();
      before = manifest(mnt);
      node.kill9();
      assertTrue(NodeProcess.isMounted(mnt), "a killed node leaves a dead mount behind");
      try (NodeProcess restarted = new NodeProcess(data, mnt, listen, args).start()) {
        assertTrue(restarted.logText().contains("clearing a stale FUSE mount"), restarted.logText());
        assertEquals(before, manifest(mnt));
      }
    }
  }

  @Test
  void logIsPurgedAfterSnapshots() throws Exception {
    Path data = tmp.resolve("data2");
    try (NodeProcess node = new NodeProcess(data, tmp.resolve("mnt2"), "127.0.0.1:" + NodeProcess.freePort(),
        List.of("--snapshot-every", "200", "--log-segment-bytes", "65536")).start()) {
      NodeProcess.sh(node.mountPoint(), "for i in $(seq 1 600); do echo $i > f$i; done").ok();
      assertEquals("600\n", NodeProcess.sh(node.mountPoint(), "cat f600; ls | wc -l | tr -d ' ' > /dev/null").ok().out());
    }
    try (var s = Files.walk(data.resolve("raft"))) {
      List<Path> closed = s.filter(p -> p.getFileName().toString().matches("log_\\d+-\\d+")).toList();
      long firstIndex = closed.stream().mapToLong(p -> Long.parseLong(p.getFileName().toString().split("[_-]")[1]))
          .min().orElse(Long.MAX_VALUE);
      assertTrue(firstIndex > 0, "the log still starts at index 0: " + closed);
    }
  }
}
