package io.sharefs.meta.op;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.meta.Errno;
import io.sharefs.meta.FileMode;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.table.MetaTables;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApplierTest {
  @TempDir Path tmp;

  /** The same log applied on two replicas yields byte-identical tables (inode numbers from the index). */
  @Test
  void applyIsDeterministic() throws Exception {
    List<byte[]> log = new ArrayList<>();
    log.add(new CreateOp(1, b("d"), FileMode.S_IFDIR | 0755, 0, null).settle(10, 1, 1).toProto().toByteArray());
    log.add(new CreateOp(1, b("f"), FileMode.S_IFREG | 0644, 0, null).settle(11, 1, 1).toProto().toByteArray());
    log.add(new RenameOp(1, b("f"), 1, b("g"), 0, false).settle(12, 1, 1).toProto().toByteArray());
    log.add(new byte[] {(byte) 0xff, 0x01}); // garbage: a user error on every replica alike
    log.add(new LinkOp(0, 1, b("h")).settle(13, 1, 1).toProto().toByteArray());
    List<List<String>> dumps = new ArrayList<>();
    for (String replica : List.of("a", "b")) {
      try (MetaTables t = MetaTables.open(tmp.resolve(replica))) {
        t.ensureRoot(1);
        Applier applier = new Applier(t);
        List<Integer> errnos = new ArrayList<>();
        for (int i = 0; i < log.size(); i++) {
          errnos.add(applier.apply(1, i + 5, log.get(i)).errno());
        }
        assertEquals(List.of(0, 0, 0, Errno.EINVAL, Errno.ENOENT), errnos);
        List<String> dump = new ArrayList<>();
        t.forEachInode(i -> dump.add(i.toProto().toString()));
        t.listDir(1, null, d -> dump.add(new String(d.name(), UTF_8) + "->" + d.ino()));
        dump.add(java.util.Arrays.toString(t.appliedTermIndex()));
        dumps.add(dump);
      }
    }
    assertEquals(dumps.get(0), dumps.get(1));
  }

  /** What a listener hears: "i:ino", "e:parent/name", "d:ino". */
  static final class Heard implements io.sharefs.meta.ChangeListener {
    final List<String> events = new ArrayList<>();

    @Override
    public void inodeChanged(long ino) {
      events.add("i:" + ino);
    }

    @Override
    public void entryChanged(long parent, byte[] name) {
      events.add("e:" + parent + "/" + new String(name, UTF_8));
    }

    @Override
    public void inodeDeleted(long ino) {
      events.add("d:" + ino);
    }

    @Override
    public void everythingChanged() {
      events.add("all");
    }

    List<String> take() {
      List<String> out = new ArrayList<>(events);
      java.util.Collections.sort(out);
      events.clear();
      return out;
    }
  }

  /**
   * Another node's entry reports every inode and name it wrote; this node's own reports only the inodes
   * it deleted (its kernel asked for the rest), unless the op changes things behind the kernel's back.
   */
  @Test
  void reportsWhatAnEntryChangedExceptWhatTheKernelAskedFor() throws Exception {
    try (MetaTables t = MetaTables.open(tmp.resolve("r"))) {
      t.ensureRoot(1);
      Applier applier = new Applier(t);
      Heard heard = new Heard();
      long f = applier.apply(1, 5, new CreateOp(1, b("f"), FileMode.S_IFREG | 0644, 0, null).settle(1, 0, 0)
          .toProto().toByteArray(), false, heard).inode().ino();
      assertEquals(List.of("i:1", "i:" + f), heard.take(), "a file made on another node: no kernel holds its name");
      applier.apply(1, 6, new RenameOp(1, b("f"), 1, b("g"), 0, false).settle(2, 0, 0).toProto().toByteArray(),
          true, heard);
      assertEquals(List.of(), heard.take(), "a rename this node's kernel asked for");
      applier.apply(1, 7, new UnlinkOp(1, b("g"), false, false).settle(3, 0, 0).toProto().toByteArray(), true,
          heard);
      assertEquals(List.of("d:" + f), heard.take(), "a delete this node's kernel asked for: the inode is gone");
      long g = applier.apply(1, 10, new CreateOp(1, b("g"), FileMode.S_IFREG | 0644, 0, null).settle(6, 0, 0)
          .toProto().toByteArray(), false, heard).inode().ino();
      heard.take();
      applier.apply(1, 11, new RenameOp(1, b("g"), 1, b("k"), 0, false).settle(7, 0, 0).toProto().toByteArray(),
          false, heard);
      assertEquals(List.of("e:1/g", "i:1", "i:" + g), heard.take(), "another node's rename: the old name goes");
      long x = applier.apply(1, 12, new CreateOp(1, b("x"), FileMode.S_IFREG | 0644, 0, null).settle(8, 0, 0)
          .toProto().toByteArray(), false, heard).inode().ino();
      heard.take();
      applier.apply(1, 13, new RenameOp(1, b("x"), 1, b("k"), 0, false).settle(9, 0, 0).toProto().toByteArray(),
          false, heard);
      assertEquals(List.of("d:" + g, "e:1/k", "e:1/x", "i:1", "i:" + g, "i:" + x), heard.take(),
          "a rename over an existing name: both names, and the replaced inode is gone");
      BatchOp batch = new BatchOp(List.of(
          new CreateOp(1, b("tmp"), FileMode.S_IFREG | 0644, 0, null),
          new RenameOp(1, b("tmp"), 1, b("final"), 0, false)));
      applier.apply(1, 14, batch.settle(10, 0, 0).toProto().toByteArray(), false, heard);
      List<String> seen = heard.take();
      assertTrue(seen.stream().noneMatch(e -> e.startsWith("e:")), "names made within the entry: " + seen);
      long h = applier.apply(1, 8, new CreateOp(1, b("h"), FileMode.S_IFREG | 0644, 0, null).settle(4, 0, 0)
          .toProto().toByteArray(), true, heard).inode().ino();
      assertEquals(List.of(), heard.take());
      applier.apply(1, 9, RepairOp.setNlink(h, 2).settle(5, 0, 0).toProto().toByteArray(), true, heard);
      assertEquals(List.of("i:" + h), heard.take(), "fsck's repair, even from this node, changes what the kernel holds");
    }
  }

  @Test
  void inodeNumbersComeFromTheLogIndex() throws Exception {
    try (MetaTables t = MetaTables.open(tmp.resolve("c"))) {
      t.ensureRoot(1);
      Inode f = new Applier(t).apply(3, 41,
          new CreateOp(1, b("x"), FileMode.S_IFREG, 0, null).settle(1, 0, 0).toProto().toByteArray()).orThrow();
      assertEquals((41L + 1) << 8, f.ino());
      assertArrayEquals(new long[] {3, 41}, t.appliedTermIndex());
    }
  }

  /**
   * A batch entry applies its ops in order, each with its own result; reservations hand out disjoint
   * ranges even within one entry; a proposer-named create is idempotent when applied again and refuses
   * a number outside the reserved space or already taken.
   */
  @Test
  void batchesReservationsAndProposerNamedInodes() throws Exception {
    try (MetaTables t = MetaTables.open(tmp.resolve("d"))) {
      t.ensureRoot(1);
      Applier applier = new Applier(t);
      long first = ReserveInosOp.FIRST;
      MetaOp batch = new BatchOp(List.of(
          new ReserveInosOp(100).settle(1, 0, 0),
          new ReserveInosOp(50).settle(1, 0, 0),
          new CreateOp(1, b("a"), FileMode.S_IFDIR | 0755, 0, null, first).settle(2, 5, 5),
          new CreateOp(1, b("a"), FileMode.S_IFREG | 0644, 0, null, first + 1).settle(3, 5, 5),
          new CreateOp(first, b("f"), FileMode.S_IFREG | 0644, 0, null, first + 2).settle(4, 5, 5),
          new CreateOp(first, b("g"), FileMode.S_IFREG | 0644, 0, null, 7).settle(4, 5, 5),
          new CreateOp(first, b("h"), FileMode.S_IFREG | 0644, 0, null, first + 2).settle(4, 5, 5)));
      MetaResult r = applier.apply(1, 9, MetaOps.decode(batch.settle(0, 0, 0).toProto().toByteArray()));
      assertEquals(List.of(0, 0, 0, Errno.EEXIST, 0, Errno.EINVAL, Errno.EINVAL),
          r.batch().stream().map(MetaResult::errno).toList());
      assertEquals(first, r.batch().get(0).value());
      assertEquals(first + 100, r.batch().get(1).value(), "the second reservation follows the first");
      assertEquals(first + 2, t.getDentry(first, b("f")).ino(), "the file went into the directory created before it");
      assertEquals(2, t.getInode(first).nlink(), "a directory with no subdirectories");
      assertEquals(first + 150, applier.apply(1, 10, new ReserveInosOp(1).settle(5, 0, 0)).value());
      // The same create applied again (a retried proposal) answers with the inode it made.
      MetaResult again = applier.apply(1, 11,
          new CreateOp(first, b("f"), FileMode.S_IFREG | 0644, 0, null, first + 2).settle(4, 5, 5));
      assertEquals(0, again.errno());
      assertEquals(first + 2, again.inode().ino());
    }
  }

  private static byte[] b(String s) {
    return s.getBytes(UTF_8);
  }
}
