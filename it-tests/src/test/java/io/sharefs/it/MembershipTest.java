package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A fourth node joins a cluster that already holds data, as a listener; status and members report it. */
class MembershipTest {
  @TempDir Path tmp;

  @Test
  void joiningNodeGetsEverythingAndDoesNotVote() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp, 3, "--snapshot-every", "50", "--log-segment-bytes", "65536")) {
      Path src = Files.createDirectories(c.mountPoint(0).resolve("site"));
      byte[] big = new byte[3_000_000];
      new Random(9).nextBytes(big);
      Files.write(src.resolve("upload.bin"), big);
      for (int k = 0; k < 120; k++) {
        Files.writeString(src.resolve("page-" + k + ".php"), "<?php // " + k);
      }
      int n4 = c.join(1);
      // Everything written before the join is on the new node, bytes included.
      long deadline = System.currentTimeMillis() + 60_000;
      Path mine = c.mountPoint(n4).resolve("site");
      while (System.currentTimeMillis() < deadline && !Files.exists(mine.resolve("page-119.php"))) {
        Thread.sleep(100);
      }
      assertEquals("<?php // 119", Files.readString(mine.resolve("page-119.php")));
      assertArrayEquals(big, Files.readAllBytes(mine.resolve("upload.bin")));
      // It takes writes too, and the others see them.
      Files.writeString(mine.resolve("from-n4.txt"), "hi");
      assertEquals("hi", Files.readString(c.mountPoint(2).resolve("site/from-n4.txt")));

      NodeProcess.Result members = c.admin("members", "list", "--node", c.address(0), "--json");
      assertEquals(0, members.code(), members.out());
      JsonObject m = JsonParser.parseString(members.out()).getAsJsonObject();
      assertEquals(4, m.getAsJsonArray("members").size());
      assertEquals(3, m.get("maxVoters").getAsInt());
      boolean n4Listener = false;
      for (var e : m.getAsJsonArray("members")) {
        JsonObject o = e.getAsJsonObject();
        if (o.get("id").getAsString().equals("n4")) {
          n4Listener = !o.get("voter").getAsBoolean();
        }
      }
      assertTrue(n4Listener, members.out());

      NodeProcess.Result status = c.admin("status", "--node", c.address(3));
      assertTrue(status.out().contains("listener"), status.out());
      assertTrue(Arrays.asList(0, 3).contains(status.code()), status.out());

      // Losing the listener costs no quorum: writes continue with n4 down.
      c.kill9(n4);
      Files.writeString(c.mountPoint(0).resolve("site/after-n4.txt"), "ok");
      assertEquals("ok", Files.readString(c.mountPoint(1).resolve("site/after-n4.txt")));
      NodeProcess.Result degraded = c.admin("status", "--node", c.address(0));
      assertEquals(3, degraded.code(), degraded.out());
      assertTrue(degraded.out().contains("unreachable"), degraded.out());

      NodeProcess.Result removed = c.admin("members", "remove", "n4", "--node", c.address(0));
      assertEquals(0, removed.code(), removed.out());
      assertTrue(!removed.out().contains("n4"), removed.out());
    }
  }
}
