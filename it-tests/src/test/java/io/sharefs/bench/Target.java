package io.sharefs.bench;

import java.nio.file.Path;
import java.util.List;

/** One system under test: where the writer writes, where the reader reads, and its processes. */
interface Target extends AutoCloseable {
  String name();

  /** Directory on the writing node (sharefs node 1, lsyncd's source, or the local dir). */
  Path writer();

  /** The same tree as the reading node sees it (sharefs node 2, lsyncd's target, or the local dir). */
  Path reader();

  /**
   * Whether the reader sees a name it has looked up change when the writer renames or removes it
   * (false for the FUSE floor, whose two mounts share a directory but not their kernels' caches).
   */
  default boolean readerSeesChangesToNamesItCached() {
    return true;
  }

  /** Processes whose memory is reported (sharefs nodes). */
  List<ProcessHandle> processes();

  @Override
  void close();

  /** SIGTERM, then SIGKILL if {@code p} has not exited within 10 s. */
  static void stop(Process p) {
    p.destroy();
    try {
      if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
    }
  }
}
