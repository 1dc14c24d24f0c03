package io.sharefs.meta.check;

import io.sharefs.meta.BlockRef;
import io.sharefs.meta.Dentry;
import io.sharefs.meta.Inode;
import io.sharefs.meta.table.MetaTables;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongConsumer;

/**
 * The metadata half of fsck, over one replica's tables: every directory entry must lead to an
 * inode, every inode must be reachable by a name (or be an orphan held open), and every link count
 * must equal the names that lead to it (files) or 2 + subdirectories (directories). It also
 * collects which files reference which blocks, for the block half. Reads only; repairs are ops.
 */
public final class MetaCheck {
  public static final String DANGLING_DENTRY = "dangling-dentry";
  public static final String UNREACHABLE_INODE = "unreachable-inode";
  public static final String WRONG_NLINK = "wrong-nlink";

  private MetaCheck() {}

  /**
   * One problem. {@code ino}, {@code parent}, {@code name} locate it; {@code expectedNlink} is the
   * count a link-count repair sets.
   */
  public record Finding(String kind, String detail, long ino, long parent, byte[] name, int expectedNlink) {}

  /** A name of a file, for reports and for moving damaged files aside. */
  public record Name(long parent, byte[] name) {}

  /** What the walk saw: counts, findings, block references (hash → inodes) and one name per inode. */
  public record Result(long inodes, long dentries, List<Finding> findings, Map<ByteBuffer, List<Long>> blockRefs,
      Map<Long, Name> names) {
    /** The inode's path from /, as far as names lead ("#ino/…" where they stop). */
    public String path(long ino) {
      StringBuilder b = new StringBuilder();
      long x = ino;
      for (int depth = 0; x != Inode.ROOT_INO && depth < 256; depth++) {
        Name n = names.get(x);
        if (n == null) {
          return "#" + x + b;
        }
        b.insert(0, "/" + new String(n.name(), StandardCharsets.UTF_8));
        x = n.parent();
      }
      return b.length() == 0 ? "/" : b.toString();
    }
  }

  /** Walks the tables; {@code progress} receives the number of inodes checked so far. */
  public static Result run(MetaTables tables, LongConsumer progress) {
    Set<Long> present = new HashSet<>();
    tables.forEachInode(i -> present.add(i.ino()));
    // Names count only from directories that exist; entries under a missing directory are garbage.
    Map<Long, Integer> names = new HashMap<>();
    Map<Long, Integer> subdirs = new HashMap<>();
    Map<Long, Name> firstName = new HashMap<>();
    Map<Long, List<Long>> children = new HashMap<>();
    List<Finding> findings = new ArrayList<>();
    List<Dentry> dangling = new ArrayList<>();
    long[] dentries = {0};
    tables.forEachDentry(d -> {
      dentries[0]++;
      Name where = new Name(d.parent(), d.name());
      if (!present.contains(d.parent()) || !present.contains(d.ino())) {
        dangling.add(d);
        return true;
      }
      names.merge(d.ino(), 1, Integer::sum);
      firstName.putIfAbsent(d.ino(), where);
      children.computeIfAbsent(d.parent(), k -> new ArrayList<>()).add(d.ino());
      if (isDirType(d)) {
        subdirs.merge(d.parent(), 1, Integer::sum);
      }
      return true;
    });
    Result named = new Result(0, 0, List.of(), Map.of(), firstName);
    for (Dentry d : dangling) {
      String where = (d.parent() == Inode.ROOT_INO ? "" : named.path(d.parent())) + "/"
          + new String(d.name(), StandardCharsets.UTF_8);
      findings.add(new Finding(DANGLING_DENTRY, where + (present.contains(d.parent())
          ? " names inode " + d.ino() + ", which does not exist"
          : " is an entry of directory " + d.parent() + ", which does not exist"), d.ino(), d.parent(), d.name(), 0));
    }
    Set<Long> reachable = new HashSet<>();
    java.util.ArrayDeque<Long> todo = new java.util.ArrayDeque<>(List.of(Inode.ROOT_INO));
    while (!todo.isEmpty()) {
      long x = todo.poll();
      if (reachable.add(x)) {
        todo.addAll(children.getOrDefault(x, List.of()));
      }
    }
    Set<Long> orphans = new HashSet<>(tables.orphans());
    Map<ByteBuffer, List<Long>> refs = new HashMap<>();
    long[] inodes = {0};
    tables.forEachInode(i -> {
      inodes[0]++;
      if (!reachable.contains(i.ino()) && !orphans.contains(i.ino())) {
        // Report the top of an unreachable subtree only: it is reattached with everything below it.
        if (!names.containsKey(i.ino())) {
          findings.add(new Finding(UNREACHABLE_INODE, "inode " + i.ino() + " (" + (i.isDir() ? "directory" : "file")
              + ", " + i.size() + " bytes) is not reachable from /", i.ino(), 0, null, 0));
        }
      } else {
        checkLinks(i, names.getOrDefault(i.ino(), 0), subdirs.getOrDefault(i.ino(), 0), named, findings);
      }
      for (BlockRef r : i.blocks()) {
        if (!r.isHole()) {
          refs.computeIfAbsent(ByteBuffer.wrap(r.hash()), k -> new ArrayList<>(1)).add(i.ino());
        }
      }
      if ((inodes[0] & 1023) == 0) {
        progress.accept(inodes[0]);
      }
      return true;
    });
    progress.accept(inodes[0]);
    return new Result(inodes[0], dentries[0], findings, refs, firstName);
  }

  private static boolean isDirType(Dentry d) {
    return io.sharefs.meta.FileMode.isDir(d.type());
  }

  private static void checkLinks(Inode i, int nameCount, int subdirCount, Result named, List<Finding> out) {
    int want = i.isDir() ? 2 + subdirCount : nameCount;
    if (i.nlink() != want) {
      String where = named.path(i.ino());
      out.add(new Finding(WRONG_NLINK, where + " (inode " + i.ino() + ") has link count " + i.nlink()
          + ", expected " + want, i.ino(), 0, null, want));
    }
  }
}
