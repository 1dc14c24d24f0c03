package io.sharefs.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * One {@code sharefs mount} process, as a user starts it: the built jar, its own data dir and
 * mountpoint. {@link #close} stops it and makes sure nothing stays mounted, whatever happened.
 */
public final class NodeProcess implements AutoCloseable {
  private static final List<NodeProcess> LIVE = new CopyOnWriteArrayList<>();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(NodeProcess::kill)));
  }

  private final Path dataDir;
  private final Path mountPoint;
  private final List<String> extraArgs;
  private final Path log;
  private final String listen;
  private Process process;
  private final java.util.Map<String, String> env = new java.util.HashMap<>();

  private String maxHeap = "256m";

  /** Runs the node with this -Xmx instead of bin/sharefs' 256m. */
  public NodeProcess maxHeap(String size) {
    this.maxHeap = size;
    return this;
  }

  /** Adds an environment variable for the node process. */
  public NodeProcess env(String key, String value) {
    env.put(key, value);
    return this;
  }

  /** SIGSTOP: the node freezes as if cut off, its sockets stay open. */
  public void pause() throws Exception {
    run(Path.of("/"), List.of("kill", "-STOP", Long.toString(process.pid()))).ok();
  }

  /** SIGCONT after {@link #pause}. */
  public void resume() throws Exception {
    run(Path.of("/"), List.of("kill", "-CONT", Long.toString(process.pid()))).ok();
  }

  public NodeProcess(Path dataDir, Path mountPoint, String listen, List<String> extraArgs) {
    this.dataDir = dataDir;
    this.mountPoint = mountPoint;
    this.listen = listen;
    this.extraArgs = extraArgs;
    this.log = dataDir.resolveSibling(dataDir.getFileName() + ".log");
  }

  /** Every port handed out in this JVM: never handed out again. */
  private static final java.util.Set<Integer> HANDED_OUT = new java.util.HashSet<>();

  /**
   * A port p with p+1..p+3 free too (a node's Raft, block, metrics and admin ports), below the
   * kernel's ephemeral range (32768 and up): a port from that range can be taken by any outgoing
   * connection between this check and the node's bind, which once failed a CI run with "Address
   * already in use".
   */
  public static int freePort() throws IOException {
    return reserve(3_000, 4, List.of(0, 1, 2, 3)); // 20000..31996, p+3 below 32768
  }

  /**
   * A base port B for {@code sharefs demo --base-port B --nodes n}: node i uses B+10i .. B+10i+3,
   * all free and below the ephemeral range.
   */
  public static int freeDemoBase(int nodes) throws IOException {
    List<Integer> offsets = new ArrayList<>();
    for (int i = 1; i <= nodes; i++) {
      for (int k = 0; k < 4; k++) {
        offsets.add(10 * i + k);
      }
    }
    return reserve(120, 100, offsets); // 20000..31900, B+10n+3 below 32768 for n <= 9
  }

  /**
   * Picks a base 20000 + step * k (k below {@code choices}) whose ports base + each offset are all
   * free now and were not handed out before, and hands them out.
   */
  private static synchronized int reserve(int choices, int step, List<Integer> offsets) throws IOException {
    java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
    java.net.InetAddress lo = java.net.InetAddress.getLoopbackAddress();
    for (int attempt = 0; attempt < 500; attempt++) {
      int base = 20_000 + step * random.nextInt(choices);
      List<Integer> ports = offsets.stream().map(o -> base + o).toList();
      if (ports.stream().anyMatch(HANDED_OUT::contains)) {
        continue;
      }
      List<ServerSocket> held = new ArrayList<>();
      try {
        for (int port : ports) {
          held.add(new ServerSocket(port, 1, lo));
        }
        HANDED_OUT.addAll(ports);
        return base;
      } catch (IOException e) {
        // in use: try another
      } finally {
        for (ServerSocket s : held) {
          s.close();
        }
      }
    }
    throw new IOException("no free ports between 20000 and 32767");
  }

  public static Path jar() {
    Path jar = Path.of(System.getProperty("sharefs.launcher", "../fs-mount/target/sharefs.jar"));
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("build fs-mount first: " + jar + " is missing");
    }
    return jar;
  }

  /** The command line for a sharefs subcommand. */
  public static List<String> command(String... args) {
    return commandWithHeap("256m", args);
  }

  /** System property: {@code c2} starts nodes with the JVM's full JIT instead of bin/sharefs' C1 only. */
  public static final String JIT_PROPERTY = "sharefs.node.jit";

  private static List<String> commandWithHeap(String maxHeap, String... args) {
    List<String> cmd = new ArrayList<>(List.of(javaBin(), "-Xms32m", "-Xmx" + maxHeap, "-XX:+UseSerialGC",
        "-XX:+ExitOnOutOfMemoryError", "-Dfile.encoding=UTF-8"));
    if (!"c2".equals(System.getProperty(JIT_PROPERTY))) {
      cmd.addAll(List.of("-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1"));
    }
    cmd.addAll(List.of("-XX:ReservedCodeCacheSize=64m", "-jar", jar().toString()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** Starts the node and waits until the mount answers. */
  public NodeProcess start() throws Exception {
    launch();
    return awaitMounted();
  }

  private int logStart;

  /** Starts the process without waiting (cluster members must start together to elect a leader). */
  public void launch() throws Exception {
    if (!isMounted(mountPoint)) {
      Files.createDirectories(mountPoint); // a dead mount left by kill -9 stays for sharefs to clear
    }
    logStart = logText().length();
    List<String> cmd = commandWithHeap(maxHeap, "mount", "--data-dir", dataDir.toString(), "--listen", listen);
    cmd.addAll(extraArgs);
    cmd.add(mountPoint.toString());
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().putAll(env);
    process = pb.start();
    LIVE.add(this);
  }

  /** Waits until this node's mount answers. */
  public NodeProcess awaitMounted() throws Exception {
    long deadline = System.currentTimeMillis() + 60_000;
    while (System.currentTimeMillis() < deadline) {
      if (process == null || !process.isAlive()) {
        throw new IllegalStateException("sharefs exited with " + process.exitValue() + ":\n" + logText());
      }
      if (logText().indexOf("mounted at " + mountPoint, logStart) >= 0) {
        return this;
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("sharefs did not mount within 60 s:\n" + logText());
  }

  public String logText() {
    try {
      return Files.exists(log) ? Files.readString(log) : "";
    } catch (IOException e) {
      return e.toString();
    }
  }

  public Path mountPoint() {
    return mountPoint;
  }

  public Path dataDir() {
    return dataDir;
  }

  public Process process() {
    return process;
  }

  /** SIGTERM and wait: the clean stop a user gets from Ctrl-C. Returns the exit code. */
  public int stop() throws Exception {
    if (process == null) {
      return -1;
    }
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      kill();
      throw new IllegalStateException("sharefs did not stop within 30 s on SIGTERM:\n" + logText());
    }
    LIVE.remove(this);
    return process.exitValue();
  }

  /** kill -9, leaving a dead FUSE mount behind as a crash would. */
  public void kill9() throws Exception {
    if (process != null && process.isAlive()) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
    LIVE.remove(this);
  }

  private void kill() {
    if (process != null && process.isAlive()) {
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    forceUnmount(mountPoint);
  }

  static void forceUnmount(Path mp) {
    for (List<String> cmd : List.of(List.of("fusermount", "-u", "-z", mp.toString()), List.of("umount", "-l", mp.toString()))) {
      try {
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
            .waitFor(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        // best effort
      }
      if (!isMounted(mp)) {
        return;
      }
    }
  }

  static boolean isMounted(Path mp) {
    try {
      String target = " " + mp.toAbsolutePath().normalize() + " ";
      return Files.readString(Path.of("/proc/self/mountinfo")).contains(target);
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public void close() {
    try {
      if (process != null && process.isAlive()) {
        stop();
      }
    } catch (Exception e) {
      kill();
    } finally {
      LIVE.remove(this);
      if (isMounted(mountPoint)) {
        forceUnmount(mountPoint);
      }
    }
  }

  /** Runs a shell command, returns its exit code and output. */
  public static Result sh(Path cwd, String script) throws Exception {
    return run(cwd, List.of("bash", "-c", script));
  }

  /** Runs a shell command as an unprivileged user (uid:gid), as the web server would. */
  public static Result shAs(int uid, int gid, Path cwd, String script) throws Exception {
    return run(cwd, List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "bash", "-c", script));
  }

  static Result run(Path cwd, List<String> cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
    StringBuilder out = new StringBuilder();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        out.append(line).append('\n');
      }
    }
    if (!p.waitFor(300, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("command timed out: " + cmd);
    }
    return new Result(p.exitValue(), out.toString());
  }

  /** Exit code and combined output of a command. */
  public record Result(int code, String out) {
    public Result ok() {
      if (code != 0) {
        throw new AssertionError("command failed with " + code + ":\n" + out);
      }
      return this;
    }
  }
}
