package io.sharefs.meta.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.meta.FileMode;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.client.LocalMetaStore;
import io.sharefs.meta.op.CreateOp;
import io.sharefs.meta.op.MetaOp;
import io.sharefs.meta.op.RepairOp;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetaCheckTest {
  @TempDir Path tmp;
  LocalMetaStore meta;
  long now = 1;

  @BeforeEach
  void open() throws Exception {
    meta = LocalMetaStore.open(tmp.resolve("meta"));
  }

  @AfterEach
  void close() {
    meta.close();
  }

  private Inode submit(MetaOp op) {
    MetaResult r = meta.submit(op.settle(now++, 0, 0));
    assertEquals(0, r.errno(), "errno");
    return r.inode();
  }

  private static byte[] n(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private List<String> kinds(MetaCheck.Result r) {
    return r.findings().stream().map(MetaCheck.Finding::kind).sorted().toList();
  }

  @Test
  void aHealthyTreeHasNoFindings() {
    Inode dir = submit(new CreateOp(Inode.ROOT_INO, n("wp-content"), FileMode.S_IFDIR | 0755, 0, null));
    submit(new CreateOp(dir.ino(), n("index.php"), FileMode.S_IFREG | 0644, 0, null));
    MetaCheck.Result r = MetaCheck.run(meta.tables(), x -> {});
    assertEquals(List.of(), r.findings());
    assertEquals(3, r.inodes());
    assertEquals(2, r.dentries());
  }

  @Test
  void findsDanglingEntriesUnreachableInodesAndWrongLinkCountsAndRepairsThem() {
    Inode dir = submit(new CreateOp(Inode.ROOT_INO, n("uploads"), FileMode.S_IFDIR | 0755, 0, null));
    Inode lost = submit(new CreateOp(dir.ino(), n("photo.jpg"), FileMode.S_IFREG | 0644, 0, null));
    Inode sub = submit(new CreateOp(dir.ino(), n("2026"), FileMode.S_IFDIR | 0755, 0, null));
    Inode inSub = submit(new CreateOp(sub.ino(), n("a.txt"), FileMode.S_IFREG | 0644, 0, null));
    meta.tables().deleteInodeForTesting(sub.ino()); // "2026" now dangles; a.txt is unreachable
    MetaCheck.Result r = MetaCheck.run(meta.tables(), x -> {});
    // "2026" names a missing inode, "a.txt" is an entry of a missing directory, a.txt is unreachable,
    // and uploads counts a subdirectory it no longer has.
    assertEquals(List.of(MetaCheck.DANGLING_DENTRY, MetaCheck.DANGLING_DENTRY, MetaCheck.UNREACHABLE_INODE,
        MetaCheck.WRONG_NLINK), kinds(r), r.findings().toString());

    Inode lf = submit(new CreateOp(Inode.ROOT_INO, n("lost+found"), FileMode.S_IFDIR | 0700, 0, null));
    for (MetaCheck.Finding f : r.findings()) {
      switch (f.kind()) {
        case MetaCheck.DANGLING_DENTRY -> submit(RepairOp.dropDentry(f.parent(), f.name()));
        case MetaCheck.UNREACHABLE_INODE -> submit(RepairOp.attach(f.ino(), lf.ino(), n("#" + f.ino())));
        case MetaCheck.WRONG_NLINK -> {
          assertEquals(dir.ino(), f.ino());
          submit(RepairOp.setNlink(f.ino(), f.expectedNlink()));
        }
        default -> throw new AssertionError(f);
      }
    }
    assertEquals(List.of(), MetaCheck.run(meta.tables(), x -> {}).findings());
    assertEquals(inSub.ino(), meta.lookup(lf.ino(), n("#" + inSub.ino())).ino());
    assertTrue(meta.getInode(lost.ino()) != null);
  }

  @Test
  void aRepairDecidedOnAStaleViewDoesNothing() {
    Inode f = submit(new CreateOp(Inode.ROOT_INO, n("ok.txt"), FileMode.S_IFREG | 0644, 0, null));
    MetaResult r = meta.submit(RepairOp.dropDentry(Inode.ROOT_INO, n("ok.txt")).settle(now++, 0, 0));
    assertEquals(io.sharefs.meta.Errno.ESTALE, r.errno());
    assertEquals(f.ino(), meta.lookup(Inode.ROOT_INO, n("ok.txt")).ino());
  }
}
