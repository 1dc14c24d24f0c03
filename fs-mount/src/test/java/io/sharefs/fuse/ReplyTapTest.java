package io.sharefs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.kenai.jffi.MemoryIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The flag goes only into the reply that is a successful open of the handle named, as libfuse lays it out. */
class ReplyTapTest {
  static final MemoryIO MEMORY = MemoryIO.getInstance();
  static final int FOPEN_KEEP_CACHE = 1 << 1;
  long header;
  long payload;
  long iov;

  @BeforeEach
  void reply() {
    header = MEMORY.allocateMemory(16, true); // fuse_out_header: len, error, unique
    payload = MEMORY.allocateMemory(32, true);
    iov = MEMORY.allocateMemory(32, true); // two iovecs: (base, len)
    MEMORY.putAddress(iov, header);
    MEMORY.putLong(iov + 8, 16);
    MEMORY.putAddress(iov + 16, payload);
    MEMORY.putLong(iov + 24, 16);
    MEMORY.putLong(payload, 42); // fuse_open_out.fh
    MEMORY.putInt(payload + 8, FOPEN_KEEP_CACHE); // open_flags
  }

  @AfterEach
  void free() {
    MEMORY.freeMemory(header);
    MEMORY.freeMemory(payload);
    MEMORY.freeMemory(iov);
  }

  int openFlags() {
    return MEMORY.getInt(payload + 8);
  }

  @Test
  void flagsTheOpenReplyOfTheHandle() {
    assertTrue(ReplyTap.addFlag(iov, 2, 42));
    assertEquals(FOPEN_KEEP_CACHE | ReplyTap.FOPEN_NOFLUSH, openFlags(), "the other flags are kept");
    assertEquals(42, MEMORY.getLong(payload));
  }

  @Test
  void leavesEveryOtherReplyAlone() {
    assertFalse(ReplyTap.addFlag(iov, 2, 43), "another handle");
    assertFalse(ReplyTap.addFlag(iov, 1, 42), "a reply without payload");
    MEMORY.putLong(iov + 24, 24);
    assertFalse(ReplyTap.addFlag(iov, 2, 42), "a payload that is not a fuse_open_out (a read of 24 bytes)");
    MEMORY.putLong(iov + 24, 16);
    MEMORY.putInt(header + 4, -13);
    assertFalse(ReplyTap.addFlag(iov, 2, 42), "an error reply");
    assertEquals(FOPEN_KEEP_CACHE, openFlags());
    assertEquals(42, MEMORY.getLong(payload), "the payload is untouched");
  }

  /** An entry reply (fuse_entry_out: nodeid, generation, timeouts, then fuse_attr with the inode first). */
  @Test
  void readsTheNodeIdOfAnEntryReplyAboutTheInode() {
    long entry = MEMORY.allocateMemory(144, true);
    try {
      MEMORY.putAddress(iov + 16, entry);
      MEMORY.putLong(iov + 24, 128);
      MEMORY.putLong(entry, 0x1234); // nodeid
      MEMORY.putLong(entry + 16, 30); // entry_valid
      MEMORY.putLong(entry + 24, 10); // attr_valid
      MEMORY.putInt(entry + 32, 5); // entry_valid_nsec
      MEMORY.putInt(entry + 36, 5); // attr_valid_nsec
      MEMORY.putLong(entry + 40, 77); // attr.ino
      assertEquals(0x1234, ReplyTap.entryNode(iov, 2, 77));
      assertEquals(0, ReplyTap.entryNode(iov, 2, 78), "about another inode");
      assertEquals(0, ReplyTap.entryNode(iov, 1, 77), "no payload");
      MEMORY.putLong(iov + 24, 144);
      assertEquals(0x1234, ReplyTap.entryNode(iov, 2, 77), "CREATE: entry and open replies together");
      MEMORY.putLong(iov + 24, 104);
      assertEquals(0, ReplyTap.entryNode(iov, 2, 77), "a GETATTR reply (fuse_attr_out) is not an entry");
      MEMORY.putLong(iov + 24, 128);
      MEMORY.putInt(header + 4, -2);
      assertEquals(0, ReplyTap.entryNode(iov, 2, 77), "an error reply");
      ReplyTap.expireAttributes(iov);
      assertEquals(0, MEMORY.getLong(entry + 16));
      assertEquals(0, MEMORY.getLong(entry + 24));
      assertEquals(0, MEMORY.getInt(entry + 32));
      assertEquals(0, MEMORY.getInt(entry + 36));
      assertEquals(0x1234, MEMORY.getLong(entry), "the rest is untouched");
      assertEquals(77, MEMORY.getLong(entry + 40));
    } finally {
      MEMORY.putAddress(iov + 16, payload);
      MEMORY.freeMemory(entry);
    }
  }
}
