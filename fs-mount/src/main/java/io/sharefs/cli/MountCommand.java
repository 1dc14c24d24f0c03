package io.sharefs.cli;

import io.sharefs.node.NodeConfig;
import io.sharefs.node.SharefsNode;
import io.sharefs.vfs.VfsConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import sun.misc.Signal;

/** {@code sharefs mount}: runs a node in the foreground with its FUSE mount; SIGINT/SIGTERM unmount and exit 0. */
@Command(name = "mount", mixinStandardHelpOptions = true,
    description = "Mount sharefs at MOUNTPOINT and serve it until interrupted (Ctrl-C or SIGTERM unmounts).")
final class MountCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", arity = "0..1", paramLabel = "MOUNTPOINT",
      description = "Empty directory to mount on (or `mountpoint` in the --config file).")
  Path mountPoint;

  @Option(names = "--config", paramLabel = "FILE",
      description = "A properties file of option values (`data-dir = /var/lib/sharefs`, `peers = …`, "
          + "`mountpoint = …`); flags given on the command line win.")
  Path config;

  /** The config file's values, as defaults for every option not given as a flag. */
  private java.util.Properties configValues = new java.util.Properties();

  /**
   * Finds --config in the raw arguments and installs the file's values as the mount command's
   * defaults. Unknown keys are errors, so a typo cannot silently fall back to a default.
   */
  static void useConfigFile(picocli.CommandLine mount, String[] args) {
    Path file = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--config") && i + 1 < args.length) {
        file = Path.of(args[i + 1]);
      } else if (args[i].startsWith("--config=")) {
        file = Path.of(args[i].substring("--config=".length()));
      }
    }
    if (file == null) {
      return;
    }
    java.util.Properties p = new java.util.Properties();
    try (var in = java.nio.file.Files.newBufferedReader(file)) {
      p.load(in);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read config file " + file + ": " + e.getMessage());
    }
    java.util.Set<String> known = new java.util.HashSet<>(java.util.Set.of("mountpoint"));
    for (var o : mount.getCommandSpec().options()) {
      known.add(o.longestName().replaceFirst("^--", ""));
    }
    known.remove("config");
    for (String k : p.stringPropertyNames()) {
      if (!known.contains(k)) {
        throw new IllegalArgumentException("unknown key '" + k + "' in config file " + file);
      }
    }
    ((MountCommand) mount.getCommand()).configValues = p;
    mount.setDefaultValueProvider(new picocli.CommandLine.PropertiesDefaultProvider(p));
  }

  @Option(names = "--data-dir", defaultValue = "/var/lib/sharefs", paramLabel = "DIR",
      description = "Where this node keeps metadata, log and blocks (default: ${DEFAULT-VALUE}).")
  Path dataDir;

  @Option(names = "--node-id", defaultValue = "n1", description = "This node's id in the cluster (default: ${DEFAULT-VALUE}).")
  String nodeId;

  @Option(names = "--listen", defaultValue = "127.0.0.1:7100", paramLabel = "HOST:PORT",
      description = "Address for node-to-node traffic (default: ${DEFAULT-VALUE}).")
  String listen;

  @Option(names = "--peers", paramLabel = "ID=HOST:PORT,...",
      description = "The initial voters, this node included (default: this node alone).")
  String peers;

  @Option(names = "--attr-timeout", paramLabel = "SECONDS",
      description = "How long the kernel caches attributes (default: 1.0 alone, 10 in a cluster; other nodes' "
          + "changes invalidate them at once).")
  Double attrTimeout;

  @Option(names = "--entry-timeout", paramLabel = "SECONDS",
      description = "How long the kernel caches name lookups (default: 1.0 alone, 30 in a cluster).")
  Double entryTimeout;

  @Option(names = "--tls-dir", paramLabel = "DIR",
      description = "This node's certificate from the cluster CA (ca.crt, tls.crt, tls.key; see `sharefs ca`). "
          + "Required in a cluster; a lone node makes its own in DATA_DIR/tls.")
  Path tlsDir;

  @Option(names = "--admin-listen", paramLabel = "HOST:PORT",
      description = "Where the admin service listens (default: 127.0.0.1, the --listen port + 3).")
  String adminListen;

  @Option(names = "--kernel-cache", defaultValue = "auto", paramLabel = "auto|keep|off",
      description = "Page cache: auto (drop on open if changed), keep, off (direct I/O) (default: ${DEFAULT-VALUE}).")
  String kernelCache;

  @Option(names = "--inline-threshold", defaultValue = "16384", paramLabel = "BYTES",
      description = "Files up to this size live in the metadata record (default: ${DEFAULT-VALUE}).")
  int inlineThreshold;

  @Option(names = "--snapshot-every", defaultValue = "20000", paramLabel = "ENTRIES",
      description = "Log entries between metadata snapshots; the log is purged up to each (default: ${DEFAULT-VALUE}).")
  long snapshotEvery;

  @Option(names = "--write-timeout", defaultValue = "15", paramLabel = "SECONDS",
      description = "How long a change waits for a quorum before it fails with EIO (default: ${DEFAULT-VALUE}).")
  double writeTimeout;

  @Option(names = "--gc-interval", defaultValue = "0", paramLabel = "SECONDS",
      description = "Drop this node's copies of blocks no file references any more (removed, truncated or overwritten "
          + "files) every SECONDS, and every 10 s while its disk runs low; 0: never by itself, only through "
          + "`sharefs fsck --repair` (default: ${DEFAULT-VALUE}). See the README's known limits before enabling it.")
  long gcIntervalSeconds;

  @Option(names = "--gc-grace", defaultValue = "3600", paramLabel = "SECONDS",
      description = "Unreferenced blocks stored or reused more recently than this are kept: a write in flight may still "
          + "commit them. At least twice --write-timeout; keep it above the longest a file stays open for writing "
          + "without close() or fsync() (default: ${DEFAULT-VALUE}).")
  long gcGraceSeconds;

  @Option(names = "--election-timeout", defaultValue = "400", paramLabel = "MS",
      description = "Shortest Raft election timeout; heartbeats go every half of it, and the leader's lease for "
          + "close-to-open barriers is three quarters of it. Raise it (the same on every node) when nodes are "
          + "more than a few ms apart (default: ${DEFAULT-VALUE}).")
  long electionTimeoutMs;

  @Option(names = "--metrics", paramLabel = "HOST:PORT",
      description = "Where to serve /metrics, /healthz and /readyz (default: the --listen host, port + 2; 'off' disables).")
  String metricsAddress;

  @Option(names = "--log-segment-bytes", defaultValue = "8388608", paramLabel = "BYTES",
      description = "Raft log segment size; closed segments are purged after each snapshot (default: ${DEFAULT-VALUE}).")
  long segmentBytes;

  @Option(names = "--join", paramLabel = "HOST:PORT",
      description = "Join the running cluster that has a member at this --listen address (first start only).")
  String join;

  @Option(names = "--max-voters", defaultValue = "3", paramLabel = "N",
      description = "Members beyond this many join as non-voting listeners (default: ${DEFAULT-VALUE}).")
  int maxVoters;

  @Option(names = "--open-barrier", defaultValue = "lease", paramLabel = "lease|leader|none",
      description = "lease: open() sees everything closed anywhere before it (strict close-to-open) without a round "
          + "trip while this node holds a lease from the leader, and every commit anywhere waits for this node to "
          + "apply it; leader: the same guarantee through a round trip to the leader at each open() on a follower; "
          + "none: serve the local replica, which trails by the replication delay (default: ${DEFAULT-VALUE}).")
  String openBarrier;

  @Option(names = "--no-xattrs",
      description = "Do not serve extended attributes: getfattr/setfattr fail with EOPNOTSUPP, and the kernel stops "
          + "asking for security.capability before every write() (one FUSE round trip each).")
  boolean noXattrs;

  @Option(names = "--write-behind",
      description = "create, mkdir, unlink, close, chmod/chown/utime return before their metadata commits; commits go out in order, "
          + "grouped; fsync waits for everything before it and reports a failed commit. Other nodes see a closed "
          + "file once its commit lands (ms), not when close returns. Default: off (each waits for its commit).")
  boolean writeBehind;

  @Option(names = "--nonempty", description = "Mount even if MOUNTPOINT has entries (they are hidden while mounted).")
  boolean nonEmpty;

  @Override
  public Integer call() {
    if (mountPoint == null) {
      String fromConfig = configValues.getProperty("mountpoint");
      if (fromConfig == null) {
        throw new ParameterException(spec.commandLine(), "Missing required parameter: 'MOUNTPOINT'");
      }
      mountPoint = Path.of(fromConfig.trim());
    }
    validate();
    Map<String, String> peerMap = parsePeers();
    boolean cluster = peerMap.size() > 1 || join != null;
    if (cluster && tlsDir == null) {
      spec.commandLine().getErr().println("sharefs: a cluster node needs --tls-dir DIR with its certificate from the"
          + " cluster CA: `sharefs ca init --dir CA_DIR` once, then `sharefs ca issue --ca CA_DIR --name " + nodeId
          + " --host HOST --out DIR` for each node (see the README)");
      return 1;
    }
    // The kernel may cache names and attributes for long: other nodes' changes invalidate what it
    // cached (KernelCache). Should that be unavailable (a libfuse whose channel sharefs does not know),
    // libfuse's path-based API still re-resolves a cached name on every getattr/open, and a file changed
    // within the attribute timeout (+1 s) is opened for direct I/O, so a stale size cannot cut reads short.
    double defaultAttr = cluster ? 10.0 : 1.0;
    double defaultEntry = cluster ? 30.0 : 1.0;
    NodeConfig cfg = new NodeConfig(dataDir.toAbsolutePath(), mountPoint.toAbsolutePath(), nodeId, listen,
        peerMap, attrTimeout != null ? attrTimeout : defaultAttr,
        entryTimeout != null ? entryTimeout : defaultEntry, kernelCache, nonEmpty,
        new VfsConfig(inlineThreshold, 16, !"none".equals(openBarrier),
            cluster ? (long) (((attrTimeout != null ? attrTimeout : defaultAttr) + 1.0) * 1e9) : 0, writeBehind,
            !noXattrs),
        snapshotEvery, (long) (writeTimeout * 1000),
        "off".equals(metricsAddress) ? null
            : metricsAddress != null ? metricsAddress : NodeConfig.defaultMetricsAddress(listen),
        tlsDir == null ? null : tlsDir.toAbsolutePath(), segmentBytes, join, maxVoters,
        adminListen != null ? adminListen : NodeConfig.defaultAdminAddress(listen), electionTimeoutMs,
        "lease".equals(openBarrier), gcIntervalSeconds * 1000, gcGraceSeconds * 1000);
    CountDownLatch stop = new CountDownLatch(1);
    Signal.handle(new Signal("INT"), s -> stop.countDown());
    Signal.handle(new Signal("TERM"), s -> stop.countDown());
    SharefsNode node;
    try {
      node = SharefsNode.start(cfg);
    } catch (IOException e) {
      spec.commandLine().getErr().println("sharefs: " + e.getMessage());
      return 1;
    }
    System.out.println("sharefs: node " + nodeId + " mounted at " + cfg.mountPoint() + " (data in " + cfg.dataDir()
        + "); Ctrl-C to unmount");
    System.out.flush();
    node.mount().loop().whenComplete((r, e) -> stop.countDown());
    try {
      stop.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    node.close();
    System.out.println("sharefs: unmounted " + cfg.mountPoint());
    return 0;
  }

  private void validate() {
    if (!listen.matches("[^:]+:\\d{1,5}")) {
      throw new ParameterException(spec.commandLine(), "--listen must be HOST:PORT, got '" + listen + "'");
    }
    if (!kernelCache.matches("auto|keep|off")) {
      throw new ParameterException(spec.commandLine(), "--kernel-cache must be auto, keep or off, got '" + kernelCache + "'");
    }
    if ((attrTimeout != null && attrTimeout < 0) || (entryTimeout != null && entryTimeout < 0)) {
      throw new ParameterException(spec.commandLine(), "timeouts cannot be negative");
    }
    if (metricsAddress != null && !metricsAddress.equals("off") && !metricsAddress.matches("[^:]+:\\d{1,5}")) {
      throw new ParameterException(spec.commandLine(), "--metrics must be HOST:PORT or off, got '" + metricsAddress + "'");
    }
    if (adminListen != null && !adminListen.matches("[^:]+:\\d{1,5}")) {
      throw new ParameterException(spec.commandLine(), "--admin-listen must be HOST:PORT, got '" + adminListen + "'");
    }
    if (join != null && !join.matches("[^:]+:\\d{1,5}")) {
      throw new ParameterException(spec.commandLine(), "--join must be HOST:PORT, got '" + join + "'");
    }
    if (join != null && peers != null) {
      throw new ParameterException(spec.commandLine(), "--join and --peers exclude each other");
    }
    if (maxVoters < 1) {
      throw new ParameterException(spec.commandLine(), "--max-voters must be at least 1");
    }
    if (!openBarrier.matches("leader|lease|none")) {
      throw new ParameterException(spec.commandLine(), "--open-barrier must be leader, lease or none, got '" + openBarrier + "'");
    }
    if (segmentBytes < 64 * 1024) {
      throw new ParameterException(spec.commandLine(), "--log-segment-bytes must be at least 65536");
    }
    if (electionTimeoutMs < 50 || electionTimeoutMs > 60_000) {
      throw new ParameterException(spec.commandLine(), "--election-timeout must be between 50 and 60000 ms");
    }
    if (writeTimeout <= 0) {
      throw new ParameterException(spec.commandLine(), "--write-timeout must be positive");
    }
    if (gcIntervalSeconds < 0) {
      throw new ParameterException(spec.commandLine(), "--gc-interval must be 0 or more seconds");
    }
    if (gcGraceSeconds < 2 * writeTimeout) {
      throw new ParameterException(spec.commandLine(), "--gc-grace must be at least twice --write-timeout ("
          + (long) Math.ceil(2 * writeTimeout) + " s), got " + gcGraceSeconds);
    }
    if (inlineThreshold < 0 || inlineThreshold > 1 << 20) {
      throw new ParameterException(spec.commandLine(), "--inline-threshold must be between 0 and 1048576");
    }
  }

  private Map<String, String> parsePeers() {
    Map<String, String> m = new LinkedHashMap<>();
    if (peers == null || peers.isBlank()) {
      m.put(nodeId, listen);
      return m;
    }
    for (String p : peers.split(",")) {
      String[] kv = p.trim().split("=", 2);
      if (kv.length != 2 || !kv[1].matches("[^:]+:\\d{1,5}")) {
        throw new ParameterException(spec.commandLine(), "--peers entries must be ID=HOST:PORT, got '" + p + "'");
      }
      m.put(kv[0], kv[1]);
    }
    if (!m.containsKey(nodeId)) {
      throw new ParameterException(spec.commandLine(), "--peers must include this node (" + nodeId + ")");
    }
    return m;
  }

}
