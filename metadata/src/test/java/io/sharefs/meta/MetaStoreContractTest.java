package io.sharefs.meta;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.meta.op.CommitWriteOp;
import io.sharefs.meta.op.CreateOp;
import io.sharefs.meta.op.ForgetOp;
import io.sharefs.meta.op.LinkOp;
import io.sharefs.meta.op.MetaOp;
import io.sharefs.meta.op.RemoveXattrOp;
import io.sharefs.meta.op.RenameOp;
import io.sharefs.meta.op.SetAttrOp;
import io.sharefs.meta.op.SetXattrOp;
import io.sharefs.meta.op.UnlinkOp;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One suite of metadata semantics, run against every MetaStore implementation. */
public abstract class MetaStoreContractTest {
  @TempDir protected Path tmp;
  protected MetaStore store;
  private long clock = System.currentTimeMillis() * 1_000_000L + 60_000_000_000L;

  protected abstract MetaStore open(Path dir) throws Exception;

  @BeforeEach
  void setUp() throws Exception {
    store = open(tmp.resolve("store"));
  }

  @AfterEach
  void tearDown() {
    if (store != null) {
      store.close();
    }
  }

  protected MetaResult run(MetaOp op) {
    clock += 1000;
    return store.submit(op.settle(clock, 1000, 1000));
  }

  protected Inode create(long parent, String name, int mode) {
    return run(new CreateOp(parent, name.getBytes(UTF_8), mode, 0, null)).orThrow();
  }

  protected Inode mkdir(long parent, String name) {
    return create(parent, name, FileMode.S_IFDIR | 0755);
  }

  protected Inode file(long parent, String name) {
    return create(parent, name, FileMode.S_IFREG | 0644);
  }

  private static byte[] b(String s) {
    return s.getBytes(UTF_8);
  }

  @Test
  void rootExists() {
    Inode root = store.getInode(Inode.ROOT_INO);
    assertNotNull(root);
    assertTrue(root.isDir());
    assertEquals(2, root.nlink());
  }

  @Test
  void createLookupAndOwnership() {
    Inode f = file(Inode.ROOT_INO, "a.php");
    assertEquals(1000, f.uid());
    assertEquals(1, f.nlink());
    Dentry d = store.lookup(Inode.ROOT_INO, b("a.php"));
    assertEquals(f.ino(), d.ino());
    assertEquals(FileMode.S_IFREG, d.type());
    assertEquals(Errno.EEXIST, run(new CreateOp(Inode.ROOT_INO, b("a.php"), FileMode.S_IFREG | 0644, 0, null)).errno());
    assertEquals(Errno.ENOENT, run(new CreateOp(999_999, b("x"), FileMode.S_IFREG, 0, null)).errno());
    assertEquals(Errno.ENOTDIR, run(new CreateOp(f.ino(), b("x"), FileMode.S_IFREG, 0, null)).errno());
  }

  @Test
  void namesAreChecked() {
    String longName = "x".repeat(256);
    assertEquals(Errno.ENAMETOOLONG, run(new CreateOp(Inode.ROOT_INO, b(longName), FileMode.S_IFREG, 0, null)).errno());
    assertEquals(0, run(new CreateOp(Inode.ROOT_INO, b("x".repeat(255)), FileMode.S_IFREG, 0, null)).errno());
    assertEquals(Errno.EINVAL, run(new CreateOp(Inode.ROOT_INO, b("a/b"), FileMode.S_IFREG, 0, null)).errno());
  }

  @Test
  void directoryLinkCountsAndParentTimes() {
    Inode root0 = store.getInode(Inode.ROOT_INO);
    Inode d = mkdir(Inode.ROOT_INO, "d");
    assertEquals(2, d.nlink());
    Inode root1 = store.getInode(Inode.ROOT_INO);
    assertEquals(3, root1.nlink());
    assertTrue(root1.mtimeNs() > root0.mtimeNs());
    mkdir(d.ino(), "sub");
    assertEquals(3, store.getInode(d.ino()).nlink());
    assertEquals(Errno.ENOTEMPTY, run(new UnlinkOp(Inode.ROOT_INO, b("d"), true, false)).errno());
    assertEquals(Errno.EISDIR, run(new UnlinkOp(Inode.ROOT_INO, b("d"), false, false)).errno());
    run(new UnlinkOp(d.ino(), b("sub"), true, false)).orThrow();
    run(new UnlinkOp(Inode.ROOT_INO, b("d"), true, false)).orThrow();
    assertEquals(2, store.getInode(Inode.ROOT_INO).nlink());
    assertNull(store.getInode(d.ino()));
  }

  @Test
  void hardLinksShareTheInode() {
    Inode f = file(Inode.ROOT_INO, "f");
    Inode linked = run(new LinkOp(f.ino(), Inode.ROOT_INO, b("g"))).orThrow();
    assertEquals(2, linked.nlink());
    assertEquals(Errno.EEXIST, run(new LinkOp(f.ino(), Inode.ROOT_INO, b("g"))).errno());
    Inode d = mkdir(Inode.ROOT_INO, "d");
    assertEquals(Errno.EPERM, run(new LinkOp(d.ino(), Inode.ROOT_INO, b("d2"))).errno());
    run(new UnlinkOp(Inode.ROOT_INO, b("f"), false, false)).orThrow();
    assertEquals(1, store.getInode(f.ino()).nlink());
    MetaResult last = run(new UnlinkOp(Inode.ROOT_INO, b("g"), false, false));
    assertEquals(f.ino(), last.releasedIno());
    assertNull(store.getInode(f.ino()));
  }

  @Test
  void unlinkOfOpenFileKeepsAnOrphanUntilForgotten() {
    Inode f = file(Inode.ROOT_INO, "open");
    run(new UnlinkOp(Inode.ROOT_INO, b("open"), false, true)).orThrow();
    assertNull(store.lookup(Inode.ROOT_INO, b("open")));
    Inode orphan = store.getInode(f.ino());
    assertEquals(0, orphan.nlink());
    assertEquals(List.of(f.ino()), store.orphans());
    run(new ForgetOp(f.ino())).orThrow();
    assertNull(store.getInode(f.ino()));
    assertTrue(store.orphans().isEmpty());
  }

  @Test
  void renameReplacesMovesAndRefusesLoops() {
    Inode a = mkdir(Inode.ROOT_INO, "a");
    Inode b = mkdir(Inode.ROOT_INO, "b");
    Inode f = file(a.ino(), "f");
    Inode g = file(b.ino(), "g");
    run(new RenameOp(a.ino(), b("f"), b.ino(), b("g"), 0, false)).orThrow();
    assertNull(store.lookup(a.ino(), b("f")));
    assertEquals(f.ino(), store.lookup(b.ino(), b("g")).ino());
    assertNull(store.getInode(g.ino()));

    Inode sub = mkdir(a.ino(), "sub");
    assertEquals(Errno.EINVAL, run(new RenameOp(Inode.ROOT_INO, b("a"), sub.ino(), b("x"), 0, false)).errno());
    assertEquals(Errno.EINVAL, run(new RenameOp(Inode.ROOT_INO, b("a"), a.ino(), b("x"), 0, false)).errno());
    // Directory over a non-empty directory, over a file, and a file over a directory.
    assertEquals(Errno.ENOTEMPTY, run(new RenameOp(a.ino(), b("sub"), Inode.ROOT_INO, b("b"), 0, false)).errno());
    assertEquals(Errno.ENOTDIR, run(new RenameOp(a.ino(), b("sub"), b.ino(), b("g"), 0, false)).errno());
    assertEquals(Errno.EISDIR, run(new RenameOp(b.ino(), b("g"), a.ino(), b("sub"), 0, false)).errno());
    // Moving a directory across parents moves a link count with it.
    run(new RenameOp(a.ino(), b("sub"), b.ino(), b("sub"), 0, false)).orThrow();
    assertEquals(2, store.getInode(a.ino()).nlink());
    assertEquals(3, store.getInode(b.ino()).nlink());
    assertEquals(b.ino(), store.getInode(sub.ino()).parent());
    // Over an empty directory.
    Inode empty = mkdir(Inode.ROOT_INO, "empty");
    run(new RenameOp(b.ino(), b("sub"), Inode.ROOT_INO, b("empty"), 0, false)).orThrow();
    assertNull(store.getInode(empty.ino()));
    assertEquals(sub.ino(), store.lookup(Inode.ROOT_INO, b("empty")).ino());
  }

  @Test
  void renameNoReplaceAndExchange() {
    Inode x = file(Inode.ROOT_INO, "x");
    Inode y = file(Inode.ROOT_INO, "y");
    assertEquals(Errno.EEXIST, run(new RenameOp(1, b("x"), 1, b("y"), RenameOp.NOREPLACE, false)).errno());
    run(new RenameOp(1, b("x"), 1, b("y"), RenameOp.EXCHANGE, false)).orThrow();
    assertEquals(y.ino(), store.lookup(1, b("x")).ino());
    assertEquals(x.ino(), store.lookup(1, b("y")).ino());
    assertEquals(Errno.ENOENT, run(new RenameOp(1, b("x"), 1, b("zz"), RenameOp.EXCHANGE, false)).errno());
  }

  @Test
  void setattrTruncatesBlocksAndStampsTimes() {
    Inode f = file(Inode.ROOT_INO, "big");
    byte[] h1 = new byte[32];
    h1[0] = 1;
    byte[] h2 = new byte[32];
    h2[0] = 2;
    long size = Layout.BLOCK_SIZE + 100;
    run(new CommitWriteOp(f.ino(), size, List.of(new BlockRef(h1, Layout.BLOCK_SIZE), new BlockRef(h2, 100)),
        new byte[0], 5_000_000_000L)).orThrow();
    Inode t = run(SetAttrOp.truncate(f.ino(), 10)).orThrow();
    assertEquals(10, t.size());
    assertEquals(List.of(new BlockRef(h1, 10)), t.blocks());
    Inode chmod = run(SetAttrOp.chmod(f.ino(), 04755)).orThrow();
    assertEquals(FileMode.S_IFREG | 04755, chmod.mode());
    Inode times = run(SetAttrOp.times(f.ino(), true, 42L, true, 43L)).orThrow();
    assertEquals(42L, times.atimeNs());
    assertEquals(43L, times.mtimeNs());
    assertTrue(times.ctimeNs() > chmod.ctimeNs());
    Inode d = mkdir(Inode.ROOT_INO, "dir");
    assertEquals(Errno.EISDIR, run(SetAttrOp.truncate(d.ino(), 0)).errno());
  }

  @Test
  void setgidDirectoriesPassOnTheirGroup() {
    Inode d = mkdir(Inode.ROOT_INO, "shared");
    run(SetAttrOp.chown(d.ino(), 0, 33)).orThrow();
    run(SetAttrOp.chmod(d.ino(), 02775)).orThrow();
    Inode f = file(d.ino(), "f");
    assertEquals(33, f.gid());
    Inode sub = mkdir(d.ino(), "sub");
    assertEquals(33, sub.gid());
    assertNotEquals(0, sub.mode() & FileMode.S_ISGID);
  }

  @Test
  void xattrsCreateReplaceRemove() {
    Inode f = file(Inode.ROOT_INO, "x");
    run(new SetXattrOp(f.ino(), b("user.a"), b("1"), SetXattrOp.CREATE)).orThrow();
    assertEquals(Errno.EEXIST, run(new SetXattrOp(f.ino(), b("user.a"), b("2"), SetXattrOp.CREATE)).errno());
    assertEquals(Errno.ENODATA, run(new SetXattrOp(f.ino(), b("user.b"), b("2"), SetXattrOp.REPLACE)).errno());
    run(new SetXattrOp(f.ino(), b("user.a"), b("3"), SetXattrOp.REPLACE)).orThrow();
    assertArrayEquals(b("3"), store.getXattr(f.ino(), b("user.a")));
    assertEquals(1, store.listXattrs(f.ino()).size());
    run(new RemoveXattrOp(f.ino(), b("user.a"))).orThrow();
    assertNull(store.getXattr(f.ino(), b("user.a")));
    assertEquals(Errno.ENODATA, run(new RemoveXattrOp(f.ino(), b("user.a"))).errno());
  }

  @Test
  void readdirListsInNameOrderAndResumes() {
    Inode d = mkdir(Inode.ROOT_INO, "d");
    for (String n : List.of("c", "a", "b")) {
      file(d.ino(), n);
    }
    List<String> names = new ArrayList<>();
    store.readdir(d.ino(), null, e -> names.add(new String(e.name(), UTF_8)));
    assertEquals(List.of("a", "b", "c"), names);
    names.clear();
    store.readdir(d.ino(), b("a"), e -> names.add(new String(e.name(), UTF_8)));
    assertEquals(List.of("b", "c"), names);
  }

  @Test
  void flockConflictsAcrossOwnersAndNodes() {
    Inode f = file(Inode.ROOT_INO, ".htaccess");
    assertEquals(0, run(new io.sharefs.meta.op.LockOp(f.ino(), "n1", 7, io.sharefs.meta.op.LockOp.SHARED)).errno());
    assertEquals(0, run(new io.sharefs.meta.op.LockOp(f.ino(), "n2", 7, io.sharefs.meta.op.LockOp.SHARED)).errno());
    assertEquals(Errno.EAGAIN,
        run(new io.sharefs.meta.op.LockOp(f.ino(), "n2", 9, io.sharefs.meta.op.LockOp.EXCLUSIVE)).errno());
    run(new io.sharefs.meta.op.LockOp(f.ino(), "n1", 7, io.sharefs.meta.op.LockOp.UNLOCK)).orThrow();
    // The remaining shared holder may upgrade itself.
    assertEquals(0, run(new io.sharefs.meta.op.LockOp(f.ino(), "n2", 7, io.sharefs.meta.op.LockOp.EXCLUSIVE)).errno());
    assertEquals(Errno.EAGAIN,
        run(new io.sharefs.meta.op.LockOp(f.ino(), "n1", 7, io.sharefs.meta.op.LockOp.SHARED)).errno());
    run(new io.sharefs.meta.op.ReleaseNodeLocksOp("n2")).orThrow();
    assertEquals(0, run(new io.sharefs.meta.op.LockOp(f.ino(), "n1", 7, io.sharefs.meta.op.LockOp.EXCLUSIVE)).errno());
  }

  @Test
  void inlineContentCommits() {
    Inode f = file(Inode.ROOT_INO, "small");
    Inode c = run(new CommitWriteOp(f.ino(), 5, List.of(), b("hello"), 7_000_000_000L)).orThrow();
    assertArrayEquals(b("hello"), store.getInode(f.ino()).inlineData());
    assertEquals(0, c.inlineData().length, "results carry no inline content; the replica does");
    assertEquals(5, c.size());
    assertEquals(7_000_000_000L, c.mtimeNs());
    assertEquals(f.version() + 1, c.version());
    Inode d = mkdir(Inode.ROOT_INO, "d");
    assertEquals(Errno.EINVAL, run(new CommitWriteOp(d.ino(), 1, List.of(), b("x"), 1)).errno());
  }
}
