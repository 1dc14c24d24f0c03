package io.sharefs.cli;

import com.google.gson.GsonBuilder;
import io.sharefs.meta.ratis.RaftMetaStore.Member;
import io.sharefs.node.admin.AdminClient;
import io.sharefs.node.admin.NodeStatus;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code sharefs status}: every member's role, indexes, lag, blocks and disk, as seen by asking each. */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Show the cluster: members, roles, leader, commit/applied index and lag, blocks, disk.",
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {"0:all members reachable, a leader, no lag", "1:the node asked could not be reached",
        "2:bad usage", "3:degraded (a member unreachable, no leader, or lagging)"})
final class StatusCommand implements Callable<Integer> {
  static final long LAG_WARN = 1000;
  @Spec CommandSpec spec;
  @Mixin AdminOptions admin;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    Map<String, AdminClient.MemberStatus> all;
    try (AdminClient c = admin.client()) {
      all = c.clusterStatus();
    } catch (IOException e) {
      spec.commandLine().getErr().println("sharefs: " + e.getMessage());
      return 1;
    }
    Map<String, NodeStatus> seen = new LinkedHashMap<>();
    Map<String, String> errors = new LinkedHashMap<>();
    NodeStatus first = null;
    for (AdminClient.MemberStatus m : all.values()) {
      if (m.status() != null) {
        seen.put(m.member().id(), m.status());
        first = first == null ? m.status() : first;
      } else {
        errors.put(m.member().id(), m.error());
      }
    }
    boolean degraded = !errors.isEmpty() || first.leaderId().isEmpty()
        || seen.values().stream().anyMatch(s -> s.lag() > LAG_WARN);
    if (admin.json) {
      List<Map<String, Object>> rows = new ArrayList<>();
      for (Member m : first.members()) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", m.id());
        row.put("address", m.address());
        row.put("voter", m.voter());
        NodeStatus s = seen.get(m.id());
        row.put("reachable", s != null);
        if (s != null) {
          row.put("role", s.role());
          row.put("term", s.term());
          row.put("commitIndex", s.commitIndex());
          row.put("appliedIndex", s.appliedIndex());
          row.put("lag", s.lag());
          row.put("blocks", s.blocks());
          row.put("blockBytes", s.blockBytes());
          row.put("blocksToPull", s.pullQueue());
          row.put("replicationPending", s.replicationPending());
          row.put("underReplicated", s.underReplicated());
          row.put("inodes", s.inodes());
          row.put("logBytes", s.logBytes());
          row.put("diskFreeBytes", s.diskFreeBytes());
          row.put("version", s.version());
        } else {
          row.put("error", errors.get(m.id()));
        }
        rows.add(row);
      }
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("leader", first.leaderId());
      doc.put("replication", first.replication());
      doc.put("healthy", !degraded);
      doc.put("members", rows);
      out.println(new GsonBuilder().setPrettyPrinting().create().toJson(doc));
    } else {
      out.printf("leader: %s   members: %d (max voters %d)   replication: %s%n",
          first.leaderId().isEmpty() ? "NONE" : first.leaderId(), first.members().size(), first.maxVoters(),
          first.replication() == 0 ? "every member" : first.replication() + " copies");
      out.printf("%-6s %-21s %-9s %5s %9s %9s %6s %8s %10s %7s %6s %8s %10s %s%n", "ID", "ADDRESS", "ROLE", "TERM",
          "COMMIT", "APPLIED", "LAG", "BLOCKS", "BLOCK-B", "TO-PULL", "UNDER", "INODES", "DISK-FREE", "VERSION");
      for (Member m : first.members()) {
        NodeStatus s = seen.get(m.id());
        if (s == null) {
          out.printf("%-6s %-21s %-9s unreachable: %s%n", m.id(), m.address(), m.voter() ? "voter" : "listener",
              errors.get(m.id()));
          continue;
        }
        out.printf("%-6s %-21s %-9s %5d %9d %9d %6d %8d %10s %7d %6d %8d %10s %s%n", m.id(), m.address(), s.role(),
            s.term(), s.commitIndex(), s.appliedIndex(), s.lag(), s.blocks(), human(s.blockBytes()), s.pullQueue(),
            s.underReplicated(), s.inodes(), human(s.diskFreeBytes()), s.version());
      }
      out.println(degraded ? "DEGRADED" : "healthy");
    }
    out.flush();
    return degraded ? 3 : 0;
  }

  static String human(long bytes) {
    if (bytes < 0) {
      return "?";
    }
    String[] u = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = bytes;
    int i = 0;
    while (v >= 1024 && i < u.length - 1) {
      v /= 1024;
      i++;
    }
    return i == 0 ? bytes + "B" : String.format(java.util.Locale.ROOT, "%.1f%s", v, u[i]);
  }
}
