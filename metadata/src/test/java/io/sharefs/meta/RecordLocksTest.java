package io.sharefs.meta;

import static io.sharefs.meta.RecordLocks.EOF;
import static io.sharefs.meta.RecordLocks.READ;
import static io.sharefs.meta.RecordLocks.UNLOCK;
import static io.sharefs.meta.RecordLocks.WRITE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.meta.RecordLocks.Range;
import java.util.List;
import org.junit.jupiter.api.Test;

class RecordLocksTest {
  @Test
  void settingInsideARangeSplitsIt() {
    RecordLocks l = RecordLocks.none(7).set(0, 99, WRITE, 7).set(40, 59, READ, 7);
    assertEquals(List.of(new Range(0, 39, WRITE), new Range(40, 59, READ), new Range(60, 99, WRITE)), l.ranges());
  }

  @Test
  void unlockCutsAndAdjacentSameTypeRangesMerge() {
    RecordLocks l = RecordLocks.none(1).set(0, 9, READ, 1).set(10, 19, READ, 1);
    assertEquals(List.of(new Range(0, 19, READ)), l.ranges());
    l = l.set(5, 14, UNLOCK, 1);
    assertEquals(List.of(new Range(0, 4, READ), new Range(15, 19, READ)), l.ranges());
    assertTrue(l.set(0, EOF, UNLOCK, 1).isEmpty());
  }

  @Test
  void toEndOfFileRangesCoverEverythingAfterTheirStart() {
    RecordLocks l = RecordLocks.none(1).set(100, EOF, WRITE, 1);
    assertNotNull(l.conflict(1L << 40, (1L << 40) + 1, READ));
    assertNull(l.conflict(0, 99, WRITE));
    assertEquals(List.of(new Range(100, 199, WRITE), new Range(300, EOF, WRITE)), l.set(200, 299, UNLOCK, 1).ranges());
  }

  @Test
  void readLocksShareWriteLocksExclude() {
    RecordLocks reader = RecordLocks.none(1).set(0, 9, READ, 1);
    assertNull(reader.conflict(0, 9, READ));
    assertNotNull(reader.conflict(5, 5, WRITE));
    assertNull(reader.conflict(10, 20, WRITE));
  }

  @Test
  void encodingRoundTrips() {
    RecordLocks l = RecordLocks.none(42).set(0, 9, READ, 42).set(20, EOF, WRITE, 42);
    assertEquals(l, RecordLocks.decode(l.encode()));
  }
}
