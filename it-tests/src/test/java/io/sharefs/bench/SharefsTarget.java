package io.sharefs.bench;

import io.sharefs.it.SharefsCluster;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A 3-node sharefs cluster on this machine: the writer on node 1, the reader on node 2. */
final class SharefsTarget implements Target {
  private final SharefsCluster cluster;
  private final String name;

  SharefsTarget(Path root, String name, String... args) throws Exception {
    this.cluster = SharefsCluster.start(root, 3, args);
    this.name = name;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Path writer() {
    return cluster.mountPoint(0);
  }

  @Override
  public Path reader() {
    return cluster.mountPoint(1);
  }

  @Override
  public List<ProcessHandle> processes() {
    List<ProcessHandle> out = new ArrayList<>();
    for (int i = 0; i < cluster.size(); i++) {
      out.add(cluster.node(i).process().toHandle());
    }
    return out;
  }

  SharefsCluster cluster() {
    return cluster;
  }

  @Override
  public void close() {
    cluster.close();
  }
}
