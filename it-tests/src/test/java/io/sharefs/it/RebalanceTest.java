package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.block.BlockHash;
import io.sharefs.block.grpc.BlockClient;
import io.sharefs.block.placement.Placement;
import io.sharefs.node.NodeConfig;
import io.sharefs.tls.TlsIdentity;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replication factor below the node count on real nodes: after `rebalance`, every block sits on
 * exactly the members rendezvous hashing picks — after setting R=2, after a fourth node joins, and
 * after raising R to 3 with an interrupted first run.
 */
class RebalanceTest {
  static final int MIB = 1 << 20;
  @TempDir Path tmp;

  @Test
  void blocksEndUpOnExactlyTheirPlacesAcrossJoinsAndFactorChanges() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp, 3)) {
      List<byte[]> files = new ArrayList<>();
      Set<ByteBuffer> blocks = new HashSet<>();
      for (int i = 0; i < 12; i++) {
        byte[] data = new byte[MIB + 100_000];
        new Random(i).nextBytes(data);
        files.add(data);
        Files.write(c.mountPoint(0).resolve("f" + i + ".bin"), data);
        blocks.add(ByteBuffer.wrap(BlockHash.of(data, 0, MIB)));
        blocks.add(ByteBuffer.wrap(BlockHash.of(data, MIB, data.length - MIB)));
      }
      awaitEverywhere(c, blocks, 3);

      NodeProcess.Result r2 = c.admin("rebalance", "--replication", "2", "--rate", "0", "--node", c.address(0));
      assertEquals(0, r2.code(), r2.out());
      assertTrue(r2.out().contains("plan (replication 2): copy 0 blocks"), r2.out());
      assertExactlyPlaced(c, blocks, 3, 2);
      NodeProcess.Result status = c.admin("status", "--node", c.address(1));
      assertTrue(status.out().contains("replication: 2 copies"), status.out());

      int n4 = c.join(0);
      NodeProcess.Result afterJoin = c.admin("rebalance", "--node", c.address(1));
      assertEquals(0, afterJoin.code(), afterJoin.out());
      assertExactlyPlaced(c, blocks, 4, 2);

      // Raise R to 3, throttled to 1 MB/s, and interrupt the client once it has planned (the factor is
      // set by then) and copied for a moment. Waiting for the plan line, not a fixed time: on a loaded
      // machine the client JVM may not even have connected after a few seconds.
      Process slow = new ProcessBuilder(NodeProcess.command("rebalance", "--replication", "3", "--rate", "1",
          "--tls-dir", c.adminTlsDir().toString(), "--node", c.address(0))).redirectErrorStream(true).start();
      BufferedReader slowOut = new BufferedReader(new InputStreamReader(slow.getInputStream(), StandardCharsets.UTF_8));
      StringBuilder seen = new StringBuilder();
      for (String line; (line = slowOut.readLine()) != null && !line.contains("plan (replication 3)"); ) {
        seen.append(line).append('\n');
      }
      assertTrue(slow.isAlive(), "the throttled run ended before planning:\n" + seen);
      Thread.sleep(1500);
      slow.destroy();
      assertTrue(slow.waitFor(20, TimeUnit.SECONDS));
      int lacking = missingCopies(c, blocks, 4, 3);
      assertNotEquals(0, lacking, "the throttled run should not have finished in 1.5 s");
      NodeProcess.Result resumed = c.admin("rebalance", "--rate", "0", "--node", c.address(2));
      assertEquals(0, resumed.code(), resumed.out());
      assertExactlyPlaced(c, blocks, 4, 3);
      NodeProcess.Result dry = c.admin("rebalance", "--dry-run", "--node", c.address(n4));
      assertTrue(dry.out().contains("copy 0 blocks") && dry.out().contains("drop 0"), dry.out());

      // Every node reads every file, whether or not it holds its blocks.
      for (int n = 0; n < 4; n++) {
        for (int i = 0; i < files.size(); i++) {
          assertArrayEquals(files.get(i), Files.readAllBytes(c.mountPoint(n).resolve("f" + i + ".bin")));
        }
      }
      NodeProcess.Result fsck = c.admin("fsck", "--node", c.address(0));
      assertEquals(0, fsck.code(), fsck.out());

      // Removing n4 first copies what it held to the members that stay: R=3 on 3 nodes is everywhere.
      NodeProcess.Result removed = c.admin("members", "remove", "n4", "--node", c.address(0));
      assertEquals(0, removed.code(), removed.out());
      assertTrue(removed.out().contains("plan (replication 3): copy "), removed.out());
      assertEquals(0, missingCopies(c, blocks, 3, 3));
      c.stop(n4);
      for (int i = 0; i < files.size(); i++) {
        assertArrayEquals(files.get(i), Files.readAllBytes(c.mountPoint(2).resolve("f" + i + ".bin")));
      }

      // With R=2 and one of three nodes down, writes whose places include it still succeed (without the
      // stand-in they fail with EIO: the place refuses the connection, the copy count cannot be met):
      // the copy goes to the next node in rank, or stays on the writer, until rebalance.
      NodeProcess.Result r2again = c.admin("rebalance", "--replication", "2", "--rate", "0", "--node", c.address(0));
      assertEquals(0, r2again.code(), r2again.out());
      c.kill9(2);
      List<byte[]> late = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        byte[] data = new byte[2 * MIB];
        new Random(100 + i).nextBytes(data);
        late.add(data);
        Files.write(c.mountPoint(0).resolve("late" + i + ".bin"), data);
      }
      for (int i = 0; i < late.size(); i++) {
        assertArrayEquals(late.get(i), Files.readAllBytes(c.mountPoint(1).resolve("late" + i + ".bin")));
      }
    }
  }

  private static List<Set<ByteBuffer>> inventories(SharefsCluster c, int nodes) throws Exception {
    List<Set<ByteBuffer>> out = new ArrayList<>();
    try (BlockClient client = new BlockClient(TlsIdentity.load(c.nodeTls(0)), 10_000)) {
      for (int n = 0; n < nodes; n++) {
        Set<ByteBuffer> have = new HashSet<>();
        client.scan(NodeConfig.dataAddress(c.address(n)), false, b -> have.add(ByteBuffer.wrap(b.getHash().toByteArray())));
        out.add(have);
      }
    }
    return out;
  }

  private static List<String> ids(int nodes) {
    List<String> ids = new ArrayList<>();
    for (int n = 1; n <= nodes; n++) {
      ids.add("n" + n);
    }
    return ids;
  }

  private static int missingCopies(SharefsCluster c, Set<ByteBuffer> blocks, int nodes, int copies) throws Exception {
    List<Set<ByteBuffer>> inv = inventories(c, nodes);
    int missing = 0;
    for (ByteBuffer b : blocks) {
      for (String id : Placement.choose(b.array(), ids(nodes), copies)) {
        if (!inv.get(Integer.parseInt(id.substring(1)) - 1).contains(b)) {
          missing++;
        }
      }
    }
    return missing;
  }

  private static void assertExactlyPlaced(SharefsCluster c, Set<ByteBuffer> blocks, int nodes, int copies)
      throws Exception {
    List<Set<ByteBuffer>> inv = inventories(c, nodes);
    for (ByteBuffer b : blocks) {
      List<String> places = Placement.choose(b.array(), ids(nodes), copies);
      for (int n = 0; n < nodes; n++) {
        assertEquals(places.contains("n" + (n + 1)), inv.get(n).contains(b),
            "block " + BlockHash.hex(b.array()) + " on n" + (n + 1) + " (places " + places + ")");
      }
    }
  }

  private static void awaitEverywhere(SharefsCluster c, Set<ByteBuffer> blocks, int nodes) throws Exception {
    for (int i = 0; i < 100 && missingCopies(c, blocks, nodes, 0) > 0; i++) {
      Thread.sleep(200);
    }
    assertEquals(0, missingCopies(c, blocks, nodes, 0));
  }
}
