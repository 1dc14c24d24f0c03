package io.sharefs.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code sharefs} command. */
@Command(
    name = "sharefs",
    mixinStandardHelpOptions = true,
    versionProvider = Version.class,
    description = "A replicated POSIX filesystem for a fleet of web servers.",
    subcommands = {MountCommand.class, DemoCommand.class, StatusCommand.class, MembersCommand.class, FsckCommand.class, RebalanceCommand.class, CaCommand.class,
        CommandLine.HelpCommand.class})
public final class SharefsCli implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (try `sharefs --help`)");
  }

  /** Runs the CLI and returns the exit code: 0 ok, 1 failure, 2 bad usage. */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new SharefsCli());
    if (args.length > 0 && args[0].equals("mount")) {
      try {
        MountCommand.useConfigFile(cl.getSubcommands().get("mount"), args);
      } catch (IllegalArgumentException e) {
        cl.getErr().println("sharefs: " + e.getMessage());
        return 2;
      }
    }
    cl.setParameterExceptionHandler((ex, a) -> {
      CommandLine c = ex.getCommandLine();
      c.getErr().println("sharefs: " + ex.getMessage());
      c.getErr().println("Try `" + c.getCommandSpec().qualifiedName() + " --help` for the options.");
      return 2;
    });
    return cl.execute(args);
  }

  public static void main(String[] args) {
    useSharedPoolForAsyncTasks();
    System.exit(run(args));
  }

  static final String COMMON_POOL_PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

  /**
   * On a machine with fewer than three CPUs the JDK's common pool has one worker, and then every
   * {@code CompletableFuture} stage run "async" without an executor gets a new thread of its own.
   * Ratis runs one such stage for each append a follower receives: on the 2-core test machine a
   * thread was started and torn down per log entry (3.6 % of a follower's CPU samples during
   * uploads). Two workers make those stages share the pool. Must run before anything
   * touches {@code ForkJoinPool} or {@code CompletableFuture}; an explicit setting is kept.
   */
  static void useSharedPoolForAsyncTasks() {
    if (System.getProperty(COMMON_POOL_PARALLELISM) == null && Runtime.getRuntime().availableProcessors() < 3) {
      System.setProperty(COMMON_POOL_PARALLELISM, "2");
    }
  }
}
