package io.sharefs.block.rocks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.block.BlockHash;
import io.sharefs.block.CorruptBlockException;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RocksBlockStoreTest {
  @TempDir Path tmp;

  @Test
  void storesByHashAndDeduplicates() throws Exception {
    byte[] data = new byte[1 << 20];
    new Random(1).nextBytes(data);
    try (RocksBlockStore s = RocksBlockStore.open(tmp)) {
      byte[] h = s.put(data, 0, data.length);
      assertArrayEquals(BlockHash.of(data), h);
      assertArrayEquals(h, s.put(data.clone(), 0, data.length));
      assertArrayEquals(data, s.get(h));
      byte[] part = s.put(data, 10, 100);
      assertEquals(100, s.get(part).length);
      assertTrue(s.has(part));
      s.delete(part);
      assertFalse(s.has(part));
      assertNull(s.get(part));
    }
    try (RocksBlockStore s = RocksBlockStore.open(tmp)) {
      assertArrayEquals(data, s.get(BlockHash.of(data)), "blocks survive reopening");
    }
  }

  @Test
  void corruptBlocksAreDetectedNotReturned() throws Exception {
    try (RocksBlockStore s = RocksBlockStore.open(tmp)) {
      byte[] h = s.put("wp-config".getBytes(), 0, 9);
      s.putRawForTesting(h, "evil".getBytes());
      CorruptBlockException e = assertThrows(CorruptBlockException.class, () -> s.get(h));
      assertTrue(e.getMessage().contains(BlockHash.hex(h)));
      assertThrows(CorruptBlockException.class, () -> s.putVerified(h, "other".getBytes()));
    }
  }
}
