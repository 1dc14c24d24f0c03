package io.sharefs.cli;

import com.google.gson.GsonBuilder;
import io.sharefs.meta.ratis.RaftMetaStore.Member;
import io.sharefs.node.admin.AdminClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code sharefs members list|add|remove}: online membership changes. */
@Command(name = "members", mixinStandardHelpOptions = true,
    description = "List, add or remove cluster members online.",
    subcommands = {MembersCommand.ListCmd.class, MembersCommand.AddCmd.class, MembersCommand.RemoveCmd.class})
final class MembersCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "say list, add or remove");
  }

  static int print(CommandSpec spec, AdminOptions admin, AdminClient.Members m) {
    PrintWriter out = spec.commandLine().getOut();
    if (admin.json) {
      out.println(new GsonBuilder().setPrettyPrinting().create().toJson(m));
    } else {
      out.printf("%-8s %-21s %s%n", "ID", "ADDRESS", "ROLE");
      for (Member x : m.members()) {
        out.printf("%-8s %-21s %s%n", x.id(), x.address(), x.voter() ? "voter" : "listener");
      }
    }
    out.flush();
    return 0;
  }

  static int fail(CommandSpec spec, IOException e) {
    spec.commandLine().getErr().println("sharefs: " + e.getMessage());
    return 1;
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "List members and whether they vote.")
  static final class ListCmd implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin AdminOptions admin;

    @Override
    public Integer call() {
      try (AdminClient c = admin.client()) {
        return print(spec, admin, c.members());
      } catch (IOException e) {
        return fail(spec, e);
      }
    }
  }

  @Command(name = "add", mixinStandardHelpOptions = true,
      description = "Add a running node (started with the new peer list) as a voter, or as a listener beyond "
          + "the voter limit. A node started with `mount --join` adds itself.")
  static final class AddCmd implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin AdminOptions admin;
    @Parameters(index = "0", paramLabel = "ID") String id;
    @Parameters(index = "1", paramLabel = "HOST:PORT") String address;
    @Option(names = "--listener", description = "Add as a non-voting listener.") boolean listener;

    @Override
    public Integer call() {
      if (!address.matches("[^:]+:\\d{1,5}")) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "address must be HOST:PORT");
      }
      try (AdminClient c = admin.client()) {
        return print(spec, admin, c.addMember(new Member(id, address, !listener)));
      } catch (IOException e) {
        return fail(spec, e);
      }
    }
  }

  @Command(name = "remove", mixinStandardHelpOptions = true,
      description = "Remove a member online, after copying every block it holds to the members that stay.")
  static final class RemoveCmd implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin AdminOptions admin;
    @Parameters(index = "0", paramLabel = "ID") String id;

    @Option(names = "--force", description = "Remove it even if some of its blocks could not be copied elsewhere.")
    boolean force;

    @Override
    public Integer call() {
      try (AdminClient c = admin.client()) {
        // First copy what it holds to the members that stay, with progress; the removal re-checks.
        RebalanceCommand.Outcome o = RebalanceCommand.run(c, io.sharefs.proto.RebalanceRequestProto.newBuilder()
            .setLeaving(id).setReplication(-1).build(), spec.commandLine().getOut(), admin.json);
        if (o.summary() != null && o.summary().getFailed() > 0 && !force) {
          spec.commandLine().getErr().println("sharefs: " + o.summary().getFailed() + " block copies to the members"
              + " that stay failed; " + id + " was not removed (see the node log; --force removes it anyway)");
          return 1;
        }
        return print(spec, admin, c.removeMember(id, force));
      } catch (IOException e) {
        return fail(spec, e);
      }
    }
  }
}
