package io.sharefs.fuse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The notifications as the kernel reads them, and which changes lead to which, through a fake device
 * that records each write and answers as the kernel would: ENOENT for node ids it does not hold.
 */
class KernelCacheTest {
  /** Records what is written; {@code held} says which node ids the "kernel" holds. */
  static final class FakeDevice implements KernelCache.Device {
    final List<byte[]> written = new ArrayList<>();
    final java.util.Set<Long> held = java.util.concurrent.ConcurrentHashMap.newKeySet();
    volatile CountDownLatch gate = new CountDownLatch(0);
    volatile boolean closed;

    @Override
    public void release() {}

    @Override
    public void close() {
      closed = true;
    }

    @Override
    public int write(byte[] buf, int count) {
      try {
        gate.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      synchronized (this) {
        written.add(java.util.Arrays.copyOf(buf, count));
        notifyAll();
      }
      return held.contains(ByteBuffer.wrap(buf).order(ByteOrder.nativeOrder()).getLong(16)) ? 0 : KernelCache.ENOENT;
    }

    synchronized int count() {
      return written.size();
    }

    synchronized List<String> await(int n) throws InterruptedException {
      long deadline = System.currentTimeMillis() + 30_000;
      while (written.size() < n && System.currentTimeMillis() < deadline) {
        wait(50);
      }
      List<String> out = new ArrayList<>();
      for (byte[] m : written) {
        out.add(describe(m));
      }
      return out;
    }
  }

  /** Waits (up to 30 s: a slow machine) until the inode is settled; fails if it never is. */
  static void awaitSettled(KernelCache k, long ino) throws InterruptedException {
    long deadline = System.currentTimeMillis() + 30_000;
    while (!k.settled(ino) && System.currentTimeMillis() < deadline) {
      Thread.sleep(5);
    }
    assertTrue(k.settled(ino), "inode " + ino + " still pending");
  }

  static String describe(byte[] m) {
    ByteBuffer b = ByteBuffer.wrap(m).order(ByteOrder.nativeOrder());
    int len = b.getInt();
    int code = b.getInt();
    long unique = b.getLong();
    assertEquals(m.length, len, "header length");
    assertEquals(0, unique, "notifications carry unique 0");
    if (code == KernelCache.NOTIFY_INVAL_INODE) {
      long nodeid = b.getLong();
      long off = b.getLong();
      long n = b.getLong();
      return "inode " + nodeid + " " + off + " " + n;
    }
    assertEquals(KernelCache.NOTIFY_INVAL_ENTRY, code);
    long parent = b.getLong();
    int namelen = b.getInt();
    assertEquals(0, b.getInt(), "flags");
    assertEquals(0, m[m.length - 1], "the name is NUL-terminated");
    assertEquals(32 + namelen + 1, m.length);
    return "entry " + parent + " " + new String(m, 32, namelen, StandardCharsets.UTF_8);
  }

  @Test
  void notifiesTheNodeIdsOfChangedInodesAndNames() throws Exception {
    FakeDevice dev = new FakeDevice();
    KernelCache k = new KernelCache();
    k.inodeChanged(7); // before start: nothing the kernel could hold
    assertTrue(k.start(dev));
    try {
      k.record(7, 70);
      k.record(9, 90);
      dev.held.addAll(List.of(1L, 70L, 90L));
      k.inodeChanged(7);
      k.entryChanged(1, "wp-config.php".getBytes(StandardCharsets.UTF_8));
      k.entryChanged(9, "x".getBytes(StandardCharsets.UTF_8));
      k.entryChanged(8, "unknown-parent".getBytes(StandardCharsets.UTF_8));
      k.inodeChanged(8); // never looked up here: the kernel holds nothing of it
      assertEquals(List.of("inode 70 0 0", "entry 1 wp-config.php", "entry 90 x"), dev.await(3));
      Thread.sleep(50);
      assertEquals(3, dev.count(), "nothing for what the kernel never saw");
      assertEquals(2, k.entryNotices());
      assertEquals(1, k.inodeNotices());
    } finally {
      k.close();
    }
    assertTrue(dev.closed, "the duplicate descriptor is closed");
  }

  /** A hard link looked up under two names has two node ids: both are invalidated. */
  @Test
  void everyNodeIdOfAnInode() throws Exception {
    FakeDevice dev = new FakeDevice();
    KernelCache k = new KernelCache();
    assertTrue(k.start(dev));
    try {
      k.record(7, 70);
      k.record(7, 71);
      k.record(7, 70);
      k.record(7, 71); // names looked up in turn: each id once
      dev.held.addAll(List.of(70L, 71L));
      k.inodeChanged(7);
      assertEquals(List.of("inode 71 0 0", "inode 70 0 0"), dev.await(2));
      Thread.sleep(50);
      assertEquals(2, dev.count());
    } finally {
      k.close();
    }
  }

  /**
   * An inode stays pending (opened for direct I/O) until its notification went out; one the kernel
   * answers ENOENT for is asked again (the entry reply naming it may still be on its way), then dropped.
   */
  @Test
  void pendingUntilNotifiedAndRetriedWhileTheKernelDoesNotKnowIt() throws Exception {
    FakeDevice dev = new FakeDevice();
    dev.gate = new CountDownLatch(1);
    KernelCache k = new KernelCache();
    assertTrue(k.start(dev));
    try {
      k.record(7, 70);
      dev.held.add(70L);
      k.inodeChanged(7);
      assertFalse(k.settled(7), "queued, not yet notified");
      assertTrue(k.settled(8));
      dev.gate.countDown();
      dev.await(1);
      awaitSettled(k, 7);

      k.record(9, 90); // the kernel has not made this node yet
      dev.gate = new CountDownLatch(1);
      k.inodeChanged(9);
      assertFalse(k.settled(9), "pending until the retries are over");
      dev.gate.countDown();
      List<String> seen = dev.await(1 + 5);
      assertEquals(List.of("inode 70 0 0", "inode 90 0 0", "inode 90 0 0", "inode 90 0 0", "inode 90 0 0",
          "inode 90 0 0"), seen);
      awaitSettled(k, 9);
      assertEquals(3, k.knownNodes(), "the node id is kept: the kernel may still make it");
      assertEquals(5, k.unknownNotices());
    } finally {
      k.close();
    }
  }

  /** An ENOENT for a node id recorded long ago is a node the kernel forgot: no retries, not pending. */
  @Test
  void aNodeTheKernelForgotSettlesAtOnce() throws Exception {
    FakeDevice dev = new FakeDevice();
    long[] now = {0};
    KernelCache k = new KernelCache(() -> now[0]);
    assertTrue(k.start(dev));
    try {
      k.record(9, 90);
      now[0] += TimeUnit.SECONDS.toNanos(60);
      k.inodeChanged(9);
      assertEquals(List.of("inode 90 0 0"), dev.await(1));
      awaitSettled(k, 9);
      Thread.sleep(100);
      assertEquals(1, dev.count(), "no retries");
      assertEquals(2, k.knownNodes(), "kept: the kernel may look it up again under this id");
    } finally {
      k.close();
    }
  }

  @Test
  void forgetsDeletedInodesAndRefreshesEverythingAfterASnapshot() throws Exception {
    FakeDevice dev = new FakeDevice();
    KernelCache k = new KernelCache();
    assertTrue(k.start(dev));
    try {
      k.record(7, 70);
      k.record(9, 90);
      dev.held.addAll(List.of(1L, 70L, 90L));
      k.inodeDeleted(9);
      long deadline = System.currentTimeMillis() + 30_000;
      while (k.knownNodes() != 2 && System.currentTimeMillis() < deadline) {
        Thread.sleep(5);
      }
      assertEquals(2, k.knownNodes(), "the root and inode 7");
      dev.gate = new CountDownLatch(1);
      k.everythingChanged();
      assertFalse(k.settled(12345), "every inode is pending until the sweep is over");
      dev.gate.countDown();
      List<String> seen = new ArrayList<>(dev.await(2));
      awaitSettled(k, 12345);
      java.util.Collections.sort(seen);
      assertEquals(List.of("inode 1 0 0", "inode 70 0 0"), seen);
    } finally {
      k.close();
    }
  }

  /** What the tap asks before it lets the kernel keep an entry reply. */
  @Test
  void tellsWhichInodesChangedSinceAPointInTime() {
    KernelCache k = new KernelCache();
    long t0 = k.changes();
    k.inodeChanged(7);
    k.entryChanged(1, "a".getBytes(StandardCharsets.UTF_8));
    long t1 = k.changes();
    k.inodeChanged(8);
    assertTrue(k.changedSince(7, t0));
    assertFalse(k.changedSince(7, t1));
    assertTrue(k.changedSince(8, t1));
    assertFalse(k.changedSince(9, t0));
    long t3 = k.changes();
    for (int i = 0; i < KernelCache.RECENT - 1; i++) {
      k.inodeChanged(1000 + i);
    }
    assertFalse(k.changedSince(9, t3), "as many changes as the ring holds, less one: still known");
    k.inodeChanged(5000);
    assertTrue(k.changedSince(9, t3), "as many as the ring holds: the oldest slot is the next written");
    assertTrue(k.changedSince(9, t0), "more changes than the ring holds: assume it changed");
    long t2 = k.changes();
    k.everythingChanged();
    assertTrue(k.changedSince(9, t2), "after a snapshot everything may have changed");
  }

  @Test
  void messagesMatchTheKernelsLayout() {
    KernelCache k = new KernelCache();
    int n = k.entryMessage(90, "é.txt".getBytes(StandardCharsets.UTF_8));
    assertEquals("entry 90 é.txt", describe(java.util.Arrays.copyOf(k.message(), n)));
    n = k.inodeMessage(70);
    assertEquals(40, n);
    assertArrayEquals(new byte[] {40, 0, 0, 0, 2, 0, 0, 0}, java.util.Arrays.copyOf(k.message(), 8));
  }
}
