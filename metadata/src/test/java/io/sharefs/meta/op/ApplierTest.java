package io.sharefs.meta.op;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sharefs.meta.Errno;
import io.sharefs.meta.FileMode;
import io.sharefs.meta.Inode;
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

  private static byte[] b(String s) {
    return s.getBytes(UTF_8);
  }
}
