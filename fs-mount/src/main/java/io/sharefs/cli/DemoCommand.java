package io.sharefs.cli;

import io.sharefs.node.FuseMount;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import io.sharefs.node.tls.CertificateAuthority;
import io.sharefs.tls.Role;
import io.sharefs.tls.TlsIdentity;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import sun.misc.Signal;

/** {@code sharefs demo}: N local node processes sharing one tree, mounted under ./sharefs-demo/node-1..N. */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Run a local cluster of N nodes, each mounted under DIR/node-i, until Ctrl-C.")
final class DemoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--nodes", defaultValue = "3", description = "How many nodes (default: ${DEFAULT-VALUE}).")
  int nodes;

  @Option(names = "--dir", defaultValue = "sharefs-demo", paramLabel = "DIR",
      description = "Where mountpoints and data go (default: ./${DEFAULT-VALUE}).")
  Path dir;

  @Option(names = "--base-port", defaultValue = "7100",
      description = "Node i listens on BASE+10*i (Raft), +1 (blocks), +2 (metrics), +3 (admin) (default: ${DEFAULT-VALUE}).")
  int basePort;

  @Option(names = "--write-behind", description = "Mount every node with --write-behind (see `sharefs mount --help`).")
  boolean writeBehind;

  @Option(names = "--open-barrier", paramLabel = "lease|leader|none",
      description = "Mount every node with this --open-barrier (see `sharefs mount --help`; default: lease).")
  String openBarrier;

  @Option(names = "--no-xattrs", description = "Mount every node with --no-xattrs (see `sharefs mount --help`).")
  boolean noXattrs;

  private final List<Process> children = new ArrayList<>();
  private final List<Path> mounts = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    if (nodes < 1 || nodes > 9) {
      throw new ParameterException(spec.commandLine(), "--nodes must be between 1 and 9");
    }
    PrintWriter out = spec.commandLine().getOut();
    Path root = dir.toAbsolutePath().normalize();
    Files.createDirectories(root);
    // The demo is a real cluster: its own CA, a certificate per node and one for the admin CLI.
    Path tls = root.resolve(".tls");
    CertificateAuthority ca = CertificateAuthority.openOrCreate(tls.resolve("ca"), "sharefs-demo",
        Duration.ofDays(3650));
    for (int i = 1; i <= nodes; i++) {
      if (!Files.exists(tls.resolve("node-" + i).resolve(TlsIdentity.CERT))) {
        ca.issue("n" + i, Role.NODE, List.of("127.0.0.1"), Duration.ofDays(825), tls.resolve("node-" + i));
      }
    }
    if (!Files.exists(tls.resolve("admin").resolve(TlsIdentity.CERT))) {
      ca.issue("admin", Role.ADMIN, List.of(), Duration.ofDays(825), tls.resolve("admin"));
    }
    StringJoiner peers = new StringJoiner(",");
    for (int i = 1; i <= nodes; i++) {
      peers.add("n" + i + "=127.0.0.1:" + (basePort + 10 * i));
    }
    CountDownLatch stop = new CountDownLatch(1);
    Signal.handle(new Signal("INT"), s -> stop.countDown());
    Signal.handle(new Signal("TERM"), s -> stop.countDown());
    List<CountDownLatch> mounted = new ArrayList<>();
    try {
      for (int i = 1; i <= nodes; i++) {
        Path mp = root.resolve("node-" + i);
        if (FuseMount.isStale(mp)) {
          FuseMount.unmount(mp);
        }
        Files.createDirectories(mp);
        mounts.add(mp);
        List<String> cmd = new ArrayList<>(selfCommand());
        cmd.addAll(List.of("mount", "--data-dir", root.resolve(".data/node-" + i).toString(), "--node-id", "n" + i,
            "--listen", "127.0.0.1:" + (basePort + 10 * i), "--peers", peers.toString(),
            "--tls-dir", tls.resolve("node-" + i).toString()));
        if (writeBehind) {
          cmd.add("--write-behind");
        }
        if (noXattrs) {
          cmd.add("--no-xattrs");
        }
        if (openBarrier != null) {
          cmd.addAll(List.of("--open-barrier", openBarrier));
        }
        cmd.add(mp.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        children.add(p);
        CountDownLatch up = new CountDownLatch(1);
        mounted.add(up);
        Path log = root.resolve("node-" + i + ".log");
        Thread pump = new Thread(() -> pump(p, log, up), "demo-log-" + i);
        pump.setDaemon(true);
        pump.start();
      }
      for (int i = 0; i < nodes; i++) {
        if (!mounted.get(i).await(90, TimeUnit.SECONDS) || !children.get(i).isAlive()) {
          spec.commandLine().getErr().println("sharefs: node " + (i + 1) + " did not start; its log:\n"
              + Files.readString(root.resolve("node-" + (i + 1) + ".log")));
          return 1;
        }
      }
      out.println("sharefs demo: " + nodes + " nodes, one shared tree:");
      for (int i = 1; i <= nodes; i++) {
        out.printf("  node-%d  %s   (metrics http://127.0.0.1:%d/metrics, log %s)%n", i, root.resolve("node-" + i),
            basePort + 10 * i + 2, root.resolve("node-" + i + ".log"));
      }
      Path rel = Path.of("").toAbsolutePath().relativize(root);
      if (rel.startsWith("..")) {
        rel = root; // outside the working directory: the absolute path reads better than ../../
      }
      out.println();
      out.println("Try:");
      out.printf("  echo hello > %s/node-1/hello.txt && cat %s/node-%d/hello.txt%n", rel, rel, Math.min(2, nodes));
      out.printf("  tar -C %s/node-1 -xf some.tar && ls %s/node-%d%n", rel, rel, nodes);
      out.printf("  bin/sharefs status --tls-dir %s/.tls/admin --node 127.0.0.1:%d%n", rel,
          basePort + 10);
      out.println("Ctrl-C stops every node and unmounts.");
      out.flush();
      while (!stop.await(500, TimeUnit.MILLISECONDS)) {
        if (children.stream().noneMatch(Process::isAlive)) {
          break;
        }
      }
    } finally {
      shutdown(out);
    }
    return 0;
  }

  private static List<String> selfCommand() {
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    String cp = System.getProperty("java.class.path");
    List<String> cmd = new ArrayList<>(List.of(javaBin));
    cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()); // same JVM options
    cmd.addAll(List.of("-cp", cp, SharefsCli.class.getName()));
    return cmd;
  }

  private static void pump(Process p, Path log, CountDownLatch up) {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        var w = Files.newBufferedWriter(log, StandardCharsets.UTF_8)) {
      String line;
      while ((line = r.readLine()) != null) {
        w.write(line);
        w.newLine();
        w.flush();
        if (line.contains(" mounted at ")) {
          up.countDown();
        }
      }
    } catch (IOException e) {
      // process gone
    }
    up.countDown();
  }

  private void shutdown(PrintWriter out) {
    for (Process p : children) {
      p.destroy();
    }
    for (Process p : children) {
      try {
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
      }
    }
    for (Path mp : mounts) {
      if (FuseMount.isMounted(mp)) {
        FuseMount.unmount(mp);
      }
    }
    out.println("sharefs demo: stopped " + children.size() + " nodes, nothing left mounted.");
    out.flush();
  }
}
