package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.it.NodeProcess.Result;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** Three node processes, each with its own FUSE mount, sharing one tree. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClusterTest {
  @TempDir static Path tmp;
  SharefsCluster cluster;

  @BeforeAll
  void start() throws Exception {
    // Attributes cached for a minute: every test here also checks that other nodes' changes reach the
    // kernel's caches as invalidations (the default, lease, is covered by OpenLeaseTest and the fault tests).
    cluster = SharefsCluster.start(tmp.resolve("c"), 3, "--write-timeout", "5", "--snapshot-every", "300",
        "--open-barrier", "leader", "--attr-timeout", "60");
  }

  @AfterAll
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  Path m(int i) {
    return cluster.mountPoint(i);
  }

  static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void everyChangeOnOneNodeIsVisibleOnTheOthers() throws Exception {
    Path a = Files.createDirectories(m(0).resolve("vis"));
    byte[] big = random(2_500_000, 1);
    Files.write(a.resolve("small.php"), "<?php echo 1;".getBytes());
    Files.write(a.resolve("big.jpg"), big);
    NodeProcess.sh(a, "echo more >> small.php && truncate -s 5 big.jpg && chmod 600 small.php && "
        + "ln -s small.php link && ln small.php hard && mkdir sub && mv hard sub/moved && "
        + "touch gone && rm gone && printf x > renamed-src && mv renamed-src renamed-dst").ok();
    Files.getFileAttributeView(a.resolve("small.php"), UserDefinedFileAttributeView.class)
        .write("wp.meta", ByteBuffer.wrap("v".getBytes()));
    String expected = NodeProcess.sh(a, "find . -printf '%p %y %m %s %n %l\\n' | sort; cat small.php; "
        + "od -c big.jpg | head -1; getfattr -n user.wp.meta small.php 2>/dev/null || true").ok().out();
    for (int i = 1; i < 3; i++) {
      Path b = m(i).resolve("vis");
      String seen = NodeProcess.sh(b, "find . -printf '%p %y %m %s %n %l\\n' | sort; cat small.php; "
          + "od -c big.jpg | head -1; getfattr -n user.wp.meta small.php 2>/dev/null || true").ok().out();
      assertEquals(expected, seen, "node " + (i + 1));
      ByteBuffer v = ByteBuffer.allocate(8);
      Files.getFileAttributeView(b.resolve("small.php"), UserDefinedFileAttributeView.class).read("wp.meta", v);
      assertEquals("v", new String(v.array(), 0, v.position()));
    }
    // A large file written on node 3 reads back identical on node 1 (its blocks pulled or fetched).
    Files.write(m(2).resolve("vis/from3.bin"), big);
    assertArrayEquals(big, Files.readAllBytes(m(0).resolve("vis/from3.bin")));
  }

  /**
   * Node 2's kernel caches names and attributes for a minute (--attr-timeout 60, --entry-timeout 30):
   * node 1's changes must show there at once all the same, since they are invalidated in its kernel.
   */
  @Test
  void anotherNodesChangesReachTheKernelsCacheAtOnce() throws Exception {
    Path w = Files.createDirectories(m(0).resolve("inval"));
    Files.write(w.resolve("f.php"), "v1".getBytes());
    Files.write(w.resolve("old"), "x".getBytes());
    Files.write(Files.createDirectories(w.resolve("d")).resolve("gone"), "y".getBytes());
    Files.write(w.resolve("becomes-dir"), "z".getBytes());
    Path r = m(1).resolve("inval");
    // Node 2's kernel caches names, attributes and pages.
    assertEquals(2, Files.size(r.resolve("f.php")));
    assertArrayEquals("v1".getBytes(), Files.readAllBytes(r.resolve("f.php")));
    assertTrue(Files.exists(r.resolve("old")) && Files.exists(r.resolve("d/gone")));
    assertTrue(Files.isRegularFile(r.resolve("becomes-dir")));
    double[] before = invalidations(1);
    double[] writerBefore = invalidations(0);

    Files.write(w.resolve("f.php"), "version two".getBytes());
    Files.setPosixFilePermissions(w.resolve("f.php"), java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    Files.move(w.resolve("old"), w.resolve("new"));
    Files.delete(w.resolve("d/gone"));
    // The same name, now a directory: a kernel that kept the old name's node would answer EIO.
    Files.delete(w.resolve("becomes-dir"));
    Files.createDirectory(w.resolve("becomes-dir"));

    long t0 = System.nanoTime();
    String seen = "";
    String expected = "11 rw------- old:false new:true gone:false dir:true";
    while (System.nanoTime() - t0 < 30_000_000_000L) {
      seen = Files.size(r.resolve("f.php")) + " "
          + java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(r.resolve("f.php")))
          + " old:" + Files.exists(r.resolve("old")) + " new:" + Files.exists(r.resolve("new"))
          + " gone:" + Files.exists(r.resolve("d/gone")) + " dir:" + Files.isDirectory(r.resolve("becomes-dir"));
      if (seen.equals(expected)) {
        break;
      }
      Thread.sleep(5);
    }
    assertEquals(expected, seen, "node 2 still shows what its kernel cached before node 1's changes");
    System.out.printf("node 1's changes showed on node 2 after %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    assertArrayEquals("version two".getBytes(), Files.readAllBytes(r.resolve("f.php")));
    assertEquals("becomes-dir d f.php new", NodeProcess.sh(r, "ls").ok().out().trim().replace("\n", " "));
    double[] after = invalidations(1);
    assertTrue(after[0] > before[0] && after[1] > before[1], "node 2 sent no inode or no entry invalidation");
    assertArrayEquals(writerBefore, invalidations(0), "node 1 invalidated its own kernel's cache of its own changes");
  }

  /** A node's inode and entry invalidations so far. */
  double[] invalidations(int node) throws Exception {
    String text = cluster.metrics(node);
    return new double[] {SharefsCluster.metric(text, "sharefs_fuse_invalidations_total{kind=\"inode\"}"),
        SharefsCluster.metric(text, "sharefs_fuse_invalidations_total{kind=\"entry\"}")};
  }

  /**
   * A block counts towards a commit only once it would survive a power loss: the writer fsyncs its
   * block log before the commit, and a peer before it acknowledges a pushed block.
   */
  @Test
  void closeReturnsOnlyOnceTheBlocksAreFsyncedOnTheWriterAndAQuorum() throws Exception {
    double[] before = new double[cluster.size()];
    for (int i = 0; i < cluster.size(); i++) {
      before[i] = SharefsCluster.metric(cluster.metrics(i), "sharefs_block_store_syncs_total");
    }
    byte[] big = random(2_500_000, 99);
    Files.write(m(0).resolve("durable.bin"), big); // three new blocks; close() returns after the commit
    boolean[] synced = new boolean[cluster.size()];
    int nodes = 0;
    for (int i = 0; i < cluster.size(); i++) {
      synced[i] = SharefsCluster.metric(cluster.metrics(i), "sharefs_block_store_syncs_total") > before[i];
      nodes += synced[i] ? 1 : 0;
    }
    assertTrue(synced[0], "the writer committed blocks it had not fsynced");
    assertTrue(nodes >= 2, "close() returned with the blocks fsynced on " + nodes + " of 3 nodes");
    assertArrayEquals(big, Files.readAllBytes(m(2).resolve("durable.bin")));
  }

  @Test
  void closeToOpenAcrossNodes() throws Exception {
    Path dir = Files.createDirectories(m(0).resolve("c2o"));
    for (int k = 0; k < 30; k++) {
      byte[] v = random(16384, k);
      Files.write(dir.resolve("f"), v); // close() returns: committed
      int reader = 1 + (k % 2);
      assertArrayEquals(v, Files.readAllBytes(m(reader).resolve("c2o/f")), "version " + k + " on node " + (reader + 1));
    }
  }

  /**
   * Many writers per node at once (PHP workers): their creates and closes share log entries and their
   * opens share read barriers; every write must succeed and every node must end up with every file.
   */
  @Test
  void manyConcurrentWritersOnEveryNode() throws Exception {
    java.util.List<CompletableFuture<Void>> writers = new java.util.ArrayList<>();
    for (int w = 0; w < 24; w++) {
      int node = w < 16 ? 1 : w % 3; // sixteen on one node, as the benchmark's memory phase does
      Path dir = Files.createDirectories(m(node).resolve("busy/w" + w));
      writers.add(CompletableFuture.runAsync(() -> {
        try {
          for (int i = 0; i < 100; i++) {
            Files.write(dir.resolve("f" + i), ("writer " + dir.getFileName() + " file " + i).getBytes());
          }
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }, java.util.concurrent.Executors.newSingleThreadExecutor()));
    }
    for (CompletableFuture<Void> f : writers) {
      f.get(120, TimeUnit.SECONDS); // an EIO in any writer fails here
    }
    for (int node = 0; node < 3; node++) {
      for (int w = 0; w < 24; w += 5) {
        assertArrayEquals(("writer w" + w + " file 99").getBytes(),
            Files.readAllBytes(m(node).resolve("busy/w" + w + "/f99")));
      }
    }
  }

  @Test
  void concurrentWritersConvergeToOneVersion() throws Exception {
    Path f1 = m(0).resolve("race.txt");
    Path f2 = m(1).resolve("race.txt");
    Files.write(f1, new byte[0]);
    Thread t1 = new Thread(() -> writeMany(f1, 'A'));
    Thread t2 = new Thread(() -> writeMany(f2, 'B'));
    t1.start();
    t2.start();
    t1.join();
    t2.join();
    byte[] on1 = Files.readAllBytes(m(0).resolve("race.txt"));
    byte[] on2 = Files.readAllBytes(m(1).resolve("race.txt"));
    byte[] on3 = Files.readAllBytes(m(2).resolve("race.txt"));
    assertArrayEquals(on1, on2);
    assertArrayEquals(on1, on3);
    assertEquals(4096, on1.length);
    assertTrue(on1[0] == 'A' || on1[0] == 'B');
    for (byte b : on1) {
      assertEquals(on1[0], b, "one writer's whole version wins, never a mix");
    }
  }

  private static void writeMany(Path f, char c) {
    byte[] v = new byte[4096];
    java.util.Arrays.fill(v, (byte) c);
    for (int i = 0; i < 20; i++) {
      try {
        Files.write(f, v);
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    }
  }

  @Test
  void flockIsClusterWide() throws Exception {
    Path f = m(0).resolve(".htaccess");
    Files.writeString(f, "# BEGIN WordPress");
    Process holder = new ProcessBuilder("flock", f.toString(), "-c", "sleep 3").start();
    try {
      Thread.sleep(1000);
      Result busy = NodeProcess.sh(m(1), "flock -n .htaccess -c 'echo acquired' || echo busy");
      assertEquals("busy\n", busy.out(), "node 2 must see node 1's lock");
      Result waited = NodeProcess.sh(m(2), "flock .htaccess -c 'echo got it after waiting'");
      assertEquals("got it after waiting\n", waited.ok().out());
    } finally {
      holder.destroy();
      holder.waitFor();
    }
    // flock(1) never unlocks explicitly: its lock goes when the last descriptor closes, and the
    // kernel sends FUSE's RELEASE (which drops it) after close() has returned. Poll briefly.
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
    String free;
    do {
      free = NodeProcess.sh(m(1), "flock -n .htaccess -c 'echo free' || echo busy").out();
    } while (!free.equals("free\n") && System.nanoTime() < deadline);
    assertEquals("free\n", free, "node 3's lock is released once its holder exits");
  }

  /** FileChannel.lock/tryLock are fcntl(F_SETLKW/F_SETLK) record locks on Linux. */
  @Test
  void fcntlRecordLocksAreClusterWide() throws Exception {
    Path f1 = m(0).resolve("wp-config.php");
    Files.write(f1, new byte[4096]);
    Path f2 = m(1).resolve("wp-config.php");
    try (FileChannel c1 = FileChannel.open(f1, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileChannel c2 = FileChannel.open(f2, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      FileLock held = c1.lock(0, 100, false);
      assertNull(c2.tryLock(50, 10, false), "node 2 must see node 1's write lock");
      assertNull(c2.tryLock(0, 10, true), "a read lock conflicts with a write lock");
      FileLock beside = c2.tryLock(100, 100, false);
      assertNotNull(beside, "a range next to the held one is free");
      // A waiter on node 3 blocks (F_SETLKW) until node 1 lets go.
      try (FileChannel c3 = FileChannel.open(m(2).resolve("wp-config.php"), StandardOpenOption.WRITE)) {
        CompletableFuture<FileLock> waiter = CompletableFuture.supplyAsync(() -> {
          try {
            return c3.lock(0, 10, false);
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
        Thread.sleep(1500);
        assertFalse(waiter.isDone(), "the waiter must block while node 1 holds the lock");
        held.release();
        waiter.get(20, TimeUnit.SECONDS).release();
      }
      beside.release();
      FileLock again = c2.tryLock(0, 200, false);
      assertNotNull(again, "every lock is gone once released (and the waiter exited)");
      again.release();
    }
    // Closing the file drops its locks: another node can take the whole file.
    try (FileChannel c1 = FileChannel.open(f1, StandardOpenOption.WRITE)) {
      c1.lock(0, Long.MAX_VALUE, false);
    }
    try (FileChannel c2 = FileChannel.open(f2, StandardOpenOption.WRITE)) {
      assertNotNull(c2.tryLock(0, Long.MAX_VALUE, false), "closing the channel released its lock cluster-wide");
    }
  }

  /** FOPEN_NOFLUSH came with Linux 5.16; older kernels send FLUSH anyway. */
  static void assumeKernelHonoursNoFlush() {
    java.util.regex.Matcher v = java.util.regex.Pattern.compile("(\\d+)\\.(\\d+)")
        .matcher(System.getProperty("os.version"));
    org.junit.jupiter.api.Assumptions.assumeTrue(v.lookingAt(), "unknown kernel version");
    int major = Integer.parseInt(v.group(1));
    int minor = Integer.parseInt(v.group(2));
    org.junit.jupiter.api.Assumptions.assumeTrue(major > 5 || major == 5 && minor >= 16, "kernel before 5.16");
  }

  /** A file opened read-only has nothing to commit: its close() sends no FLUSH; a writer's close() still does. */
  @Test
  void closingAFileOpenedReadOnlySendsNoFlush() throws Exception {
    assumeKernelHonoursNoFlush();
    Path dir = Files.createDirectories(m(1).resolve("noflush"));
    for (int k = 0; k < 20; k++) {
      Files.writeString(dir.resolve("f" + k), "file " + k);
    }
    String before = cluster.metrics(1);
    for (int k = 0; k < 20; k++) {
      assertEquals("file " + k, Files.readString(dir.resolve("f" + k)));
    }
    Files.writeString(dir.resolve("w"), "written");
    String after = cluster.metrics(1);
    String flushes = "sharefs_fuse_op_seconds_count{op=\"flush\"}";
    assertEquals(1, SharefsCluster.metric(after, flushes) - SharefsCluster.metric(before, flushes),
        "only the writer's close() sent a FLUSH");
    assertEquals(20, SharefsCluster.metric(after, "sharefs_fuse_noflush_opens_total")
        - SharefsCluster.metric(before, "sharefs_fuse_noflush_opens_total"));
    assertEquals("written", Files.readString(m(2).resolve("noflush/w")), "the writer's close() committed");
  }

  /** The C library, for an fcntl lock that nothing unlocks before close() (Java's FileChannel does). */
  public interface LibC {
    int open(String path, int flags);

    int fcntl(int fd, int cmd, jnr.ffi.Pointer flock);

    int close(int fd);
  }

  /**
   * POSIX drops a process's fcntl locks on a file when it closes a descriptor of that file. Through a
   * read-only descriptor no FLUSH carries that to sharefs, so the node drops them at RELEASE.
   */
  @Test
  void closingAReadOnlyDescriptorDropsItsFcntlLocksClusterWide() throws Exception {
    assumeKernelHonoursNoFlush();
    Files.write(m(0).resolve("readers.db"), new byte[100]);
    LibC libc = jnr.ffi.LibraryLoader.create(LibC.class).load("c");
    jnr.ffi.Runtime runtime = jnr.ffi.Runtime.getRuntime(libc);
    // struct flock, all zero: l_type F_RDLCK, l_whence SEEK_SET, l_start 0, l_len 0 (to the end)
    jnr.ffi.Pointer flock = jnr.ffi.Memory.allocateDirect(runtime, 32, true);
    String flushes = "sharefs_fuse_op_seconds_count{op=\"flush\"}";
    String before = cluster.metrics(0);
    int fd = libc.open(m(0).resolve("readers.db").toString(), 0); // O_RDONLY
    assertTrue(fd >= 0, "open");
    try (FileChannel c2 = FileChannel.open(m(1).resolve("readers.db"), StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      try {
        assertEquals(0, libc.fcntl(fd, 6, flock), "F_SETLK F_RDLCK"); // 6 = F_SETLK
        assertNull(c2.tryLock(0, Long.MAX_VALUE, false), "node 2 must see node 1's read lock");
      } finally {
        libc.close(fd);
      }
      String after = cluster.metrics(0);
      String noFlush = "sharefs_fuse_noflush_opens_total";
      assertEquals(1, SharefsCluster.metric(after, noFlush) - SharefsCluster.metric(before, noFlush),
          "the open was answered with NOFLUSH");
      assertEquals(SharefsCluster.metric(before, flushes), SharefsCluster.metric(after, flushes),
          "close() sent a FLUSH");
      FileLock free = null;
      for (int i = 0; i < 100 && free == null; i++) { // RELEASE follows close() asynchronously
        free = c2.tryLock(0, Long.MAX_VALUE, false);
        if (free == null) {
          Thread.sleep(50);
        }
      }
      assertNotNull(free, "the lock outlived the descriptor that took it");
      free.release();
    }
  }

  @Test
  void metricsAreServedAndParse() throws Exception {
    String text = cluster.metrics(0);
    for (String name : List.of("sharefs_raft_role", "sharefs_raft_commit_index", "sharefs_raft_applied_index",
        "sharefs_fuse_op_seconds_bucket", "sharefs_blocks", "sharefs_block_pull_queue_length")) {
      assertTrue(text.contains(name), name + " missing from\n" + text);
    }
    for (String line : text.split("\n")) {
      if (!line.startsWith("#") && !line.isBlank()) {
        String value = line.substring(line.lastIndexOf(' ') + 1);
        Double.parseDouble(value); // every sample parses
      }
    }
    assertEquals(1, text.lines().filter(l -> l.matches("sharefs_raft_role\\{role=\"(leader|follower)\"} 1(\\.0)?")).count());
    for (String peer : List.of("n2", "n3")) {
      assertTrue(text.lines().anyMatch(l -> l.matches("sharefs_peer_reachable\\{peer=\"" + peer + "\"} 1(\\.0)?")),
          peer + " reachable\n" + text);
      assertTrue(text.contains("sharefs_peer_rtt_seconds{peer=\"" + peer + "\"}"), text);
    }
  }

  @Test
  void strictOpensOnFollowersShowInTheBarrierMetrics() throws Exception {
    int leader = cluster.leader(30_000);
    Path written = m(leader).resolve("barrier-metrics.txt");
    Files.writeString(written, "fresh");
    for (int i = 0; i < cluster.size(); i++) {
      if (i == leader) {
        continue;
      }
      String before = cluster.metrics(i);
      for (int k = 0; k < 20; k++) {
        assertEquals("fresh", Files.readString(m(i).resolve("barrier-metrics.txt")));
      }
      String text = cluster.metrics(i);
      long calls = (long) (SharefsCluster.metric(text, "sharefs_barrier_calls_total")
          - SharefsCluster.metric(before, "sharefs_barrier_calls_total"));
      long rounds = (long) (SharefsCluster.metric(text, "sharefs_barrier_rounds_total")
          - SharefsCluster.metric(before, "sharefs_barrier_rounds_total"));
      assertTrue(calls >= 20, "20 strict opens on a follower, " + calls + " barrier calls");
      assertTrue(rounds >= 1, "no round trip to the leader for " + calls + " barrier calls");
      assertTrue(text.contains("sharefs_barrier_wait_seconds_total "), text);
      long deadline = System.currentTimeMillis() + 10_000; // a slow round earlier may leave it set for 5 s
      while (SharefsCluster.metric(cluster.metrics(i), "sharefs_barrier_degraded") != 0) {
        assertTrue(System.currentTimeMillis() < deadline, "leader reachable, yet reads stay degraded");
        Thread.sleep(100);
      }
    }
    assertTrue(cluster.metrics(leader).contains("sharefs_barrier_lease_refusals_total "));
  }
}
