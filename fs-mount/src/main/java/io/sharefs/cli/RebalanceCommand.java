package io.sharefs.cli;

import com.google.gson.GsonBuilder;
import io.sharefs.node.admin.AdminClient;
import io.sharefs.proto.RebalancePlanProto;
import io.sharefs.proto.RebalanceRequestProto;
import io.sharefs.proto.RebalanceSummaryProto;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code sharefs rebalance}: move blocks to their places (rendezvous hashing), optionally with a new factor. */
@Command(name = "rebalance", mixinStandardHelpOptions = true,
    description = {"Copy blocks to the members placement picks for them, then drop misplaced copies.",
        "Interrupting it is safe: run it again and it continues from what the nodes hold.",
        "Exit codes: 0 done, 4 some copies or drops failed, 1 could not run."})
final class RebalanceCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin AdminOptions admin;

  @Option(names = "--dry-run", description = "Print the plan and change nothing.")
  boolean dryRun;

  @Option(names = "--rate", defaultValue = "50", paramLabel = "MB/s",
      description = "Copy at most this many MB per second (default: ${DEFAULT-VALUE}; 0 = unthrottled).")
  double rate;

  @Option(names = "--replication", paramLabel = "R",
      description = "Set the replication factor first: R copies of each block, 0 = every member (online).")
  Integer replication;

  @Override
  public Integer call() {
    if (rate < 0) {
      throw new ParameterException(spec.commandLine(), "--rate cannot be negative");
    }
    if (replication != null && replication < 0) {
      throw new ParameterException(spec.commandLine(), "--replication must be 0 (every member) or more");
    }
    PrintWriter out = spec.commandLine().getOut();
    RebalanceRequestProto req = RebalanceRequestProto.newBuilder().setDryRun(dryRun)
        .setRateBytesPerSec((long) (rate * 1_000_000)).setReplication(replication == null ? -1 : replication).build();
    Outcome o;
    try (AdminClient c = admin.client()) {
      o = run(c, req, out, admin.json);
    } catch (IOException e) {
      spec.commandLine().getErr().println("sharefs: " + e.getMessage());
      return 1;
    }
    RebalancePlanProto[] plan = {o.plan()};
    RebalanceSummaryProto s = o.summary();
    if (s == null || plan[0] == null) {
      spec.commandLine().getErr().println("sharefs: rebalance ended without a summary");
      return 1;
    }
    if (admin.json) {
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("dryRun", dryRun);
      doc.put("replication", plan[0].getReplication());
      doc.put("plannedCopies", plan[0].getCopies());
      doc.put("plannedCopyBytes", plan[0].getCopyBytes());
      doc.put("plannedDrops", plan[0].getDrops());
      doc.put("unplaceable", plan[0].getUnplaceable());
      doc.put("copied", s.getCopied());
      doc.put("copiedBytes", s.getCopiedBytes());
      doc.put("dropped", s.getDropped());
      doc.put("failed", s.getFailed());
      out.println(new GsonBuilder().setPrettyPrinting().create().toJson(doc));
    } else if (!dryRun) {
      out.printf("copied %d blocks (%s), dropped %d, %d failed%n", s.getCopied(), StatusCommand.human(s.getCopiedBytes()),
          s.getDropped(), s.getFailed());
    }
    out.flush();
    return s.getFailed() > 0 ? 4 : 0;
  }

  /** What a rebalance run reported: its plan and its summary (null if the stream ended early). */
  record Outcome(RebalancePlanProto plan, RebalanceSummaryProto summary) {}

  /** Runs a rebalance on the node, printing the plan and drawing progress bars unless {@code quiet}. */
  static Outcome run(AdminClient c, RebalanceRequestProto req, PrintWriter out, boolean quiet) throws IOException {
    RebalancePlanProto[] plan = {null};
    RebalanceSummaryProto[] summary = {null};
    try (PhaseBars bars = new PhaseBars(quiet)) {
      c.rebalance(req, e -> {
        switch (e.getEventCase()) {
          case PLAN -> {
            plan[0] = e.getPlan();
            if (!quiet) {
              RebalancePlanProto p = e.getPlan();
              out.printf("plan (replication %s): copy %d blocks (%s), drop %d misplaced copies%s%n",
                  p.getReplication() == 0 ? "every member" : String.valueOf(p.getReplication()), p.getCopies(),
                  StatusCommand.human(p.getCopyBytes()), p.getDrops(),
                  p.getUnplaceable() > 0 ? "; " + p.getUnplaceable() + " blocks have no copy anywhere (run fsck)" : "");
              out.flush();
            }
          }
          case PROGRESS -> {
            String phase = e.getProgress().getPhase();
            if (!phase.equals("inventory")) {
              bars.step(phase, e.getProgress().getDone(), e.getProgress().getTotal(), phase.equals("copy"));
            }
          }
          case SUMMARY -> summary[0] = e.getSummary();
          default -> { }
        }
      });
    }
    return new Outcome(plan[0], summary[0]);
  }
}
