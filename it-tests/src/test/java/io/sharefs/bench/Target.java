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

  /** Processes whose memory is reported (sharefs nodes). */
  List<ProcessHandle> processes();

  @Override
  void close();
}
