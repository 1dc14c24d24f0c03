package io.sharefs.meta.table;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.meta.FileMode;
import io.sharefs.meta.Inode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The read cache of inodes and entries never serves what a commit has replaced. */
class MetaTablesCacheTest {
  @TempDir Path tmp;
  long index;

  private void write(MetaTables t, long ino, long size, String name) {
    try (Txn txn = t.begin()) {
      Inode.Builder b = new Inode.Builder();
      b.ino = ino;
      b.mode = FileMode.S_IFREG | 0644;
      b.nlink = 1;
      b.size = size;
      txn.putInode(b.build());
      if (name != null) {
        txn.putDentry(Inode.ROOT_INO, name.getBytes(StandardCharsets.UTF_8), ino, b.mode);
      }
      txn.commit(1, ++index);
    }
  }

  @Test
  void readsAreCachedUntilACommitChangesThem() throws Exception {
    try (MetaTables t = MetaTables.open(tmp)) {
      write(t, 10, 1, "a");
      Inode first = t.getInode(10);
      assertSame(first, t.getInode(10), "second read comes from the cache");
      assertEquals(10, t.getDentry(Inode.ROOT_INO, "a".getBytes()).ino());
      write(t, 10, 2, null);
      assertEquals(2, t.getInode(10).size());
      try (Txn txn = t.begin()) {
        txn.deleteDentry(Inode.ROOT_INO, "a".getBytes());
        txn.deleteInode(10);
        txn.commit(1, ++index);
      }
      assertNull(t.getInode(10));
      assertNull(t.getDentry(Inode.ROOT_INO, "a".getBytes()));
      t.deleteInodeForTesting(Inode.ROOT_INO);
      assertNull(t.getInode(Inode.ROOT_INO));
    }
  }

  @Test
  void aCommitLeavesWhatItWroteInTheCache() throws Exception {
    try (MetaTables t = MetaTables.open(tmp)) {
      Inode.Builder b = new Inode.Builder();
      b.ino = 30;
      b.mode = FileMode.S_IFREG | 0644;
      b.nlink = 1;
      Inode written = b.build();
      try (Txn txn = t.begin()) {
        txn.putInode(written);
        txn.putDentry(Inode.ROOT_INO, "new".getBytes(StandardCharsets.UTF_8), 30, written.mode());
        txn.commit(1, ++index);
      }
      assertSame(written, t.getInode(30), "served from the commit, not decoded from RocksDB");
      assertEquals(30, t.getDentry(Inode.ROOT_INO, "new".getBytes(StandardCharsets.UTF_8)).ino());
      assertEquals(1, t.cacheStats().dentries());
    }
  }

  @Test
  void readsAreCachedAfterAReopen() throws Exception {
    try (MetaTables t = MetaTables.open(tmp)) {
      write(t, 40, 3, "r");
    }
    try (MetaTables t = MetaTables.open(tmp)) {
      Inode first = t.getInode(40);
      assertEquals(3, first.size());
      assertSame(first, t.getInode(40), "second read comes from the cache");
    }
  }

  @Test
  void inlineContentInTheCacheStaysWithinItsBudget() throws Exception {
    try (MetaTables t = MetaTables.open(tmp)) {
      t.ensureRoot(1);
      Inode dir = t.getInode(Inode.ROOT_INO);
      assertEquals(Inode.ROOT_INO, dir.ino());
      int files = (int) (3 * MetaTables.CACHE_INODE_BYTES_MAX / 14_000);
      for (int k = 0; k < files; k++) {
        Inode.Builder b = new Inode.Builder();
        b.ino = 1000 + k;
        b.mode = FileMode.S_IFREG | 0644;
        b.nlink = 1;
        b.size = 14_000;
        b.inlineData = new byte[14_000];
        b.inlineData[0] = (byte) k;
        try (Txn txn = t.begin()) {
          txn.putInode(b.build());
          txn.commit(1, ++index);
        }
        assertEquals((byte) k, t.getInode(1000 + k).inlineData()[0]);
        assertTrue(t.cacheStats().inodeBytes() <= MetaTables.CACHE_INODE_BYTES_MAX,
            "cache holds " + t.cacheStats().inodeBytes() + " bytes after " + (k + 1) + " files");
      }
      assertTrue(t.cacheStats().inodes() < files, "small files were evicted: " + t.cacheStats());
      assertEquals((byte) 7, t.getInode(1007).inlineData()[0], "an evicted record is read again");
      assertSame(dir, t.getInode(Inode.ROOT_INO), "records without content outlive the evictions");
    }
  }

  @Test
  void concurrentReadersNeverKeepAReplacedValue() throws Exception {
    try (MetaTables t = MetaTables.open(tmp)) {
      write(t, 20, 0, "f");
      AtomicBoolean done = new AtomicBoolean();
      List<Thread> readers = new ArrayList<>();
      for (int r = 0; r < 4; r++) {
        Thread th = new Thread(() -> {
          while (!done.get()) {
            t.getInode(20);
            t.getDentry(Inode.ROOT_INO, "f".getBytes());
          }
        });
        th.start();
        readers.add(th);
      }
      for (long size = 1; size <= 3000; size++) {
        write(t, 20, size, size % 2 == 0 ? "f" : null);
        assertEquals(size, t.getInode(20).size(), "read after commit " + size);
      }
      done.set(true);
      for (Thread th : readers) {
        th.join();
      }
      assertEquals(3000, t.getInode(20).size());
    }
  }
}
