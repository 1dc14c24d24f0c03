package io.sharefs.it;

import io.sharefs.node.tls.CertificateAuthority;
import io.sharefs.tls.Role;
import java.nio.file.Files;
import java.time.Duration;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;

/**
 * N sharefs node processes on loopback, each with its own data dir and FUSE mount, in the spirit of
 * Ratis' MiniRaftCluster: start, wait for all mounts, kill -9 / restart / pause a node, and a close
 * that always stops every process and unmounts.
 */
public final class SharefsCluster implements AutoCloseable {
  private final Path root;
  private final List<String> ids = new ArrayList<>();
  private final Map<String, String> addresses = new LinkedHashMap<>();
  private final List<NodeProcess> nodes = new ArrayList<>();
  private final List<String> extraArgs;
  private final CertificateAuthority ca;
  private final Map<String, String> env;

  private SharefsCluster(Path root, int n, List<String> extraArgs, Map<String, String> env) throws Exception {
    this.root = root;
    this.extraArgs = extraArgs;
    this.env = env;
    this.ca = CertificateAuthority.create(root.resolve("tls/ca"), "it-tests", Duration.ofDays(365));
    ca.issue("admin", Role.ADMIN, List.of(), Duration.ofDays(90), adminTlsDir());
    for (int i = 1; i <= n; i++) {
      String id = "n" + i;
      ids.add(id);
      addresses.put(id, "127.0.0.1:" + NodeProcess.freePort());
    }
  }

  /** The cluster's CA (for tests that issue extra certificates). */
  public CertificateAuthority ca() {
    return ca;
  }

  /** The admin client identity admin() uses. */
  public Path adminTlsDir() {
    return root.resolve("tls/admin");
  }

  private Path nodeTlsDir(String id) throws Exception {
    Path dir = root.resolve("tls").resolve(id);
    if (!Files.exists(dir.resolve("tls.crt"))) {
      ca.issue(id, Role.NODE, List.of("127.0.0.1"), Duration.ofDays(90), dir);
    }
    return dir;
  }

  public static SharefsCluster start(Path root, int n, String... extraArgs) throws Exception {
    return start(root, n, Map.of(), extraArgs);
  }

  private static SharefsCluster start(Path root, int n, Map<String, String> env, String... extraArgs)
      throws Exception {
    SharefsCluster c = new SharefsCluster(root, n, List.of(extraArgs), env);
    try {
      for (int i = 0; i < n; i++) {
        c.nodes.add(c.newNode(i));
      }
      for (NodeProcess p : c.nodes) {
        p.launch();
      }
      for (NodeProcess p : c.nodes) {
        p.awaitMounted();
      }
      return c;
    } catch (Exception | Error e) {
      c.close();
      throw e;
    }
  }

  private String peers() {
    StringJoiner j = new StringJoiner(",");
    addresses.forEach((id, a) -> j.add(id + "=" + a));
    return j.toString();
  }

  private NodeProcess newNode(int i) throws Exception {
    String id = ids.get(i);
    Path dir = root.resolve(id);
    Files.createDirectories(dir);
    List<String> args = new ArrayList<>(List.of("--node-id", id, "--peers", peers(),
        "--tls-dir", nodeTlsDir(id).toString()));
    args.addAll(extraArgs);
    NodeProcess p = new NodeProcess(dir.resolve("data"), dir.resolve("mnt"), addresses.get(id), args);
    env.forEach(p::env);
    return p;
  }

  /** Starts a cluster whose nodes run with test fault injection enabled (SHAREFS_TEST_HOOKS=1). */
  public static SharefsCluster startWithTestHooks(Path root, int n, String... extraArgs) throws Exception {
    return start(root, n, Map.of("SHAREFS_TEST_HOOKS", "1"), extraArgs);
  }

  /** Node i's own certificate directory (for tests that talk to the node-to-node port). */
  public Path nodeTls(int i) throws Exception {
    return nodeTlsDir(ids.get(i));
  }

  /** An admin client (with the admin certificate) for node i's admin port. */
  public io.sharefs.node.admin.AdminClient adminClient(int i) throws Exception {
    return new io.sharefs.node.admin.AdminClient(io.sharefs.node.NodeConfig.adminAddress(address(i)),
        io.sharefs.tls.TlsIdentity.load(adminTlsDir()));
  }

  /** Starts one more node that joins through node {@code via}; returns its index. */
  public int join(int via, String... extra) throws Exception {
    int i = nodes.size();
    String id = "n" + (i + 1);
    ids.add(id);
    addresses.put(id, "127.0.0.1:" + NodeProcess.freePort());
    Path dir = root.resolve(id);
    Files.createDirectories(dir);
    List<String> args = new ArrayList<>(List.of("--node-id", id, "--join", addresses.get(ids.get(via)),
        "--tls-dir", nodeTlsDir(id).toString()));
    args.addAll(extraArgs);
    args.addAll(List.of(extra));
    NodeProcess p = new NodeProcess(dir.resolve("data"), dir.resolve("mnt"), addresses.get(id), args);
    nodes.add(p);
    p.start();
    return i;
  }

  /** Raft address of node i. */
  public String address(int i) {
    return addresses.get(ids.get(i));
  }

  /** Runs a sharefs admin command against the cluster (with the admin certificate). */
  public NodeProcess.Result admin(String... args) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(NodeProcess.command(args)).redirectErrorStream(true);
    pb.environment().put("SHAREFS_TLS_DIR", adminTlsDir().toString());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    p.waitFor();
    return new NodeProcess.Result(p.exitValue(), out);
  }

  public int size() {
    return nodes.size();
  }

  public Path mountPoint(int i) {
    return nodes.get(i).mountPoint();
  }

  public NodeProcess node(int i) {
    return nodes.get(i);
  }

  public void kill9(int i) throws Exception {
    nodes.get(i).kill9();
    NodeProcess.forceUnmount(mountPoint(i));
  }

  public void stop(int i) throws Exception {
    nodes.get(i).stop();
  }

  public void restart(int i) throws Exception {
    nodes.get(i).close();
    NodeProcess fresh = newNode(i);
    nodes.set(i, fresh);
    fresh.start();
  }

  public void pause(int i) throws Exception {
    nodes.get(i).pause();
  }

  public void resume(int i) throws Exception {
    nodes.get(i).resume();
  }

  /** The node's /metrics text. */
  public String metrics(int i) throws Exception {
    String a = addresses.get(ids.get(i));
    int port = Integer.parseInt(a.substring(a.lastIndexOf(':') + 1)) + 2;
    var c = (java.net.HttpURLConnection) new java.net.URL("http://127.0.0.1:" + port + "/metrics").openConnection();
    c.setConnectTimeout(2000);
    c.setReadTimeout(5000);
    try (var in = c.getInputStream()) {
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  /** The value of the unlabelled sample {@code name} in a /metrics text; fails the test if it is missing. */
  public static double metric(String metricsText, String name) {
    return metricsText.lines().filter(l -> l.startsWith(name + " ")).findFirst()
        .map(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .orElseThrow(() -> new AssertionError(name + " missing from /metrics:\n" + metricsText));
  }

  /** Index of the current leader according to the nodes' metrics, waiting up to {@code timeoutMs}. */
  public int leader(long timeoutMs, int... skip) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (System.currentTimeMillis() < deadline) {
      for (int i = 0; i < nodes.size(); i++) {
        final int idx = i;
        if (java.util.Arrays.stream(skip).anyMatch(x -> x == idx)) {
          continue;
        }
        try {
          if (metrics(i).contains("sharefs_raft_role{role=\"leader\"} 1")) {
            return i;
          }
        } catch (java.io.IOException e) {
          // node down or starting
        }
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("no leader within " + timeoutMs + " ms\n" + logs());
  }

  public String logs() {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < nodes.size(); i++) {
      b.append("---- ").append(ids.get(i)).append(" ----\n").append(nodes.get(i).logText());
    }
    return b.toString();
  }

  @Override
  public void close() {
    for (NodeProcess p : nodes) {
      try {
        if (p.process() != null && p.process().isAlive()) {
          p.resume();
        }
      } catch (Throwable e) {
        // not paused or already gone
      }
    }
    for (NodeProcess p : nodes) {
      try {
        p.close();
      } catch (Throwable e) {
        NodeProcess.forceUnmount(p.mountPoint());
      }
    }
  }
}
