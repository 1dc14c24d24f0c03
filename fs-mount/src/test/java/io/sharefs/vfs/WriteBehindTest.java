package io.sharefs.vfs;

import static io.sharefs.vfs.VfsTest.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.block.rocks.RocksBlockStore;
import io.sharefs.meta.Dentry;
import io.sharefs.meta.Errno;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.MetaStore;
import io.sharefs.meta.RecordLocks;
import io.sharefs.meta.client.LocalMetaStore;
import io.sharefs.meta.op.MetaOp;
import io.sharefs.meta.op.ReserveInosOp;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Write-behind at the VFS level: answers before the commit, in order, grouped, with fsync as the barrier. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WriteBehindTest {
  static final Ctx USER = VfsTest.USER;
  @TempDir Path tmp;
  LocalMetaStore meta;
  Gate gate;
  RocksBlockStore blocks;
  Vfs vfs;
  long now = 1_700_000_000_000_000_000L;

  /** The log as this node sees it, with a gate that holds proposals back (a slow or unreachable quorum). */
  static final class Gate implements MetaStore {
    private final MetaStore inner;
    private boolean open = true;
    int submits;
    /** Whether a proposal has reached the held gate. */
    volatile boolean waiting;

    Gate(MetaStore inner) {
      this.inner = inner;
    }

    synchronized void hold() {
      open = false;
    }

    synchronized void open() {
      open = true;
      waiting = false;
      notifyAll();
    }

    @Override
    public MetaResult submit(MetaOp op) {
      synchronized (this) {
        while (!open) {
          try {
            waiting = true;
            wait();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
          }
        }
        submits++;
      }
      return inner.submit(op);
    }

    @Override
    public Inode getInode(long ino) {
      return inner.getInode(ino);
    }

    @Override
    public Dentry lookup(long parent, byte[] name) {
      return inner.lookup(parent, name);
    }

    @Override
    public void readdir(long dir, byte[] after, Predicate<Dentry> visitor) {
      inner.readdir(dir, after, visitor);
    }

    @Override
    public byte[] getXattr(long ino, byte[] name) {
      return inner.getXattr(ino, name);
    }

    @Override
    public List<byte[]> listXattrs(long ino) {
      return inner.listXattrs(ino);
    }

    @Override
    public List<Long> orphans() {
      return inner.orphans();
    }

    @Override
    public List<RecordLocks.Held> recordLocks(long ino) {
      return inner.recordLocks(ino);
    }

    @Override
    public long inodeCount() {
      return inner.inodeCount();
    }

    @Override
    public void close() {
      // the test closes the store underneath
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    meta = LocalMetaStore.open(tmp.resolve("meta"));
    gate = new Gate(meta);
    blocks = RocksBlockStore.open(tmp.resolve("blocks"));
    vfs = new Vfs(gate, blocks, new VfsConfig(4096, 4).withWriteBehind(true), tmp, () -> now += 1000);
  }

  @AfterEach
  void tearDown() {
    gate.open();
    assertEquals(0, vfs.openHandles(), "leaked handles");
    vfs.close();
    meta.close();
    blocks.close();
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aWriterWaitsOnceTheQueueIsFullAndGoesOnWhenTheQuorumReturns() throws Exception {
    writeFile("/first", bytes("x")); // reserves this node's inode range while the log is open
    vfs.withQueueLimitForTesting(8);
    gate.hold();
    CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
      for (int k = 0; k < 20; k++) {
        writeFile("/q" + k, bytes("content " + k));
      }
    });
    for (int waited = 0; waited < 100 && vfs.pipeline().pending() < 8; waited++) {
      Thread.sleep(10);
    }
    Thread.sleep(300);
    assertFalse(writer.isDone(), "20 files (40 ops) queued behind a held log with room for 8");
    assertTrue(vfs.pipeline().pending() <= 9, "queued: " + vfs.pipeline().pending());
    gate.open();
    writer.get(30, TimeUnit.SECONDS);
    vfs.pipeline().drain();
    for (int k = 0; k < 20; k++) {
      assertNotNull(committed("/", "q" + k), "q" + k + " committed");
      assertArrayEquals(bytes("content " + k), read("/q" + k));
    }
  }

  Dentry committed(String parentPath, String name) {
    return meta.lookup(vfs.resolve(parentPath).ino(), bytes(name));
  }

  void writeFile(String path, byte[] data) {
    long fh = vfs.create(USER, path, 0644, Vfs.O_WRONLY);
    vfs.write(fh, data, data.length, 0);
    vfs.flush(USER, fh);
    vfs.release(USER, fh);
  }

  byte[] read(String path) {
    long fh = vfs.open(USER, path, Vfs.O_RDONLY);
    try {
      byte[] out = new byte[(int) vfs.getattr(path).size()];
      assertEquals(out.length, vfs.read(fh, out, out.length, 0));
      return out;
    } finally {
      vfs.release(USER, fh);
    }
  }

  @Test
  void answersBeforeTheCommitAndTheReplicaCatchesUpInOrder() {
    writeFile("/warm", bytes("reserves this node's inode range"));
    gate.hold();
    Inode dir = vfs.mkdir(USER, "/wp-content", 0755);
    writeFile("/wp-content/a.php", bytes("<?php echo 'a';"));
    byte[] big = new byte[3 * 1024 * 1024 + 17];
    new java.util.Random(5).nextBytes(big);
    writeFile("/wp-content/b.jpg", big);
    vfs.chmod(USER, "/wp-content/a.php", 0600);

    // This node sees everything; the log has none of it yet.
    assertTrue(dir.ino() >= ReserveInosOp.FIRST, "the node names its inodes from its reserved range");
    assertNull(meta.lookup(Inode.ROOT_INO, bytes("wp-content")));
    assertArrayEquals(bytes("<?php echo 'a';"), read("/wp-content/a.php"));
    assertArrayEquals(big, read("/wp-content/b.jpg"));
    assertEquals(0600, vfs.getattr("/wp-content/a.php").mode() & 07777);
    assertEquals(3, vfs.getattr("/wp-content").nlink() + 1, "parent nlink predicted");
    assertErrno(Errno.EEXIST, () -> vfs.create(USER, "/wp-content/a.php", 0644, Vfs.O_WRONLY));
    assertTrue(vfs.pipeline().pending() > 0);
    byte[] predicted = vfs.getattr("/wp-content/a.php").toBytes();

    gate.open();
    long fh = vfs.open(USER, "/wp-content/a.php", Vfs.O_RDONLY);
    vfs.fsync(USER, fh); // the barrier: everything before it is in the log
    vfs.release(USER, fh);
    assertEquals(0, vfs.pipeline().pending());
    Dentry a = committed("/wp-content", "a.php");
    assertNotNull(a);
    Inode ca = meta.getInode(a.ino());
    assertArrayEquals(predicted, ca.toBytes(),
        "the prediction was exactly what the log applied");
    assertEquals(0600, ca.mode() & 07777);
    assertEquals(dir.ino(), committed("/", "wp-content").ino());
    assertArrayEquals(big, read("/wp-content/b.jpg"));
    assertEquals(0, vfs.writeBehindFailures());
  }

  @Test
  void opsQueuedMeanwhileShareLogEntries() {
    writeFile("/warm", bytes("x"));
    vfs.mkdir(USER, "/d", 0755);
    vfs.readdir("/", e -> {}); // lets the mkdir go out first
    gate.hold();
    long entries = vfs.pipeline().entries();
    long ops = vfs.pipeline().ops();
    for (int i = 0; i < 60; i++) {
      writeFile("/d/f" + i, bytes("file " + i));
    }
    gate.open();
    vfs.readdir("/d", e -> {}); // waits for this node's pending entries
    assertEquals(120, vfs.pipeline().ops() - ops, "a create and a content commit per file");
    long used = vfs.pipeline().entries() - entries;
    assertTrue(used <= 3, "120 ops queued behind a held entry go out in a few entries, not " + used);
    for (int i = 0; i < 60; i++) {
      assertArrayEquals(bytes("file " + i), read("/d/f" + i));
      assertNotNull(committed("/d", "f" + i));
    }
  }

  @Test
  void aNewFilesCreateWaitsForItsContentAndBothShareOneEntry() throws Exception {
    writeFile("/warm", bytes("x"));
    vfs.pipeline().drain();
    vfs.pipeline().lingerForTesting(TimeUnit.SECONDS.toNanos(120)); // no timing luck involved
    long entries = vfs.pipeline().entries();
    long ops = vfs.pipeline().ops();
    gate.hold();
    long fh = vfs.create(USER, "/upload.jpg", 0644, Vfs.O_WRONLY);
    for (int i = 0; i < 100 && !gate.waiting; i++) {
      Thread.sleep(2); // sent at once, the create would reach the held log by now
    }
    vfs.write(fh, bytes("one round, not two"), 18, 0);
    vfs.flush(USER, fh);
    vfs.release(USER, fh);
    gate.open();
    vfs.pipeline().drain();
    assertEquals(2, vfs.pipeline().ops() - ops, "a create and a content commit");
    assertEquals(1, vfs.pipeline().entries() - entries, "both in one log entry");
    assertNotNull(committed("/", "upload.jpg"));
    assertArrayEquals(bytes("one round, not two"), read("/upload.jpg"));
  }

  @Test
  void aLingeringCreateLeavesAtOnceWhenAnotherOpArrivesOrSomebodyWaits() {
    writeFile("/warm", bytes("x"));
    writeFile("/b", bytes("b"));
    vfs.pipeline().drain();
    // Longer than the test's timeout: only the wake-ups let these calls return.
    vfs.pipeline().lingerForTesting(TimeUnit.SECONDS.toNanos(120));
    long fh = vfs.create(USER, "/empty.lock", 0644, Vfs.O_WRONLY);
    vfs.fsync(USER, fh); // drains the pipeline, which wakes the sender
    assertNotNull(committed("/", "empty.lock"));
    vfs.release(USER, fh);
    long fh2 = vfs.create(USER, "/a", 0644, Vfs.O_WRONLY);
    vfs.rename(USER, "/b", "/c", 0); // a synchronous op joins the lingering create
    assertNotNull(committed("/", "a"));
    assertNotNull(committed("/", "c"));
    vfs.release(USER, fh2);
  }

  @Test
  void aCreateThatLosesARaceElsewhereIsReportedByFsyncAndTheWinnerStays() {
    writeFile("/warm", bytes("x"));
    Vfs elsewhere = new Vfs(meta, blocks, new VfsConfig(4096, 4), tmp, () -> now += 1000).withNodeId("n2");
    java.util.List<String> stale = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    vfs.trackKernelCache(ino -> true, new Vfs.KernelStale() {
      @Override
      public void inode(long ino) {
        stale.add("inode " + ino);
      }

      @Override
      public void entry(long parent, byte[] name) {
        stale.add("entry " + parent + "/" + new String(name, java.nio.charset.StandardCharsets.UTF_8));
      }
    });
    try {
      gate.hold();
      long fh = vfs.create(USER, "/index.php", 0644, Vfs.O_WRONLY);
      long mine = vfs.fgetattr("/index.php", fh).ino();
      long other = elsewhere.create(USER, "/index.php", 0644, Vfs.O_WRONLY); // commits first
      elsewhere.write(other, bytes("theirs"), 6, 0);
      elsewhere.flush(USER, other);
      elsewhere.release(USER, other);
      vfs.write(fh, bytes("mine, lost"), 10, 0);
      gate.open();
      assertErrno(Errno.EIO, () -> vfs.fsync(USER, fh));
      vfs.release(USER, fh);
      assertEquals(1, vfs.writeBehindFailures());
      assertArrayEquals(bytes("theirs"), read("/index.php"), "the winner's file, untouched");
      assertTrue(stale.contains("inode " + mine) && stale.contains("entry 1/index.php"),
          "the kernel keeps the lost create's name and inode: " + stale);
    } finally {
      elsewhere.close();
    }
  }

  @Test
  void unlinkIsWrittenBehindAndANameCanBeReusedAtOnce() {
    writeFile("/warm", bytes("x"));
    writeFile("/cache.php", bytes("old"));
    writeFile("/held.log", bytes("still readable through its handle"));
    vfs.readdir("/", e -> {});
    long oldIno = vfs.getattr("/cache.php").ino();
    long heldIno = vfs.getattr("/held.log").ino();
    long held = vfs.open(USER, "/held.log", Vfs.O_RDONLY);
    gate.hold();
    vfs.unlink(USER, "/cache.php");
    assertErrno(Errno.ENOENT, () -> vfs.getattr("/cache.php"));
    assertErrno(Errno.ENOENT, () -> vfs.unlink(USER, "/cache.php"));
    assertNotNull(meta.lookup(Inode.ROOT_INO, bytes("cache.php")), "the log has not seen the unlink yet");
    writeFile("/cache.php", bytes("new"));
    vfs.unlink(USER, "/held.log");
    byte[] buf = new byte[64];
    assertEquals(33, vfs.read(held, buf, 64, 0), "an unlinked file stays readable while open");
    gate.open();
    vfs.readdir("/", e -> {});
    assertArrayEquals(bytes("new"), read("/cache.php"));
    assertNull(meta.getInode(oldIno), "the old inode is gone from the replica");
    assertEquals(0, meta.getInode(heldIno).nlink(), "kept as an orphan while open");
    vfs.release(USER, held);
    assertNull(meta.getInode(heldIno), "dropped on the last close");
    assertEquals(0, vfs.writeBehindFailures());
  }

  @Test
  void fsyncWaitsForTheCommit() throws Exception {
    writeFile("/warm", bytes("x"));
    gate.hold();
    long fh = vfs.create(USER, "/upload.jpg", 0644, Vfs.O_WRONLY);
    vfs.write(fh, bytes("jpeg"), 4, 0);
    CompletableFuture<Void> sync = CompletableFuture.runAsync(() -> vfs.fsync(USER, fh));
    Thread.sleep(200);
    assertFalse(sync.isDone(), "fsync returned while its commit was held back");
    assertNull(committed("/", "upload.jpg"));
    gate.open();
    sync.get(30, TimeUnit.SECONDS);
    assertEquals(4, meta.getInode(committed("/", "upload.jpg").ino()).size());
    vfs.release(USER, fh);
  }
}
