package io.sharefs.cli;

import java.util.concurrent.ForkJoinPool;

/** Run in a JVM of its own: prints the common pool's parallelism, after the CLI's setup if asked. */
public final class AsyncPoolProbe {
  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("setup")) {
      SharefsCli.useSharedPoolForAsyncTasks();
    }
    System.out.println(ForkJoinPool.getCommonPoolParallelism());
  }
}
