package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.it.NodeProcess.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad input gets a one-line error and a non-zero exit, and leaves nothing mounted. */
class MountCliTest {
  @TempDir Path tmp;

  private Result sharefs(String... args) throws Exception {
    return NodeProcess.run(tmp, NodeProcess.command(args));
  }

  @Test
  void unknownFlagIsAUsageError() throws Exception {
    Result r = sharefs("mount", "--no-such-flag", tmp.toString());
    assertEquals(2, r.code(), r.out());
    assertTrue(r.out().contains("Unknown option: '--no-such-flag'"), r.out());
    Result bad = sharefs("mount", "--listen", "nohostport", tmp.toString());
    assertEquals(2, bad.code(), bad.out());
    assertTrue(bad.out().contains("--listen must be HOST:PORT"), bad.out());
    Result timeout = sharefs("mount", "--election-timeout", "10", tmp.toString());
    assertEquals(2, timeout.code(), timeout.out());
    assertTrue(timeout.out().contains("--election-timeout must be between 50 and 60000 ms"), timeout.out());
    assertEquals(0, sharefs("mount", "--help").code());
  }

  @Test
  void mountpointProblemsAreNamed() throws Exception {
    Result missing = sharefs("mount", "--data-dir", tmp.resolve("d").toString(), tmp.resolve("nope").toString());
    assertEquals(1, missing.code());
    assertTrue(missing.out().contains("mountpoint " + tmp.resolve("nope") + " does not exist"), missing.out());
    Path file = Files.writeString(tmp.resolve("file"), "x");
    Result notDir = sharefs("mount", "--data-dir", tmp.resolve("d").toString(), file.toString());
    assertEquals(1, notDir.code());
    assertTrue(notDir.out().contains("is not a directory"), notDir.out());
    Path full = tmp.resolve("full");
    Files.createDirectories(full.resolve("existing"));
    Result nonEmpty = sharefs("mount", "--data-dir", tmp.resolve("d").toString(), full.toString());
    assertEquals(1, nonEmpty.code());
    assertTrue(nonEmpty.out().contains("is not empty"), nonEmpty.out());
    Result badData = sharefs("mount", "--data-dir", file.resolve("sub").toString(), tmp.resolve("d").toString());
    Files.createDirectories(tmp.resolve("d"));
    badData = sharefs("mount", "--data-dir", file.resolve("sub").toString(), tmp.resolve("d").toString());
    assertEquals(1, badData.code());
    assertTrue(badData.out().contains("data dir " + file.resolve("sub") + " cannot be created"), badData.out());
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    Result noTls = sharefs("mount", "--data-dir", tmp.resolve("d2").toString(), "--peers",
        "n1=127.0.0.1:7100,n2=127.0.0.1:7110", empty.toString());
    assertEquals(1, noTls.code(), noTls.out());
    assertTrue(noTls.out().contains("a cluster node needs --tls-dir"), noTls.out());
    Result badTls = sharefs("mount", "--data-dir", tmp.resolve("d2").toString(), "--tls-dir",
        tmp.resolve("no-tls").toString(), empty.toString());
    assertEquals(1, badTls.code(), badTls.out());
    assertTrue(badTls.out().contains("TLS directory " + tmp.resolve("no-tls") + " does not exist"), badTls.out());
  }

  @Test
  void optionsComeFromAConfigFileAndFlagsWin() throws Exception {
    Path mp = Files.createDirectories(tmp.resolve("site"));
    Path cfg = tmp.resolve("sharefs.properties");
    int port = NodeProcess.freePort();
    Files.writeString(cfg, "# sharefs mount options\ndata-dir = " + tmp.resolve("cfg-data") + "\nlisten = 127.0.0.1:"
        + port + "\nmetrics = off\nnode-id = from-config\nmountpoint = " + mp + "\n");
    // --node-id on the command line overrides the file.
    try {
      Process p = new ProcessBuilder(NodeProcess.command("mount", "--config", cfg.toString(), "--node-id", "flag-wins"))
          .redirectErrorStream(true).start();
      try {
        StringBuilder out = new StringBuilder();
        var in = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
        for (String line; (line = in.readLine()) != null; ) {
          out.append(line).append('\n');
          if (line.contains("mounted at")) {
            break;
          }
        }
        assertTrue(out.toString().contains("node flag-wins mounted at " + mp), out.toString());
        Files.writeString(mp.resolve("hello.txt"), "from a config-file mount");
        assertTrue(Files.isDirectory(tmp.resolve("cfg-data/meta")), "data dir from the file");
      } finally {
        p.destroy();
        p.waitFor();
      }
      assertFalse(NodeProcess.isMounted(mp));
    } finally {
      if (NodeProcess.isMounted(mp)) {
        NodeProcess.forceUnmount(mp);
      }
    }
    Files.writeString(cfg, "data-dir = /x\nlisten-address = 127.0.0.1:1\n");
    Result typo = sharefs("mount", "--config", cfg.toString(), mp.toString());
    assertEquals(2, typo.code(), typo.out());
    assertTrue(typo.out().contains("unknown key 'listen-address' in config file"), typo.out());
  }

  /** The documented set-up of a cluster's certificates, through the CLI, ending in a node that serves an admin. */
  @Test
  void caCommandsIssueCertificatesANodeAndAnAdminUse() throws Exception {
    Path ca = tmp.resolve("ca");
    assertEquals(0, sharefs("ca", "init", "--dir", ca.toString()).ok().code());
    Result again = sharefs("ca", "init", "--dir", ca.toString());
    assertEquals(1, again.code(), again.out());
    assertTrue(again.out().contains("a CA already exists in " + ca), again.out());
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(ca.resolve("ca.key"))));
    assertEquals(0, sharefs("ca", "issue", "--ca", ca.toString(), "--name", "n1", "--host", "127.0.0.1",
        "--out", tmp.resolve("n1").toString()).ok().code());
    assertEquals(0, sharefs("ca", "issue", "--ca", ca.toString(), "--name", "ops", "--admin",
        "--out", tmp.resolve("ops").toString()).ok().code());
    Result badName = sharefs("ca", "issue", "--ca", ca.toString(), "--name", "a b", "--out", tmp.resolve("x").toString());
    assertEquals(1, badName.code(), badName.out());

    String listen = "127.0.0.1:" + NodeProcess.freePort();
    Result adminAsNode = sharefs("mount", "--data-dir", tmp.resolve("d-admin").toString(), "--listen", listen,
        "--tls-dir", tmp.resolve("ops").toString(), Files.createDirectories(tmp.resolve("m-admin")).toString());
    assertEquals(1, adminAsNode.code(), adminAsNode.out());
    assertTrue(adminAsNode.out().contains("holds an admin certificate"), adminAsNode.out());
    try (NodeProcess node = new NodeProcess(tmp.resolve("d1"), tmp.resolve("m1"), listen,
        List.of("--tls-dir", tmp.resolve("n1").toString())).start()) {
      Result status = sharefs("status", "--node", listen, "--tls-dir", tmp.resolve("ops").toString());
      assertEquals(0, status.code(), status.out());
      assertTrue(status.out().contains("n1 "), status.out());
    }
  }

  @Test
  void secondProcessOnTheSameDataDirIsRefused() throws Exception {
    Path data = tmp.resolve("data");
    try (NodeProcess node = new NodeProcess(data, tmp.resolve("m1"), "127.0.0.1:" + NodeProcess.freePort(), List.of())
        .start()) {
      Files.createDirectories(tmp.resolve("m2"));
      Result r = sharefs("mount", "--data-dir", data.toString(), "--listen", "127.0.0.1:" + NodeProcess.freePort(),
          tmp.resolve("m2").toString());
      assertEquals(1, r.code());
      assertTrue(r.out().contains("is in use by another sharefs process (pid " + node.process().pid() + ")"), r.out());
      assertFalse(NodeProcess.isMounted(tmp.resolve("m2")));
    }
  }
}
