package io.sharefs.cli;

import com.google.gson.GsonBuilder;
import io.sharefs.node.admin.AdminClient;
import io.sharefs.proto.FsckEventProto;
import io.sharefs.proto.FsckFindingProto;
import io.sharefs.proto.FsckSummaryProto;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code sharefs fsck [--repair]}: check (and repair) metadata and blocks across the cluster. */
@Command(name = "fsck", mixinStandardHelpOptions = true,
    description = {"Check metadata and every node's blocks; with --repair, fix what can be fixed.",
        "Exit codes: 0 clean, 3 problems found and all repaired, 4 problems remain, 1 fsck could not run."})
final class FsckCommand implements Callable<Integer> {
  static final int REPAIRED = 3;
  static final int UNREPAIRED = 4;

  @Spec CommandSpec spec;
  @Mixin AdminOptions admin;

  @Option(names = "--repair", description = "Re-replicate from good copies, drop unreferenced blocks older than the "
      + "grace period, fix entries and link counts, move what cannot be repaired to /lost+found.")
  boolean repair;

  @Option(names = "--grace", defaultValue = "3600", paramLabel = "SECONDS",
      description = "Unreferenced blocks stored more recently than this are kept: a write may still commit them "
          + "(default: ${DEFAULT-VALUE}; at least 60).")
  long graceSeconds;

  @Override
  public Integer call() {
    if (graceSeconds < 60) {
      throw new ParameterException(spec.commandLine(), "--grace must be at least 60 seconds");
    }
    PrintWriter out = spec.commandLine().getOut();
    List<FsckFindingProto> findings = new ArrayList<>();
    FsckSummaryProto[] summary = {null};
    try (AdminClient c = admin.client(); PhaseBars bars = new PhaseBars(admin.json)) {
      c.fsck(repair, graceSeconds * 1000, e -> {
        switch (e.getEventCase()) {
          case PROGRESS -> bars.step(e.getProgress().getPhase(), e.getProgress().getDone(),
              e.getProgress().getTotal(), false);
          case FINDING -> {
            findings.add(e.getFinding());
            if (!admin.json) {
              FsckFindingProto f = e.getFinding();
              out.printf("%-9s %-22s %s%s%n", f.getRepaired() ? "REPAIRED" : "FOUND", f.getKind(), f.getDetail(),
                  f.getAction().isEmpty() ? "" : " — " + f.getAction());
              out.flush();
            }
          }
          case SUMMARY -> summary[0] = e.getSummary();
          default -> { }
        }
      });
    } catch (IOException e) {
      spec.commandLine().getErr().println("sharefs: " + e.getMessage());
      return 1;
    }
    FsckSummaryProto s = summary[0];
    if (s == null) {
      spec.commandLine().getErr().println("sharefs: fsck ended without a summary");
      return 1;
    }
    int code = s.getFound() == 0 ? 0 : s.getRepaired() == s.getFound() ? REPAIRED : UNREPAIRED;
    if (admin.json) {
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("result", code == 0 ? "clean" : code == REPAIRED ? "repaired" : "unrepaired");
      doc.put("inodes", s.getInodes());
      doc.put("dentries", s.getDentries());
      doc.put("blocksReferenced", s.getBlocksReferenced());
      doc.put("nodesScanned", s.getNodesScanned());
      doc.put("replication", s.getReplication());
      doc.put("unreachableNodes", s.getUnreachableNodesList());
      List<Map<String, Object>> rows = new ArrayList<>();
      for (FsckFindingProto f : findings) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("kind", f.getKind());
        row.put("detail", f.getDetail());
        row.put("repaired", f.getRepaired());
        row.put("action", f.getAction());
        rows.add(row);
      }
      doc.put("findings", rows);
      out.println(new GsonBuilder().setPrettyPrinting().create().toJson(doc));
    } else {
      out.printf("%d inodes, %d entries, %d referenced blocks on %d node(s) (replication %d): %s%n", s.getInodes(),
          s.getDentries(), s.getBlocksReferenced(), s.getNodesScanned(), s.getReplication(),
          code == 0 ? "clean" : s.getFound() + " problem(s), " + s.getRepaired() + " repaired"
              + (code == UNREPAIRED && !repair ? " (run with --repair to fix)" : ""));
    }
    out.flush();
    return code;
  }
}
