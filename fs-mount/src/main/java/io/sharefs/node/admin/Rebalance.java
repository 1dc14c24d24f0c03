package io.sharefs.node.admin;

import io.sharefs.block.BlockHash;
import io.sharefs.block.grpc.BlockClient;
import io.sharefs.block.placement.RebalancePlan;
import io.sharefs.meta.BlockRef;
import io.sharefs.meta.ratis.RaftMetaStore.Member;
import io.sharefs.meta.table.MetaTables;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves blocks to where placement says they belong: plans from every member's inventory
 * ({@link RebalancePlan}), copies first (throttled to a byte rate), and drops a misplaced copy only
 * once every place of that block holds it. Stops between blocks when cancelled; running it again
 * plans from what the nodes hold by then, so an interrupted rebalance simply resumes.
 */
public final class Rebalance {
  private static final Logger LOG = LoggerFactory.getLogger(Rebalance.class);

  /** Where rebalance reports to. */
  public interface Listener {
    void plan(RebalancePlan plan, int replication);

    void progress(String phase, long done, long total);
  }

  public record Result(long copied, long copiedBytes, long dropped, long failed, boolean cancelled) {}

  private final MetaTables tables;
  private final BlockClient blocks;
  private final List<Member> sources;
  private final List<Member> members;
  private final Function<Member, String> dataAddress;

  /**
   * @param sources every node that may hold blocks (current members, including one about to leave)
   * @param members the nodes blocks should end up on
   */
  public Rebalance(MetaTables tables, BlockClient blocks, List<Member> sources, List<Member> members,
      Function<Member, String> dataAddress) {
    this.tables = tables;
    this.blocks = blocks;
    this.sources = sources;
    this.members = members;
    this.dataAddress = dataAddress;
  }

  public Result run(int replication, boolean dryRun, boolean drop, long rateBytesPerSec, BooleanSupplier cancelled,
      Listener out) {
    Set<ByteBuffer> referenced = new HashSet<>();
    tables.forEachInode(i -> {
      for (BlockRef r : i.blocks()) {
        if (!r.isHole()) {
          referenced.add(ByteBuffer.wrap(r.hash()));
        }
      }
      return true;
    });
    Map<ByteBuffer, Map<String, Long>> holders = new HashMap<>();
    Map<String, Member> byId = new LinkedHashMap<>();
    for (int i = 0; i < sources.size(); i++) {
      Member m = sources.get(i);
      byId.put(m.id(), m);
      out.progress("inventory", i, sources.size());
      try {
        blocks.scan(dataAddress.apply(m), false, b -> holders.computeIfAbsent(
            ByteBuffer.wrap(b.getHash().toByteArray()), k -> new HashMap<>()).put(m.id(), (long) b.getSize()));
      } catch (RuntimeException e) {
        if (members.contains(m)) {
          throw new IllegalStateException("cannot list the blocks of " + m.id() + ": " + e.getMessage(), e);
        }
        LOG.warn("rebalance: {} (leaving) is unreachable; planning from the other members", m.id());
      }
    }
    out.progress("inventory", sources.size(), sources.size());
    RebalancePlan plan = RebalancePlan.of(holders, referenced, members.stream().map(Member::id).toList(),
        replication);
    out.plan(plan, replication);
    if (dryRun) {
      return new Result(0, 0, 0, 0, false);
    }
    LOG.info("rebalance: {} copies ({} bytes), {} drops, replication {}", plan.copies().size(), plan.copyBytes(),
        drop ? plan.drops().size() : 0, replication);
    long copied = 0;
    long bytes = 0;
    long failed = 0;
    Set<ByteBuffer> incomplete = new HashSet<>();
    long start = System.nanoTime();
    for (RebalancePlan.Copy c : plan.copies()) {
      if (cancelled.getAsBoolean()) {
        return new Result(copied, bytes, 0, failed, true);
      }
      try {
        byte[] data = blocks.get(dataAddress.apply(byId.get(c.from())), c.hash());
        if (data == null) {
          throw new IllegalStateException(c.from() + " no longer has it");
        }
        blocks.put(dataAddress.apply(byId.get(c.to())), c.hash(), data, 0, data.length).get(60, TimeUnit.SECONDS);
        copied++;
        bytes += data.length;
      } catch (Exception e) {
        failed++;
        incomplete.add(ByteBuffer.wrap(c.hash()));
        LOG.warn("rebalance: copying {} from {} to {} failed: {}", BlockHash.hex(c.hash()), c.from(), c.to(),
            e.toString());
      }
      out.progress("copy", bytes, plan.copyBytes());
      throttle(start, bytes, rateBytesPerSec);
    }
    long dropped = 0;
    if (drop) {
      int done = 0;
      for (RebalancePlan.Drop d : plan.drops()) {
        if (cancelled.getAsBoolean()) {
          return new Result(copied, bytes, dropped, failed, true);
        }
        if (!incomplete.contains(ByteBuffer.wrap(d.hash()))) {
          try {
            blocks.drop(dataAddress.apply(byId.get(d.node())), d.hash());
            dropped++;
          } catch (RuntimeException e) {
            failed++;
            LOG.warn("rebalance: dropping {} on {} failed: {}", BlockHash.hex(d.hash()), d.node(), e.toString());
          }
        }
        out.progress("drop", ++done, plan.drops().size());
      }
    }
    return new Result(copied, bytes, dropped, failed, false);
  }

  private static void throttle(long startNs, long bytes, long rate) {
    if (rate <= 0) {
      return;
    }
    long dueNs = (long) (bytes * 1e9 / rate);
    long aheadNs = dueNs - (System.nanoTime() - startNs);
    if (aheadNs > 0) {
      try {
        TimeUnit.NANOSECONDS.sleep(aheadNs);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
