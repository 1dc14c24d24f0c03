package io.sharefs.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BlockHashTest {
  @Test
  void usesLibcryptoWhereTheMachineHasIt() {
    boolean present = Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libcrypto.so.3"))
        || Files.exists(Path.of("/lib/x86_64-linux-gnu/libcrypto.so.3"));
    assertEquals(present ? "libcrypto" : "jdk", BlockHash.implementation());
  }

  @Test
  void agreesWithTheJdkOnEverySizeAndOffset() {
    byte[] data = new byte[(1 << 20) + 77];
    new Random(5).nextBytes(data);
    int[][] ranges = {{0, 0}, {0, 1}, {0, 55}, {0, 56}, {0, 64}, {3, 1000}, {0, 1 << 20}, {77, 1 << 20},
        {0, data.length}, {data.length, 0}};
    for (int[] r : ranges) {
      assertArrayEquals(BlockHash.ofJdk(data, r[0], r[1]), BlockHash.of(data, r[0], r[1]), r[0] + "+" + r[1]);
    }
    // The well-known digest of "abc".
    assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        BlockHash.hex(BlockHash.of("abc".getBytes())));
  }

  @Test
  void refusesARangeOutsideTheArray() {
    assertThrows(IndexOutOfBoundsException.class, () -> BlockHash.of(new byte[10], 5, 6));
    assertThrows(IndexOutOfBoundsException.class, () -> BlockHash.of(new byte[10], -1, 2));
  }
}
