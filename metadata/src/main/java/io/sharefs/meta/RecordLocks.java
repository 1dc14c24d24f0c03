package io.sharefs.meta;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * POSIX record locks (fcntl F_SETLK/F_GETLK) held by one owner on one file: byte ranges, each read
 * or write locked, kept sorted, non-overlapping and with touching ranges of the same type merged.
 * Setting a range replaces whatever the owner held there (upgrading, downgrading or splitting); an
 * unlock cuts it out. Ranges end inclusively; {@link #EOF} means "to the end of the file, whatever
 * its size".
 */
public record RecordLocks(int pid, List<Range> ranges) {
  public static final int READ = 0;   // F_RDLCK
  public static final int WRITE = 1;  // F_WRLCK
  public static final int UNLOCK = 2; // F_UNLCK
  public static final long EOF = Long.MAX_VALUE;

  /** Bytes start..end (inclusive) locked with {@code type}. */
  public record Range(long start, long end, int type) {
    public Range {
      if (start < 0 || end < start) {
        throw new IllegalArgumentException("bad lock range " + start + ".." + end);
      }
    }

    boolean overlaps(long s, long e) {
      return start <= e && s <= end;
    }

    /** Whether this lock keeps a lock of {@code type} on s..e from being granted. */
    public boolean blocks(long s, long e, int type) {
      return overlaps(s, e) && (this.type == WRITE || type == WRITE);
    }
  }

  public RecordLocks {
    ranges = List.copyOf(ranges);
  }

  /** One owner's locks on a file: the owner is (node, kernel lock owner). */
  public record Held(String node, long owner, RecordLocks locks) {}

  public static RecordLocks none(int pid) {
    return new RecordLocks(pid, List.of());
  }

  public boolean isEmpty() {
    return ranges.isEmpty();
  }

  /** The first of our ranges that blocks a lock of {@code type} on s..e by another owner, or null. */
  public Range conflict(long s, long e, int type) {
    for (Range r : ranges) {
      if (r.blocks(s, e, type)) {
        return r;
      }
    }
    return null;
  }

  /** These locks after setting s..e to {@code type} (READ, WRITE or UNLOCK), for {@code pid}. */
  public RecordLocks set(long s, long e, int type, int pid) {
    List<Range> out = new ArrayList<>();
    for (Range r : ranges) {
      if (!r.overlaps(s, e)) {
        out.add(r);
        continue;
      }
      if (r.start() < s) {
        out.add(new Range(r.start(), s - 1, r.type()));
      }
      if (r.end() > e) {
        out.add(new Range(e + 1, r.end(), r.type()));
      }
    }
    if (type != UNLOCK) {
      out.add(new Range(s, e, type));
    }
    out.sort(Comparator.comparingLong(Range::start));
    List<Range> merged = new ArrayList<>();
    for (Range r : out) {
      Range last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
      if (last != null && last.type() == r.type() && last.end() != EOF && last.end() + 1 >= r.start()) {
        merged.set(merged.size() - 1, new Range(last.start(), Math.max(last.end(), r.end()), r.type()));
      } else {
        merged.add(r);
      }
    }
    return new RecordLocks(pid, merged);
  }

  /** Encoded as: pid (4), then start (8), end (8), type (1) per range. */
  public byte[] encode() {
    ByteBuffer b = ByteBuffer.allocate(4 + ranges.size() * 17).putInt(pid);
    for (Range r : ranges) {
      b.putLong(r.start()).putLong(r.end()).put((byte) r.type());
    }
    return b.array();
  }

  public static RecordLocks decode(byte[] v) {
    ByteBuffer b = ByteBuffer.wrap(v);
    int pid = b.getInt();
    List<Range> rs = new ArrayList<>();
    while (b.remaining() >= 17) {
      rs.add(new Range(b.getLong(), b.getLong(), b.get()));
    }
    return new RecordLocks(pid, rs);
  }
}
