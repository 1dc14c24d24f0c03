package io.sharefs.bench;

import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * The sharefs benchmark: the same workload against a local directory (the limit), lsyncd + rsync with
 * delay 0 and 1 (what sites run today) and a 3-node sharefs cluster, in one run. Writer on node 1 (or
 * A), reader on node 2 (or B). Prints one table with ratios and writes JSON and Markdown.
 *
 * <p>Run through {@code bench/run}, which installs lsyncd/rsync, fetches the WordPress tree and builds.
 */
public final class Bench {
  private final Path work;
  private final Path wpTar;
  private final int reps;
  private final int rssFiles;
  private final Path floorBinary;
  private final Map<String, Map<String, List<Double>>> results = new LinkedHashMap<>();
  private final Map<String, String> notes = new LinkedHashMap<>();
  private Manifest wp;

  private Bench(Path work, Path wpTar, int reps, int rssFiles) {
    this.work = work;
    this.floorBinary = work.resolve("fuse-floor");
    this.wpTar = wpTar;
    this.reps = reps;
    this.rssFiles = rssFiles;
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new TreeMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    Path work = Path.of(a.getOrDefault("work", "bench/work")).toAbsolutePath();
    Path out = Path.of(a.getOrDefault("out", "bench/results")).toAbsolutePath();
    Bench b = new Bench(work, Path.of(a.getOrDefault("wp-tar", work.resolve("wordpress.tar").toString())),
        Integer.parseInt(a.getOrDefault("reps", "3")), Integer.parseInt(a.getOrDefault("rss-files", "100000")));
    List<String> only = List.of(a.getOrDefault("targets", "local,lsyncd0,lsyncd1,fuse-floor,sharefs,sharefs-leader,sharefs-relaxed,sharefs-async").split(","));
    b.run(only, out);
  }

  private void run(List<String> only, Path out) throws Exception {
    Files.createDirectories(work);
    wp = Manifest.of(extractReference());
    log("WordPress tree: %d files, %d dirs, %.1f MB", wp.files.size(), wp.dirs.size(), wp.bytes / 1e6);
    for (String t : only) {
      Path root = work.resolve("t-" + t);
      deleteTree(root);
      Files.createDirectories(root);
      try (Target target = switch (t) {
        case "local" -> new LocalTarget(root.resolve("dir"));
        case "lsyncd0" -> new LsyncdTarget(root, 0);
        case "lsyncd1" -> new LsyncdTarget(root, 1);
        case "fuse-floor" -> new FuseFloorTarget(root, floorBinary);
        case "sharefs" -> new SharefsTarget(root, "sharefs");
        case "sharefs-leader" -> new SharefsTarget(root, "sharefs-leader", "--open-barrier", "leader");
        case "sharefs-relaxed" -> new SharefsTarget(root, "sharefs-relaxed", "--open-barrier", "none");
        case "sharefs-async" -> new SharefsTarget(root, "sharefs-async", "--open-barrier", "none", "--write-behind",
            "--no-xattrs");
        case "sharefs-c2" -> withC2Nodes(() -> new SharefsTarget(root, "sharefs-c2"));
        default -> throw new IllegalArgumentException("unknown target " + t);
      }) {
        log("== %s", target.name());
        measure(target);
      }
      deleteTree(root);
    }
    report(out);
  }

  /** The default options on nodes that run the JVM's full JIT (C1 then C2) rather than C1 only. */
  private static SharefsTarget withC2Nodes(java.util.concurrent.Callable<SharefsTarget> start) throws Exception {
    System.setProperty(io.sharefs.it.NodeProcess.JIT_PROPERTY, "c2");
    try {
      return start.call();
    } finally {
      System.clearProperty(io.sharefs.it.NodeProcess.JIT_PROPERTY);
    }
  }

  // ------------------------------------------------------------------ workloads

  private void measure(Target t) throws Exception {
    warmUp(t);
    if (t instanceof SharefsTarget s) {
      // Figures depend on where the leader is: a follower learns of a commit with the leader's next message.
      record(t, "writer node leads (1) or follows (0)", isLeader(s.cluster().metrics(s.writerIndex())) ? 1 : 0);
      record(t, "reader node leads (1) or follows (0)", isLeader(s.cluster().metrics(s.readerIndex())) ? 1 : 0);
    }
    for (int r = 0; r < reps; r++) {
      install(t, r);
      uploads(t, r);
      lag(t, r);
      serve(t, r);
      statStorm(t, r);
      renameAndRemove(t, r);
    }
    memory(t);
  }

  /**
   * Untimed: extracts the tree once and removes it again, so every target is measured warm, as a
   * long-running server is (sharefs nodes are JVMs: their first minute is JIT compilation).
   */
  private void warmUp(Target t) throws Exception {
    Path d = Files.createDirectories(t.writer().resolve("warmup"));
    for (int i = 0; i < 200; i++) {
      Files.write(d.resolve("w" + i), new byte[1000]);
    }
    waitFor(() -> count(t.reader().resolve("warmup")) == 200, 120_000);
    sh(d, "tar -xf " + wpTar);
    Path seen = t.reader().resolve("warmup");
    waitFor(() -> wp.matches(seen), 600_000);
    sh(t.writer(), "rm -rf warmup");
  }

  private void install(Target t, int rep) throws Exception {
    Path dest = Files.createDirectories(t.writer().resolve("install-" + rep));
    long t0 = System.nanoTime();
    sh(dest, "tar -xf " + wpTar);
    long t1 = System.nanoTime();
    record(t, "install files/s", wp.files.size() / secs(t1 - t0));
    Path seen = t.reader().resolve("install-" + rep);
    converged(t, "install", t1, () -> wp.sizesMatch(seen), () -> wp.matches(seen));
  }

  /**
   * Records two figures for a tree written on the writer: when the reader's view first matched, and
   * when the bench had read every byte back. The first polls every 5 ms with one lstat per file (a
   * file is renamed into place by rsync and committed with its size by sharefs, so a matching size
   * means its final bytes), then confirms with a full comparison; if that fails, it falls back to the
   * time the full comparison first passed. The second includes reading the tree through the reader,
   * which on a FUSE mount costs more than replication itself.
   */
  private void converged(Target t, String what, long closedNs, Check sizes, Check bytes) throws Exception {
    waitFor(sizes, 600_000);
    long sized = System.nanoTime();
    boolean same = bytes.ok();
    if (!same) {
      waitFor(bytes, 600_000);
    }
    long read = System.nanoTime();
    record(t, what + " identical on reader s", secs((same ? sized : read) - closedNs));
    record(t, what + " read back on reader s", secs(read - closedNs));
  }

  private void uploads(Target t, int rep) throws Exception {
    Random rnd = new Random(rep);
    List<byte[]> files = new ArrayList<>();
    long total = 0;
    for (int i = 0; i < 200; i++) {
      byte[] b = new byte[50 * 1024 + rnd.nextInt(2 * 1024 * 1024 - 50 * 1024)];
      rnd.nextBytes(b);
      files.add(b);
      total += b.length;
    }
    Path dir = Files.createDirectories(t.writer().resolve("uploads-" + rep));
    long t0 = System.nanoTime();
    for (int i = 0; i < files.size(); i++) {
      Files.write(dir.resolve("img-" + i + ".jpg"), files.get(i));
    }
    long t1 = System.nanoTime();
    record(t, "uploads MB/s", total / 1e6 / secs(t1 - t0));
    Path seen = t.reader().resolve("uploads-" + rep);
    converged(t, "uploads", t1, () -> {
      for (int i = 0; i < files.size(); i++) {
        if (size(seen.resolve("img-" + i + ".jpg")) != files.get(i).length) {
          return false;
        }
      }
      return true;
    }, () -> {
      for (int i = 0; i < files.size(); i++) {
        if (!sameContent(seen.resolve("img-" + i + ".jpg"), files.get(i))) {
          return false;
        }
      }
      return true;
    });
  }

  private void lag(Target t, int rep) throws Exception {
    Path dir = Files.createDirectories(t.writer().resolve("lag-" + rep));
    Path seen = t.reader().resolve("lag-" + rep);
    List<Double> one = new ArrayList<>();
    for (int k = 0; k < 100; k++) {
      byte[] v = content(16384, rep * 1000 + k);
      Path f = dir.resolve("one-" + k);
      Files.write(f, v);
      long closed = System.nanoTime();
      Path g = seen.resolve("one-" + k);
      waitFor(() -> sameContent(g, v), 60_000);
      one.add((System.nanoTime() - closed) / 1e6);
    }
    Collections.sort(one);
    record(t, "lag one-at-a-time p50 ms", pct(one, 50));
    record(t, "lag one-at-a-time p99 ms", pct(one, 99));
    record(t, "lag one-at-a-time max ms", one.get(one.size() - 1));
    // The reader polls while the writer writes: each file's lag runs from its own close.
    java.util.concurrent.atomic.AtomicLongArray closedAt = new java.util.concurrent.atomic.AtomicLongArray(100);
    byte[][] vs = new byte[100][];
    for (int k = 0; k < 100; k++) {
      vs[k] = content(16384, rep * 1000 + 500 + k);
    }
    double[] lags = new double[100];
    var reader = java.util.concurrent.Executors.newSingleThreadExecutor();
    var polled = reader.submit(() -> {
      boolean[] done = new boolean[100];
      int left = 100;
      long deadline = System.currentTimeMillis() + 120_000;
      while (left > 0 && System.currentTimeMillis() < deadline) {
        for (int k = 0; k < 100; k++) {
          if (!done[k] && closedAt.get(k) != 0 && sameContent(seen.resolve("burst-" + k), vs[k])) {
            done[k] = true;
            lags[k] = (System.nanoTime() - closedAt.get(k)) / 1e6;
            left--;
          }
        }
        Thread.sleep(5);
      }
      return left;
    });
    for (int k = 0; k < 100; k++) {
      Files.write(dir.resolve("burst-" + k), vs[k]);
      closedAt.set(k, System.nanoTime());
    }
    int missing = polled.get();
    reader.shutdown();
    if (missing > 0) {
      throw new IllegalStateException(missing + " burst files never reached the reader");
    }
    List<Double> burst = new ArrayList<>();
    for (double l : lags) {
      burst.add(l);
    }
    Collections.sort(burst);
    record(t, "lag burst of 100 p50 ms", pct(burst, 50));
    record(t, "lag burst of 100 p99 ms", pct(burst, 99));
  }

  private void serve(Target t, int rep) throws Exception {
    Path root = t.reader().resolve("install-" + rep);
    sh(work, "sync; echo 3 > /proc/sys/vm/drop_caches || true");
    double[] cold = readAll(root);
    record(t, "serve cold files/s", cold[0]);
    List<Double> warm = new ArrayList<>();
    List<Double> warmMb = new ArrayList<>();
    for (int pass = 0; pass < 3; pass++) {
      double[] w = readAll(root);
      warm.add(w[0]);
      warmMb.add(w[1]);
    }
    record(t, "serve warm files/s", median(warm));
    record(t, "serve warm MB/s", median(warmMb));
  }

  /** stat + open + read of every file; returns {files/s, MB/s}. */
  private double[] readAll(Path root) throws IOException {
    byte[] buf = new byte[1 << 16];
    long bytes = 0;
    long t0 = System.nanoTime();
    for (String rel : wp.files.keySet()) {
      Path p = root.resolve(rel);
      Files.readAttributes(p, BasicFileAttributes.class);
      try (var in = Files.newInputStream(p)) {
        int n;
        while ((n = in.read(buf)) > 0) {
          bytes += n;
        }
      }
    }
    double s = secs(System.nanoTime() - t0);
    return new double[] {wp.files.size() / s, bytes / 1e6 / s};
  }

  private void statStorm(Target t, int rep) throws Exception {
    Path root = t.reader().resolve("install-" + rep);
    List<Path> paths = new ArrayList<>();
    wp.files.keySet().forEach(f -> paths.add(root.resolve(f)));
    wp.dirs.forEach(d -> paths.add(root.resolve(d)));
    List<Double> rates = new ArrayList<>();
    for (int pass = 0; pass < 5; pass++) {
      long t0 = System.nanoTime();
      for (Path p : paths) {
        Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      }
      rates.add(paths.size() / secs(System.nanoTime() - t0));
    }
    record(t, "stat storm ops/s", median(rates));
  }

  private void renameAndRemove(Target t, int rep) throws Exception {
    Path dir = Files.createDirectories(t.writer().resolve("ren-" + rep + "/a"));
    for (int i = 0; i < 200; i++) {
      Files.write(dir.resolve("f" + i), new byte[100]);
    }
    Path seenA = t.reader().resolve("ren-" + rep + "/a");
    waitFor(() -> count(seenA) == 200, 120_000);
    long t0 = System.nanoTime();
    Files.move(dir, t.writer().resolve("ren-" + rep + "/b"));
    long t1 = System.nanoTime();
    Path seenB = t.reader().resolve("ren-" + rep + "/b");
    if (t.readerSeesChangesToNamesItCached()) {
      waitFor(() -> !Files.exists(seenA) && count(seenB) == 200, 120_000);
      record(t, "rename dir of 200 visible on reader ms", (System.nanoTime() - t1) / 1e6);
    }
    record(t, "rename dir ms", (t1 - t0) / 1e6);
    Path tree = t.writer().resolve("install-" + rep);
    int entries = wp.files.size() + wp.dirs.size();
    long r0 = System.nanoTime();
    sh(t.writer(), "rm -rf " + tree);
    long r1 = System.nanoTime();
    record(t, "rm -rf entries/s", entries / secs(r1 - r0));
    if (!t.readerSeesChangesToNamesItCached()) {
      return;
    }
    Path seen = t.reader().resolve("install-" + rep);
    waitFor(() -> !Files.exists(seen), 300_000);
    record(t, "rm -rf gone on reader s", secs(System.nanoTime() - r1));
  }

  /**
   * Peak RSS over the workload, then RSS after many small files written on the writer and read back
   * on the reader. Their sizes are those of the WordPress files up to 16 KiB (a site's thumbnails and
   * PHP files; sharefs keeps such content in the inode record, so it passes through every node's
   * metadata path), cycled, each with its own first bytes.
   */
  private void memory(Target t) throws Exception {
    if (t.processes().isEmpty()) {
      return;
    }
    record(t, "peak RSS per node MiB", maxRss(t, "VmHWM"));
    int[] sizes = wp.files.values().stream().mapToInt(b -> b.length).filter(n -> n >= 4 && n <= 16384).toArray();
    byte[] base = content(16384, 42);
    int per = rssFiles / 16;
    long t0 = System.nanoTime();
    inParallel(16, w -> {
      Path sub = Files.createDirectories(t.writer().resolve("many").resolve("d" + w));
      for (int i = 0; i < per; i++) {
        int k = w * per + i;
        byte[] b = Arrays.copyOf(base, sizes[k % sizes.length]);
        java.nio.ByteBuffer.wrap(b).putInt(k);
        Files.write(sub.resolve("f" + i), b);
      }
    });
    record(t, "create files/s with 16 writers", per * 16 / secs(System.nanoTime() - t0));
    long r0 = System.nanoTime();
    inParallel(16, w -> {
      Path sub = t.reader().resolve("many").resolve("d" + w);
      for (int i = 0; i < per; i++) {
        int k = w * per + i;
        Path f = sub.resolve("f" + i);
        int n = sizes[k % sizes.length];
        waitFor(() -> size(f) == n, 60_000);
        byte[] b = Files.readAllBytes(f);
        if (b.length != n || java.nio.ByteBuffer.wrap(b).getInt() != k) {
          throw new IllegalStateException("small file " + f + " is not what was written");
        }
      }
    });
    record(t, "read back small files/s on reader, 16 readers", per * 16 / secs(System.nanoTime() - r0));
    record(t, "RSS per node after " + (per * 16) + " small files MiB", maxRss(t, "VmRSS"));
  }

  /** Runs {@code body(0..n-1)} on n threads and waits; the first failure is thrown. */
  private static void inParallel(int n, IndexedTask body) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<?>> fs = new ArrayList<>();
      for (int w = 0; w < n; w++) {
        final int wi = w;
        fs.add(pool.submit(() -> {
          body.run(wi);
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @FunctionalInterface
  private interface IndexedTask {
    void run(int index) throws Exception;
  }

  private static double maxRss(Target t, String field) throws IOException {
    double max = 0;
    for (ProcessHandle p : t.processes()) {
      for (String line : Files.readAllLines(Path.of("/proc/" + p.pid() + "/status"))) {
        if (line.startsWith(field + ":")) {
          max = Math.max(max, Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0);
        }
      }
    }
    return max;
  }

  // ------------------------------------------------------------------ helpers

  /** The tree as extracted onto the local disk: the oracle for "identical". */
  private Path extractReference() throws Exception {
    Path ref = work.resolve("reference");
    deleteTree(ref);
    Files.createDirectories(ref);
    sh(ref, "tar -xf " + wpTar);
    return ref;
  }

  /** Expected relative paths, sizes and contents of the WordPress tree. */
  static final class Manifest {
    final Map<String, byte[]> files = new TreeMap<>();
    final List<String> dirs = new ArrayList<>();
    long bytes;

    static Manifest of(Path root) throws IOException {
      Manifest m = new Manifest();
      try (Stream<Path> s = Files.walk(root)) {
        for (Path p : s.toList()) {
          String rel = root.relativize(p).toString();
          if (rel.isEmpty()) {
            continue;
          }
          if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            m.dirs.add(rel);
          } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            byte[] b = Files.readAllBytes(p);
            m.files.put(rel, b);
            m.bytes += b.length;
          }
        }
      }
      return m;
    }

    /** Every file is there with its size (one lstat each). */
    boolean sizesMatch(Path root) {
      for (Map.Entry<String, byte[]> e : files.entrySet()) {
        if (size(root.resolve(e.getKey())) != e.getValue().length) {
          return false;
        }
      }
      return true;
    }

    boolean matches(Path root) {
      if (!sizesMatch(root)) {
        return false;
      }
      for (Map.Entry<String, byte[]> e : files.entrySet()) {
        if (!sameContent(root.resolve(e.getKey()), e.getValue())) {
          return false;
        }
      }
      return true;
    }
  }

  private static boolean isLeader(String metrics) {
    return metrics.contains("sharefs_raft_role{role=\"leader\"} 1.0");
  }

  /** The size of a regular file, or -1 if there is none. */
  static long size(Path p) {
    try {
      BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      return a.isRegularFile() ? a.size() : -1;
    } catch (IOException e) {
      return -1;
    }
  }

  static boolean sameContent(Path p, byte[] expected) {
    try {
      return Arrays.equals(Files.readAllBytes(p), expected);
    } catch (NoSuchFileException e) {
      return false;
    } catch (IOException e) {
      return false;
    }
  }

  static byte[] content(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  static int count(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      return (int) s.count();
    } catch (IOException e) {
      return -1;
    }
  }

  interface Check {
    boolean ok() throws Exception;
  }

  /** Polls every 5 ms, as a reader that waits for a change would. */
  static void waitFor(Check c, long timeoutMs) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (!c.ok()) {
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException("timed out after " + timeoutMs + " ms");
      }
      Thread.sleep(5);
    }
  }

  static void sh(Path cwd, String script) throws Exception {
    Process p = new ProcessBuilder("bash", "-c", script).directory(cwd.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IOException("failed: " + script + "\n" + out);
    }
  }

  static void deleteTree(Path p) throws Exception {
    if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
      sh(Path.of("/"), "rm -rf '" + p + "'");
    }
  }

  static double secs(long nanos) {
    return nanos / 1e9;
  }

  static double pct(List<Double> sorted, int p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
  }

  static double median(List<Double> v) {
    List<Double> s = new ArrayList<>(v);
    Collections.sort(s);
    return s.get(s.size() / 2);
  }

  private void record(Target t, String figure, double value) {
    results.computeIfAbsent(figure, k -> new LinkedHashMap<>()).computeIfAbsent(t.name(), k -> new ArrayList<>())
        .add(value);
    log("  %-40s %12.2f", figure, value);
  }

  private static void log(String fmt, Object... args) {
    System.out.println(String.format(Locale.ROOT, fmt, args));
    System.out.flush();
  }

  // ------------------------------------------------------------------ report

  private void report(Path out) throws IOException {
    Files.createDirectories(out);
    List<String> targets = new ArrayList<>();
    results.values().forEach(m -> m.keySet().forEach(k -> {
      if (!targets.contains(k)) {
        targets.add(k);
      }
    }));
    StringBuilder md = new StringBuilder();
    md.append("| figure |");
    targets.forEach(t -> md.append(' ').append(t).append(" |"));
    md.append(" sharefs / local | sharefs / lsyncd-delay0 | sharefs / fuse-floor | sharefs-async / fuse-floor | spread |\n|---|");
    targets.forEach(t -> md.append("---|"));
    md.append("---|---|---|---|---|\n");
    Map<String, Object> json = new LinkedHashMap<>();
    for (var e : results.entrySet()) {
      md.append("| ").append(e.getKey()).append(" |");
      Map<String, Object> row = new LinkedHashMap<>();
      for (String t : targets) {
        List<Double> v = e.getValue().get(t);
        md.append(' ').append(v == null ? "—" : fmt(median(v))).append(" |");
        if (v != null) {
          row.put(t, Map.of("median", median(v), "all", v));
        }
      }
      md.append(' ').append(ratio(e.getValue(), "sharefs", "local")).append(" |");
      md.append(' ').append(ratio(e.getValue(), "sharefs", "lsyncd-delay0")).append(" |");
      md.append(' ').append(ratio(e.getValue(), "sharefs", "fuse-floor")).append(" |");
      md.append(' ').append(ratio(e.getValue(), "sharefs-async", "fuse-floor")).append(" |");
      md.append(' ').append(spread(e.getValue().get("sharefs"))).append(" |\n");
      json.put(e.getKey(), row);
    }
    String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd-HHmm"));
    String machine = machine();
    String header = "# sharefs benchmark " + stamp + "\n\n" + machine + "\nMedians over " + reps
        + " repetitions; 'spread' is (max-min)/median of the sharefs runs.\n\n";
    Files.writeString(out.resolve("bench-" + stamp + ".md"), header + md);
    json.put("_machine", machine);
    Files.writeString(out.resolve("bench-" + stamp + ".json"), new GsonBuilder().setPrettyPrinting().create().toJson(json));
    System.out.println();
    System.out.println(header + md);
  }

  private static String machine() {
    try {
      String cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
          .findFirst().orElse("cpu ?").replaceFirst(".*: ", "");
      long cores = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("processor")).count();
      String mem = Files.readAllLines(Path.of("/proc/meminfo")).get(0).replaceAll("\\s+", " ");
      return "Machine: " + cores + " x " + cpu + ", " + mem + ", kernel " + System.getProperty("os.version")
          + ", Java " + System.getProperty("java.version") + ".";
    } catch (IOException e) {
      return "Machine: unknown";
    }
  }

  private static String ratio(Map<String, List<Double>> row, String a, String b) {
    List<Double> x = row.get(a);
    List<Double> y = row.get(b);
    if (x == null || y == null || median(y) == 0) {
      return "—";
    }
    return String.format(Locale.ROOT, "%.2f×", median(x) / median(y));
  }

  private static String spread(List<Double> v) {
    if (v == null || v.size() < 2 || median(v) == 0) {
      return "—";
    }
    return String.format(Locale.ROOT, "%.0f%%", (Collections.max(v) - Collections.min(v)) / median(v) * 100);
  }

  private static String fmt(double d) {
    return Math.abs(d) >= 100 ? String.format(Locale.ROOT, "%.0f", d) : String.format(Locale.ROOT, "%.2f", d);
  }
}
