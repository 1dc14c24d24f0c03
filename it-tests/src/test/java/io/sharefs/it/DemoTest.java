package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's first command: {@code sharefs demo} runs a real 3-node cluster and cleans up on Ctrl-C. */
class DemoTest {
  @TempDir Path tmp;

  @Test
  void demoSharesOneTreeAndUnmountsEverythingOnStop() throws Exception {
    Path dir = tmp.resolve("demo");
    int base = NodeProcess.freeDemoBase(3);
    List<String> cmd = NodeProcess.command("demo", "--dir", dir.toString(), "--base-port", Integer.toString(base),
        "--no-xattrs");
    Process demo = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true).start();
    List<ProcessHandle> nodes = new ArrayList<>();
    LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    StringBuilder out = new StringBuilder();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(demo.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          lines.add(line);
        }
      } catch (Exception e) {
        // demo gone
      }
    }, "demo-output");
    reader.setDaemon(true);
    reader.start();
    try {
      String line;
      do {
        line = lines.poll(180, TimeUnit.SECONDS);
        assertTrue(line != null, "demo printed nothing more for 180 s:\n" + out);
        out.append(line).append('\n');
      } while (!line.startsWith("Ctrl-C stops every node"));
      demo.descendants().filter(h -> h.info().arguments().map(a -> List.of(a).contains("mount")).orElse(false))
          .forEach(nodes::add);
      assertEquals(3, nodes.size(), "one process per node:\n" + out);
      for (ProcessHandle node : nodes) {
        assertTrue(node.info().arguments().map(a -> List.of(a).contains("--no-xattrs")).orElse(false),
            "the demo's --no-xattrs reaches node " + node.pid());
      }
      for (int i = 1; i <= 3; i++) {
        assertTrue(out.toString().contains("node-" + i + "  " + dir.resolve("node-" + i)), out.toString());
        assertTrue(NodeProcess.isMounted(dir.resolve("node-" + i)), "node-" + i + " mounted");
      }

      // The hint it prints works: written on node-1, the same bytes on node-2 and node-3 as soon as
      // close() returned (strict close-to-open, the demo's default).
      byte[] content = new byte[300_000];
      new Random(7).nextBytes(content);
      Files.write(dir.resolve("node-1/hello.bin"), content);
      for (int i = 2; i <= 3; i++) {
        assertArrayEquals(content, Files.readAllBytes(dir.resolve("node-" + i + "/hello.bin")), "node-" + i);
      }
      Files.createDirectories(dir.resolve("node-3/wp-content/uploads"));
      Files.writeString(dir.resolve("node-3/wp-content/uploads/a.txt"), "from node-3");
      assertEquals("from node-3", Files.readString(dir.resolve("node-2/wp-content/uploads/a.txt")));

      // So does the status command it prints, with the admin certificate it made.
      NodeProcess.Result status = NodeProcess.run(tmp, NodeProcess.command("status", "--tls-dir",
          dir.resolve(".tls/admin").toString(), "--node", "127.0.0.1:" + (base + 10)));
      assertEquals(0, status.code(), status.out());
      for (int i = 1; i <= 3; i++) {
        String row = "(?s).*\\nn" + i + " +127\\.0\\.0\\.1:" + (base + 10 * i) + " +(leader|follower) .*";
        assertTrue(status.out().matches(row), status.out());
      }

      // Process.destroy() would also close our end of its output and lose the goodbye line.
      demo.toHandle().destroy(); // SIGTERM, as Ctrl-C's SIGINT
      do {
        line = lines.poll(90, TimeUnit.SECONDS);
        assertTrue(line != null, "demo printed nothing more for 90 s after SIGTERM:\n" + out);
        out.append(line).append('\n');
      } while (!line.contains("sharefs demo: stopped"));
      assertEquals("sharefs demo: stopped 3 nodes, nothing left mounted.", line);
      assertTrue(demo.waitFor(30, TimeUnit.SECONDS), "demo exits");
      assertEquals(0, demo.exitValue(), out.toString());
      for (ProcessHandle node : nodes) {
        assertFalse(node.isAlive(), "node process " + node.pid() + " still running");
      }
      for (int i = 1; i <= 3; i++) {
        assertFalse(NodeProcess.isMounted(dir.resolve("node-" + i)), "node-" + i + " still mounted");
      }
    } finally {
      nodes.forEach(ProcessHandle::destroyForcibly); // found even if the demo died and left them behind
      demo.descendants().forEach(ProcessHandle::destroyForcibly);
      demo.destroyForcibly();
      for (int i = 1; i <= 3; i++) {
        if (NodeProcess.isMounted(dir.resolve("node-" + i))) {
          NodeProcess.forceUnmount(dir.resolve("node-" + i));
        }
      }
    }
  }
}
