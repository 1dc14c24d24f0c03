package io.sharefs.vfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.block.rocks.RocksBlockStore;
import io.sharefs.meta.Errno;
import io.sharefs.meta.FileMode;
import io.sharefs.meta.FsException;
import io.sharefs.meta.Inode;
import io.sharefs.meta.Layout;
import io.sharefs.meta.RecordLocks;
import io.sharefs.meta.client.LocalMetaStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** POSIX semantics at the VFS level, without a mount. */
class VfsTest {
  static final Ctx USER = new Ctx(1000, 1000, 1);
  @TempDir Path tmp;
  LocalMetaStore meta;
  RocksBlockStore blocks;
  Vfs vfs;
  long now = 1_700_000_000_000_000_000L;

  @BeforeEach
  void setUp() throws Exception {
    meta = LocalMetaStore.open(tmp.resolve("meta"));
    blocks = RocksBlockStore.open(tmp.resolve("blocks"));
    vfs = new Vfs(meta, blocks, new VfsConfig(4096, 4), tmp, () -> now += 1000);
  }

  @AfterEach
  void tearDown() {
    assertEquals(0, vfs.openHandles(), "leaked handles");
    vfs.close();
    meta.close();
    blocks.close();
  }

  static void assertErrno(int errno, Executable e) {
    FsException ex = assertThrows(FsException.class, e);
    assertEquals(Errno.name(errno), Errno.name(ex.errno()));
  }

  byte[] readAll(String path) {
    long fh = vfs.open(USER, path, Vfs.O_RDONLY);
    try {
      int size = (int) vfs.getattr(path).size();
      byte[] out = new byte[size];
      int n = vfs.read(fh, out, size, 0);
      assertEquals(size, n);
      return out;
    } finally {
      vfs.release(USER, fh);
    }
  }

  void writeFile(String path, byte[] data) {
    long fh = vfs.create(USER, path, 0644, Vfs.O_WRONLY);
    vfs.write(fh, data, data.length, 0);
    vfs.flush(USER, fh);
    vfs.release(USER, fh);
  }

  @Test
  void aSmallFileWrittenOnAfterFsyncKeepsItsFirstBytes() {
    // Commit replies carry no inline content (MetaOps.encodeResult); the open file must keep its own.
    long fh = vfs.create(USER, "/small.txt", 0644, Vfs.O_RDWR);
    vfs.write(fh, "hello".getBytes(), 5, 0);
    vfs.fsync(USER, fh);
    byte[] buf = new byte[5];
    assertEquals(5, vfs.read(fh, buf, 5, 0));
    assertArrayEquals("hello".getBytes(), buf);
    vfs.write(fh, " world".getBytes(), 6, 5);
    vfs.flush(USER, fh);
    vfs.release(USER, fh);
    assertArrayEquals("hello world".getBytes(), readAll("/small.txt"));
  }

  @Test
  void recordLocksConflictAcrossNodesAndReportTheHolder() {
    writeFile("/wp-config.php", new byte[100]);
    // A second node over the same replicated tables, as another cluster member would be.
    Vfs other = new Vfs(meta, blocks, new VfsConfig(4096, 4), tmp, () -> now += 1000).withNodeId("n2");
    vfs.withNodeId("n1");
    long a = vfs.open(USER, "/wp-config.php", Vfs.O_RDWR);
    long b = other.open(USER, "/wp-config.php", Vfs.O_RDWR);
    try {
      vfs.setRecordLock(USER, "/wp-config.php", a, 11, RecordLocks.WRITE, 0, 49, false);
      assertErrno(Errno.EAGAIN, () -> other.setRecordLock(USER, "/wp-config.php", b, 11, RecordLocks.READ, 40, 60,
          false));
      other.setRecordLock(USER, "/wp-config.php", b, 11, RecordLocks.WRITE, 50, RecordLocks.EOF, false);
      Vfs.LockConflict c = other.testRecordLock(USER, "/wp-config.php", b, 11, RecordLocks.READ, 0, 0);
      assertEquals(new Vfs.LockConflict(RecordLocks.WRITE, 0, 49, 0), c);
      assertEquals(new Vfs.LockConflict(RecordLocks.WRITE, 0, 49, 1),
          vfs.testRecordLock(USER, "/wp-config.php", a, 12, RecordLocks.READ, 0, 0), "same node: holder's pid");
      // An unlock for an owner without locks here never reaches the log.
      long before = meta.tables().appliedTermIndex()[1];
      other.setRecordLock(USER, "/wp-config.php", b, 99, RecordLocks.UNLOCK, 0, RecordLocks.EOF, false);
      assertEquals(before, meta.tables().appliedTermIndex()[1]);
      vfs.setRecordLock(USER, "/wp-config.php", a, 11, RecordLocks.UNLOCK, 0, RecordLocks.EOF, false);
      assertNull(other.testRecordLock(USER, "/wp-config.php", b, 11, RecordLocks.WRITE, 0, 49));
      assertErrno(Errno.EINVAL, () -> vfs.setRecordLock(USER, "/wp-config.php", a, 11, 7, 0, 1, false));
    } finally {
      vfs.release(USER, a);
      other.release(USER, b);
    }
  }

  /**
   * A read-only handle may skip FLUSH at close(); the fcntl locks taken through it, which FLUSH would
   * have dropped, go at release instead, unless their owner has locked through another handle since.
   * Writable handles, and any handle of a file this node has seen fcntl locks on, keep their FLUSH.
   */
  @Test
  void aHandleWithoutFlushDropsItsRecordLocksAtRelease() {
    writeFile("/readers.db", new byte[100]);
    writeFile("/other.db", new byte[100]);
    Vfs other = new Vfs(meta, blocks, new VfsConfig(4096, 4), tmp, () -> now += 1000).withNodeId("n2");
    vfs.withNodeId("n1");
    long writer = vfs.open(USER, "/readers.db", Vfs.O_RDWR);
    assertFalse(vfs.skipsFlush(writer), "a writable handle may have something to commit at close()");
    // libfuse's FLUSH unlocks the closing owner: that does not count as a use of fcntl locks
    vfs.setRecordLock(USER, "/readers.db", writer, 21, RecordLocks.UNLOCK, 0, RecordLocks.EOF, false);
    vfs.release(USER, writer);
    long reader = vfs.open(USER, "/readers.db", Vfs.O_RDONLY);
    assertTrue(vfs.skipsFlush(reader));
    vfs.setRecordLock(USER, "/readers.db", reader, 21, RecordLocks.READ, 0, RecordLocks.EOF, false);
    long again = vfs.open(USER, "/readers.db", Vfs.O_RDONLY);
    assertFalse(vfs.skipsFlush(again), "a file with fcntl locks keeps FLUSH");
    vfs.release(USER, again);
    long b = other.open(USER, "/readers.db", Vfs.O_RDWR);
    try {
      assertErrno(Errno.EAGAIN, () -> other.setRecordLock(USER, "/readers.db", b, 5, RecordLocks.WRITE, 0, 9, false));
      vfs.release(USER, reader); // the process closed its descriptor without unlocking, and no FLUSH came
      other.setRecordLock(USER, "/readers.db", b, 5, RecordLocks.WRITE, 0, RecordLocks.EOF, false);
    } finally {
      other.release(USER, b);
    }

    // Lock through one read-only handle, unlock, close; lock through another: the first handle's
    // late RELEASE must leave the new lock alone.
    long first = vfs.open(USER, "/other.db", Vfs.O_RDONLY);
    assertTrue(vfs.skipsFlush(first));
    vfs.setRecordLock(USER, "/other.db", first, 31, RecordLocks.READ, 0, 9, false);
    vfs.setRecordLock(USER, "/other.db", first, 31, RecordLocks.UNLOCK, 0, 9, false);
    long second = vfs.open(USER, "/other.db", Vfs.O_RDWR);
    vfs.setRecordLock(USER, "/other.db", second, 31, RecordLocks.WRITE, 0, RecordLocks.EOF, false);
    vfs.release(USER, first);
    long c = other.open(USER, "/other.db", Vfs.O_RDWR);
    try {
      assertErrno(Errno.EAGAIN, () -> other.setRecordLock(USER, "/other.db", c, 5, RecordLocks.READ, 0, 9, false));
    } finally {
      other.release(USER, c);
      vfs.release(USER, second);
    }
  }

  @Test
  void smallAndLargeFilesRoundTrip() {
    byte[] small = "<?php echo 1;".getBytes(StandardCharsets.UTF_8);
    writeFile("/small.php", small);
    assertArrayEquals(small, readAll("/small.php"));
    assertTrue(meta.getInode(vfs.resolve("/small.php").ino()).blocks().isEmpty(), "small files are inline");

    byte[] big = new byte[3 * Layout.BLOCK_SIZE + 12345];
    new Random(7).nextBytes(big);
    long fh = vfs.create(USER, "/big.bin", 0644, Vfs.O_WRONLY);
    for (int off = 0; off < big.length; off += 131072) {
      int n = Math.min(131072, big.length - off);
      vfs.write(fh, Arrays.copyOfRange(big, off, off + n), n, off);
    }
    vfs.release(USER, fh);
    assertArrayEquals(big, readAll("/big.bin"));
    assertEquals(4, meta.getInode(vfs.resolve("/big.bin").ino()).blocks().size());
  }

  @Test
  void sparseWritesReadZerosInTheHoles() {
    long fh = vfs.create(USER, "/sparse", 0644, Vfs.O_RDWR);
    byte[] x = {1, 2, 3};
    long far = 5L * Layout.BLOCK_SIZE + 17;
    vfs.write(fh, x, 3, far);
    vfs.flush(USER, fh);
    Inode i = vfs.getattr("/sparse");
    assertEquals(far + 3, i.size());
    byte[] buf = new byte[64];
    assertEquals(64, vfs.read(fh, buf, 64, 2L * Layout.BLOCK_SIZE));
    assertArrayEquals(new byte[64], buf);
    assertEquals(3, vfs.read(fh, buf, 64, far));
    assertArrayEquals(x, Arrays.copyOf(buf, 3));
    long stored = meta.getInode(i.ino()).blocks().stream().filter(b -> !b.isHole()).count();
    assertEquals(1, stored, "holes take no blocks");
    vfs.release(USER, fh);
  }

  @Test
  void truncateShrinksAndGrowsWithZeros() {
    byte[] data = new byte[10000];
    Arrays.fill(data, (byte) 7);
    writeFile("/t", data);
    vfs.truncate(USER, "/t", 100);
    assertArrayEquals(Arrays.copyOf(data, 100), readAll("/t"));
    vfs.truncate(USER, "/t", 5000);
    byte[] grown = readAll("/t");
    assertArrayEquals(Arrays.copyOf(data, 100), Arrays.copyOf(grown, 100));
    assertArrayEquals(new byte[4900], Arrays.copyOfRange(grown, 100, 5000));
    // ftruncate on an open handle with pending writes.
    long fh = vfs.open(USER, "/t", Vfs.O_RDWR);
    vfs.write(fh, new byte[] {9, 9}, 2, 4998);
    vfs.ftruncate(USER, "/t", fh, 4999);
    vfs.release(USER, fh);
    byte[] after = readAll("/t");
    assertEquals(4999, after.length);
    assertEquals(9, after[4998]);
    assertErrno(Errno.EISDIR, () -> vfs.truncate(USER, "/", 0));
  }

  @Test
  void appendAndTruncOnOpen() {
    writeFile("/log", "a".getBytes());
    long fh = vfs.open(USER, "/log", Vfs.O_WRONLY | Vfs.O_APPEND);
    vfs.write(fh, "b".getBytes(), 1, 0); // offset ignored under O_APPEND
    vfs.release(USER, fh);
    assertArrayEquals("ab".getBytes(), readAll("/log"));
    long t = vfs.open(USER, "/log", Vfs.O_WRONLY | Vfs.O_TRUNC);
    vfs.release(USER, t);
    assertEquals(0, vfs.getattr("/log").size());
  }

  @Test
  void twoHandlesShareContentBeforeClose() {
    long w = vfs.create(USER, "/shared", 0644, Vfs.O_RDWR);
    long r = vfs.open(USER, "/shared", Vfs.O_RDONLY);
    vfs.write(w, "hello".getBytes(), 5, 0);
    byte[] buf = new byte[5];
    assertEquals(5, vfs.read(r, buf, 5, 0));
    assertArrayEquals("hello".getBytes(), buf);
    assertEquals(5, vfs.fgetattr("/shared", r).size());
    assertErrno(Errno.EBADF, () -> vfs.write(r, buf, 1, 0));
    vfs.release(USER, w);
    vfs.release(USER, r);
  }

  @Test
  void unlinkedOpenFileStaysUsableUntilLastClose() {
    writeFile("/victim", "data".getBytes());
    long fh = vfs.open(USER, "/victim", Vfs.O_RDWR);
    long ino = vfs.resolve("/victim").ino();
    vfs.unlink(USER, "/victim");
    assertErrno(Errno.ENOENT, () -> vfs.getattr("/victim"));
    vfs.write(fh, "more".getBytes(), 4, 4);
    vfs.flush(USER, fh);
    byte[] buf = new byte[8];
    assertEquals(8, vfs.read(fh, buf, 8, 0));
    assertArrayEquals("datamore".getBytes(), buf);
    assertEquals(0, vfs.fgetattr("/victim", fh).nlink());
    vfs.release(USER, fh);
    assertEquals(null, meta.getInode(ino), "orphan dropped after the last close");
    assertTrue(meta.orphans().isEmpty());
  }

  @Test
  void renameOverOpenTargetKeepsItReadable() {
    writeFile("/old", "old".getBytes());
    writeFile("/new", "new".getBytes());
    long fh = vfs.open(USER, "/old", Vfs.O_RDONLY);
    vfs.rename(USER, "/new", "/old", 0);
    byte[] buf = new byte[3];
    vfs.read(fh, buf, 3, 0);
    assertArrayEquals("old".getBytes(), buf);
    vfs.release(USER, fh);
    assertArrayEquals("new".getBytes(), readAll("/old"));
  }

  @Test
  void namespaceErrorsMatchExt4() {
    vfs.mkdir(USER, "/d", 0755);
    writeFile("/d/f", new byte[0]);
    assertErrno(Errno.EEXIST, () -> vfs.mkdir(USER, "/d", 0755));
    assertErrno(Errno.ENOENT, () -> vfs.mkdir(USER, "/nope/x", 0755));
    assertErrno(Errno.ENOTDIR, () -> vfs.mkdir(USER, "/d/f/x", 0755));
    assertErrno(Errno.ENOTEMPTY, () -> vfs.rmdir(USER, "/d"));
    assertErrno(Errno.ENOTDIR, () -> vfs.rmdir(USER, "/d/f"));
    assertErrno(Errno.EISDIR, () -> vfs.unlink(USER, "/d"));
    assertErrno(Errno.EINVAL, () -> vfs.rename(USER, "/d", "/d/sub", 0));
    assertErrno(Errno.ENAMETOOLONG, () -> vfs.mknod(USER, "/" + "n".repeat(256), FileMode.S_IFREG | 0644, 0));
    vfs.mknod(USER, "/" + "n".repeat(255), FileMode.S_IFREG | 0644, 0);
    assertErrno(Errno.ENAMETOOLONG, () -> vfs.getattr("/" + "a/".repeat(2100)));
    assertErrno(Errno.EPERM, () -> vfs.link(USER, "/d", "/dlink"));
    assertErrno(Errno.EINVAL, () -> vfs.readlink("/d/f"));
  }

  @Test
  void symlinksFifosAndReaddir() {
    vfs.symlink(USER, "target/file.php", "/ln");
    assertArrayEquals("target/file.php".getBytes(), vfs.readlink("/ln"));
    assertEquals(FileMode.S_IFLNK, vfs.getattr("/ln").type());
    assertEquals(15, vfs.getattr("/ln").size());
    vfs.mknod(USER, "/fifo", FileMode.S_IFIFO | 0600, 0);
    assertEquals(FileMode.S_IFIFO, vfs.getattr("/fifo").type());
    List<String> names = new ArrayList<>();
    vfs.readdir("/", e -> names.add(e.name()));
    assertEquals(List.of(".", "..", "fifo", "ln"), names);
  }

  @Test
  void xattrNamespaces() {
    writeFile("/x", new byte[0]);
    vfs.setxattr(USER, "/x", "user.wp", "1".getBytes(), 0);
    assertArrayEquals("1".getBytes(), vfs.getxattr("/x", "user.wp"));
    assertEquals(List.of("user.wp"), vfs.listxattr("/x"));
    assertErrno(Errno.ENODATA, () -> vfs.getxattr("/x", "user.none"));
    assertErrno(Errno.ENODATA, () -> vfs.getxattr("/x", "security.capability"));
    assertErrno(Errno.ENOTSUP, () -> vfs.setxattr(USER, "/x", "system.posix_acl_access", new byte[4], 0));
    vfs.symlink(USER, "x", "/sl");
    assertErrno(Errno.EPERM, () -> vfs.setxattr(USER, "/sl", "user.a", new byte[1], 0));
    vfs.removexattr(USER, "/x", "user.wp");
    assertTrue(vfs.listxattr("/x").isEmpty());
  }

  @Test
  void withoutXattrsEveryXattrCallIsENOSYSAndNothingIsStored() {
    writeFile("/x", new byte[0]);
    vfs.setxattr(USER, "/x", "user.kept", "1".getBytes(), 0);
    Vfs off = new Vfs(meta, blocks, new VfsConfig(4096, 4).withXattrs(false), tmp, () -> now += 1000);
    long before = meta.tables().appliedTermIndex()[1];
    assertErrno(Errno.ENOSYS, () -> off.getxattr("/x", "security.capability"));
    assertErrno(Errno.ENOSYS, () -> off.getxattr("/x", "user.kept"));
    assertErrno(Errno.ENOSYS, () -> off.listxattr("/x"));
    assertErrno(Errno.ENOSYS, () -> off.setxattr(USER, "/x", "user.new", new byte[1], 0));
    assertErrno(Errno.ENOSYS, () -> off.removexattr(USER, "/x", "user.kept"));
    assertEquals(before, meta.tables().appliedTermIndex()[1], "nothing reached the log");
    assertArrayEquals("1".getBytes(), vfs.getxattr("/x", "user.kept"), "a node with xattrs still sees them");
    off.close();
  }

  @Test
  void timesFollowPosix() {
    writeFile("/f", "1".getBytes());
    Inode before = vfs.getattr("/f");
    long fh = vfs.open(USER, "/f", Vfs.O_WRONLY);
    vfs.write(fh, "2".getBytes(), 1, 0);
    vfs.release(USER, fh);
    Inode written = vfs.getattr("/f");
    assertTrue(written.mtimeNs() > before.mtimeNs());
    assertTrue(written.ctimeNs() >= written.mtimeNs());
    vfs.chmod(USER, "/f", 0600);
    Inode chmodded = vfs.getattr("/f");
    assertEquals(written.mtimeNs(), chmodded.mtimeNs(), "chmod leaves mtime");
    assertTrue(chmodded.ctimeNs() > written.ctimeNs(), "chmod bumps ctime");
    vfs.utimens(USER, "/f", 100, 5, 200, Vfs.UTIME_OMIT);
    Inode t = vfs.getattr("/f");
    assertEquals(100_000_000_005L, t.atimeNs());
    assertEquals(chmodded.mtimeNs(), t.mtimeNs());
  }

  @Test
  void tarStyleFutimensBeforeCloseSticks() {
    long fh = vfs.create(USER, "/tar", 0600, Vfs.O_WRONLY);
    vfs.write(fh, "hi\n".getBytes(), 3, 0);
    vfs.utimens(USER, "/tar", 0, Vfs.UTIME_OMIT, 1_577_836_800L, 0);
    vfs.chown(USER, "/tar", 0, 0);
    vfs.chmod(USER, "/tar", 0644);
    vfs.flush(USER, fh);
    vfs.release(USER, fh);
    assertEquals(1_577_836_800_000_000_000L, vfs.getattr("/tar").mtimeNs());
  }

  @Test
  void attributesSetWhileWritingRideWithTheContentCommit() {
    long before = Math.max(0, meta.tables().appliedTermIndex()[1]);
    long fh = vfs.create(USER, "/plugin.php", 0600, Vfs.O_WRONLY);
    vfs.write(fh, "<?php".getBytes(), 5, 0);
    vfs.utimens(USER, "/plugin.php", 0, Vfs.UTIME_OMIT, 1_600_000_000L, 0);
    vfs.chown(USER, "/plugin.php", 33, 33);
    vfs.chmod(USER, "/plugin.php", 0644);
    Inode seen = vfs.getattr("/plugin.php");
    assertEquals(FileMode.S_IFREG | 0644, seen.mode(), "pending chmod visible at once");
    assertEquals(33, seen.uid());
    vfs.flush(USER, fh);
    vfs.release(USER, fh);
    assertEquals(2, meta.tables().appliedTermIndex()[1] - before, "create + one commit");
    Inode stored = meta.getInode(seen.ino());
    assertEquals(FileMode.S_IFREG | 0644, stored.mode());
    assertEquals(33, stored.uid());
    assertEquals(33, stored.gid());
    assertEquals(1_600_000_000_000_000_000L, stored.mtimeNs());
    assertArrayEquals("<?php".getBytes(), readAll("/plugin.php"));
    // A write after futimens moves mtime on again.
    long fh2 = vfs.open(USER, "/plugin.php", Vfs.O_WRONLY);
    vfs.write(fh2, "x".getBytes(), 1, 5);
    vfs.utimens(USER, "/plugin.php", 0, Vfs.UTIME_OMIT, 5, 0);
    vfs.write(fh2, "y".getBytes(), 1, 6);
    vfs.release(USER, fh2);
    assertTrue(meta.getInode(seen.ino()).mtimeNs() > 1_600_000_000_000_000_000L);
  }

  @Test
  void corruptBlockGivesEioNotWrongBytes() {
    byte[] big = new byte[100_000];
    new Random(3).nextBytes(big);
    writeFile("/c", big);
    byte[] hash = meta.getInode(vfs.resolve("/c").ino()).blocks().get(0).hash();
    blocks.putRawForTesting(hash, new byte[100_000]);
    long fh = vfs.open(USER, "/c", Vfs.O_RDONLY);
    try {
      assertErrno(Errno.EIO, () -> vfs.read(fh, new byte[10], 10, 0));
    } finally {
      vfs.release(USER, fh);
    }
  }

  @Test
  void orphansLeftByACrashAreDroppedAtStart() {
    writeFile("/o", "x".getBytes());
    long ino = vfs.resolve("/o").ino();
    vfs.open(USER, "/o", Vfs.O_RDONLY); // never released: as if the process died
    vfs.unlink(USER, "/o");
    Vfs restarted = new Vfs(meta, blocks, VfsConfig.defaults(), tmp);
    restarted.recoverOrphans();
    assertEquals(null, meta.getInode(ino));
    vfs = restarted; // the old instance's handle died with it
  }
}
