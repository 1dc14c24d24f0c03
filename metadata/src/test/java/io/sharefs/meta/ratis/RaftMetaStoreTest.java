package io.sharefs.meta.ratis;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.meta.FileMode;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaStore;
import io.sharefs.meta.MetaStoreContractTest;
import io.sharefs.meta.op.CreateOp;
import io.sharefs.meta.table.MetaTables;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The contract suite on a real one-peer Ratis group over gRPC on loopback, plus restart and log purge. */
class RaftMetaStoreTest extends MetaStoreContractTest {
  private String address;

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  protected MetaStore open(Path dir) throws Exception {
    if (address == null) {
      address = "127.0.0.1:" + freePort();
    }
    RaftConfig cfg = new RaftConfig("n1", java.util.Map.of("n1", address), dir.resolve("raft"), 50, 10_000);
    RaftMetaStore s = RaftMetaStore.start(cfg, MetaTables.open(dir.resolve("meta")));
    assertTrue(s.awaitLeader(20_000), "no leader");
    return s;
  }

  @Test
  void survivesRestartAndPurgesTheLog() throws Exception {
    for (int i = 0; i < 120; i++) {
      store.submit(new CreateOp(Inode.ROOT_INO, ("f" + i).getBytes(UTF_8), FileMode.S_IFREG | 0644, 0, null)
          .settle(1_000L + i, 0, 0)).orThrow();
    }
    long applied = ((RaftMetaStore) store).stateMachine().appliedIndex();
    store.close();
    store = open(tmp.resolve("store"));
    for (int i = 0; i < 120; i++) {
      assertNotNull(store.lookup(Inode.ROOT_INO, ("f" + i).getBytes(UTF_8)), "f" + i);
    }
    assertTrue(((RaftMetaStore) store).stateMachine().appliedIndex() >= applied);
    // Snapshots every 50 entries: the log segments before the latest snapshot are purged.
    Path raft = tmp.resolve("store").resolve("raft");
    long closedSegments;
    try (Stream<Path> s = Files.walk(raft)) {
      closedSegments = s.filter(p -> p.getFileName().toString().matches("log_\\d+-\\d+")).count();
    }
    long snapshots;
    try (Stream<Path> s = Files.walk(raft)) {
      snapshots = s.filter(p -> p.getFileName().toString().startsWith("snapshot.")).count();
    }
    assertTrue(snapshots >= 1 && snapshots <= 2, "snapshots kept: " + snapshots);
    assertTrue(closedSegments <= 2, "closed log segments left: " + closedSegments);
    // And the store still takes writes after the purge.
    assertEquals(0, store.submit(new CreateOp(Inode.ROOT_INO, "after".getBytes(UTF_8), FileMode.S_IFREG, 0, null)
        .settle(5_000L, 0, 0)).errno());
  }
}
