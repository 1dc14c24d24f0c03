package io.sharefs.node.admin;

import io.sharefs.block.BlockHash;
import io.sharefs.block.grpc.BlockClient;
import io.sharefs.meta.Dentry;
import io.sharefs.meta.FileMode;
import io.sharefs.meta.Inode;
import io.sharefs.meta.MetaResult;
import io.sharefs.meta.MetaStore;
import io.sharefs.meta.check.MetaCheck;
import io.sharefs.meta.op.CreateOp;
import io.sharefs.meta.op.MetaOp;
import io.sharefs.meta.op.RenameOp;
import io.sharefs.meta.op.RepairOp;
import io.sharefs.meta.ratis.RaftMetaStore.Member;
import io.sharefs.meta.table.MetaTables;
import io.sharefs.proto.BlockInfoProto;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * fsck across the cluster, run by one node: the metadata walk of its replica ({@link MetaCheck}),
 * then every member's block inventory (re-hashed on each node), judged against the blocks files
 * reference and the replication factor (every member holds every block). With repair: metadata
 * fixes go through the log; a block with a good copy anywhere is re-replicated from it (a corrupt
 * copy is dropped first); unreferenced blocks older than the grace period are dropped; files whose
 * blocks have no good copy left are moved to /lost+found.
 */
public final class Fsck {
  private static final Logger LOG = LoggerFactory.getLogger(Fsck.class);
  public static final String BLOCK_MISSING = "block-missing";
  public static final String BLOCK_CORRUPT = "block-corrupt";
  public static final String BLOCK_UNDER_REPLICATED = "block-under-replicated";
  public static final String BLOCK_UNREFERENCED = "block-unreferenced";
  public static final byte[] LOST_FOUND = "lost+found".getBytes(StandardCharsets.UTF_8);

  /** Where fsck reports to, as it goes. */
  public interface Listener {
    void progress(String phase, long done, long total);

    void finding(String kind, String detail, boolean repaired, String action);
  }

  /** Totals at the end. */
  public record Summary(long inodes, long dentries, long blocksReferenced, int nodesScanned, int found, int repaired,
      int replication, List<String> unreachable) {}

  private final MetaStore meta;
  private final MetaTables tables;
  private final BlockClient blocks;
  private final List<Member> members;
  private final Function<Member, String> dataAddress;

  public Fsck(MetaStore meta, MetaTables tables, BlockClient blocks, List<Member> members,
      Function<Member, String> dataAddress) {
    this.meta = meta;
    this.tables = tables;
    this.blocks = blocks;
    this.members = members;
    this.dataAddress = dataAddress;
  }

  /** What the members hold of one block. */
  private static final class Copies {
    final List<Member> good = new ArrayList<>();
    final List<Member> corrupt = new ArrayList<>();
    final Map<Member, Long> touched = new HashMap<>();
  }

  public Summary run(boolean repair, long graceMs, Listener out) {
    int[] found = {0};
    int[] repaired = {0};
    Listener counting = new Listener() {
      @Override
      public void progress(String phase, long done, long total) {
        out.progress(phase, done, total);
      }

      @Override
      public void finding(String kind, String detail, boolean fixed, String action) {
        found[0]++;
        repaired[0] += fixed ? 1 : 0;
        out.finding(kind, detail, fixed, action);
      }
    };
    long total = Math.max(1, tables.estimateInodes());
    MetaCheck.Result m = MetaCheck.run(tables, n -> out.progress("metadata", n, Math.max(total, n)));
    repairMetadata(m, repair, counting);

    Map<ByteBuffer, Copies> copies = new HashMap<>();
    List<String> unreachable = new ArrayList<>();
    int[] scanned = {0};
    out.progress("blocks", 0, members.size());
    List<CompletableFuture<List<BlockInfoProto>>> scans = new ArrayList<>();
    java.util.concurrent.ExecutorService pool = FanOut.threads("fsck-scan", members.size());
    for (Member mb : members) {
      scans.add(CompletableFuture.supplyAsync(() -> {
        List<BlockInfoProto> inv = new ArrayList<>();
        blocks.scan(dataAddress.apply(mb), true, inv::add);
        return inv;
      }, pool));
    }
    pool.shutdown(); // the scans already queued still run
    for (int i = 0; i < members.size(); i++) {
      Member mb = members.get(i);
      try {
        for (BlockInfoProto b : scans.get(i).join()) {
          Copies c = copies.computeIfAbsent(ByteBuffer.wrap(b.getHash().toByteArray()), k -> new Copies());
          (b.getCorrupt() ? c.corrupt : c.good).add(mb);
          c.touched.put(mb, b.getTouchedMs());
        }
        scanned[0]++;
      } catch (RuntimeException e) {
        unreachable.add(mb.id());
        LOG.warn("fsck: cannot scan the blocks of {}: {}", mb.id(), e.getMessage());
      }
      out.progress("blocks", i + 1, members.size());
    }
    int factor = tables.replication();
    int replication = factor <= 0 ? members.size() : Math.min(factor, members.size());
    List<Member> reachable = members.stream().filter(x -> !unreachable.contains(x.id())).toList();

    Map<Long, String> lostFiles = new LinkedHashMap<>();
    long checked = 0;
    for (Map.Entry<ByteBuffer, List<Long>> e : m.blockRefs().entrySet()) {
      byte[] hash = bytes(e.getKey());
      Copies c = copies.getOrDefault(e.getKey(), new Copies());
      String files = describe(e.getValue(), m);
      if (c.good.isEmpty()) {
        for (long ino : e.getValue()) {
          lostFiles.put(ino, files);
        }
        counting.finding(BLOCK_MISSING, "block " + BlockHash.hex(hash) + " of " + files + " has no good copy on any "
            + "node" + (c.corrupt.isEmpty() ? "" : " (corrupt on " + ids(c.corrupt) + ")"), false,
            repair ? "cannot be repaired: the file is moved to /lost+found" : "");
      } else {
        byte[] data = null;
        for (Member bad : c.corrupt) {
          String action = "";
          boolean fixed = false;
          if (repair) {
            try {
              data = data != null ? data : fetch(hash, c.good);
              blocks.drop(dataAddress.apply(bad), hash);
              blocks.put(dataAddress.apply(bad), hash, data, 0, data.length).join();
              fixed = true;
              action = "replaced from a good copy";
            } catch (Exception ex) {
              action = "repair failed: " + ex.getMessage();
            }
          }
          counting.finding(BLOCK_CORRUPT, "block " + BlockHash.hex(hash) + " of " + files + " is corrupt on "
              + bad.id(), fixed, action);
        }
        List<String> places = io.sharefs.block.placement.Placement.choose(hash,
            members.stream().map(Member::id).toList(), factor);
        List<Member> lacking = reachable.stream().filter(x -> places.contains(x.id()) && !c.good.contains(x)
            && !c.corrupt.contains(x)).toList();
        if (c.good.size() < replication && !lacking.isEmpty()) {
          String action = "";
          boolean fixed = false;
          if (repair) {
            try {
              data = data != null ? data : fetch(hash, c.good);
              for (Member x : lacking) {
                blocks.put(dataAddress.apply(x), hash, data, 0, data.length).join();
              }
              fixed = true;
              action = "copied to " + ids(lacking);
            } catch (Exception ex) {
              action = "repair failed: " + ex.getMessage();
            }
          }
          counting.finding(BLOCK_UNDER_REPLICATED, "block " + BlockHash.hex(hash) + " of " + files + " has "
              + c.good.size() + " of " + replication + " copies (missing on " + ids(lacking) + ")", fixed, action);
        }
      }
      if ((++checked & 1023) == 0) {
        out.progress("references", checked, m.blockRefs().size());
      }
    }
    out.progress("references", checked, m.blockRefs().size());

    long now = System.currentTimeMillis();
    for (Map.Entry<ByteBuffer, Copies> e : copies.entrySet()) {
      if (m.blockRefs().containsKey(e.getKey())) {
        continue;
      }
      byte[] hash = bytes(e.getKey());
      for (Map.Entry<Member, Long> t : e.getValue().touched.entrySet()) {
        if (now - t.getValue() < graceMs) {
          continue; // a write in flight may still commit it
        }
        String action = "";
        boolean fixed = false;
        if (repair) {
          try {
            blocks.drop(dataAddress.apply(t.getKey()), hash);
            fixed = true;
            action = "dropped";
          } catch (RuntimeException ex) {
            action = "drop failed: " + ex.getMessage();
          }
        }
        counting.finding(BLOCK_UNREFERENCED, "block " + BlockHash.hex(hash) + " on " + t.getKey().id()
            + " is referenced by no file (last stored " + (now - t.getValue()) / 60_000 + " min ago)", fixed, action);
      }
    }
    if (repair && !lostFiles.isEmpty()) {
      moveToLostFound(lostFiles.keySet(), m);
    }
    for (String id : unreachable) {
      counting.finding("node-unreachable", "node " + id + " did not answer: its blocks were not checked", false, "");
    }
    return new Summary(m.inodes(), m.dentries(), m.blockRefs().size(), scanned[0], found[0], repaired[0], replication,
        unreachable);
  }

  private void repairMetadata(MetaCheck.Result m, boolean repair, Listener out) {
    long lostFound = 0;
    for (MetaCheck.Finding f : m.findings()) {
      String action = "";
      boolean fixed = false;
      if (repair) {
        MetaResult r;
        switch (f.kind()) {
          case MetaCheck.DANGLING_DENTRY -> r = submit(RepairOp.dropDentry(f.parent(), f.name()));
          case MetaCheck.UNREACHABLE_INODE -> {
            lostFound = lostFound != 0 ? lostFound : lostFound();
            r = submit(RepairOp.attach(f.ino(), lostFound, ("#" + f.ino()).getBytes(StandardCharsets.UTF_8)));
          }
          case MetaCheck.WRONG_NLINK -> r = submit(RepairOp.setNlink(f.ino(), f.expectedNlink()));
          default -> r = MetaResult.error(io.sharefs.meta.Errno.EINVAL);
        }
        fixed = r.errno() == 0;
        action = fixed ? switch (f.kind()) {
          case MetaCheck.DANGLING_DENTRY -> "entry removed";
          case MetaCheck.UNREACHABLE_INODE -> "moved to /lost+found/#" + f.ino();
          default -> "link count set to " + f.expectedNlink();
        } : "not repaired: " + io.sharefs.meta.Errno.name(r.errno());
      }
      out.finding(f.kind(), f.detail(), fixed, action);
    }
  }

  private void moveToLostFound(Iterable<Long> inos, MetaCheck.Result m) {
    long lf = lostFound();
    for (long ino : inos) {
      MetaCheck.Name n = m.names().get(ino);
      if (n == null || n.parent() == lf) {
        continue;
      }
      byte[] to = (ino + "-" + new String(n.name(), StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
      MetaResult r = submit(new RenameOp(n.parent(), n.name(), lf, to, RenameOp.NOREPLACE, false));
      if (r.errno() != 0) {
        LOG.warn("fsck: could not move inode {} to lost+found: {}", ino, io.sharefs.meta.Errno.name(r.errno()));
      }
    }
  }

  private long lostFound() {
    Dentry d = meta.lookup(Inode.ROOT_INO, LOST_FOUND);
    if (d != null) {
      return d.ino();
    }
    MetaResult r = submit(new CreateOp(Inode.ROOT_INO, LOST_FOUND, FileMode.S_IFDIR | 0700, 0, null));
    if (r.errno() != 0 && r.errno() != io.sharefs.meta.Errno.EEXIST) {
      throw new IllegalStateException("cannot create /lost+found: " + io.sharefs.meta.Errno.name(r.errno()));
    }
    return meta.lookup(Inode.ROOT_INO, LOST_FOUND).ino();
  }

  private MetaResult submit(MetaOp op) {
    return meta.submit(op.settle(System.currentTimeMillis() * 1_000_000L, 0, 0));
  }

  private byte[] fetch(byte[] hash, List<Member> holders) throws Exception {
    Exception last = null;
    for (Member h : holders) {
      try {
        byte[] data = blocks.get(dataAddress.apply(h), hash);
        if (data != null) {
          return data;
        }
      } catch (Exception e) {
        last = e;
      }
    }
    throw last != null ? last : new IllegalStateException("no holder returned the block");
  }

  private static String describe(List<Long> inos, MetaCheck.Result m) {
    List<String> out = new ArrayList<>();
    for (long ino : inos.subList(0, Math.min(3, inos.size()))) {
      out.add(m.path(ino) + " (inode " + ino + ")");
    }
    return String.join(", ", out) + (inos.size() > 3 ? " and " + (inos.size() - 3) + " more" : "");
  }

  private static String ids(List<Member> ms) {
    return String.join(",", ms.stream().map(Member::id).toList());
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.duplicate().get(out);
    return out;
  }
}
