package io.sharefs.bench;

import io.sharefs.it.SharefsCluster;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A 3-node sharefs cluster on this machine. Writer and reader are the two nodes that do not lead
 * the Raft group once it has elected: the placement that costs sharefs most (every change goes to
 * the leader and back, every strict open asks it), and the same in every run — where the leader
 * happened to be moved strict figures 5-10x between runs before.
 */
final class SharefsTarget implements Target {
  private final SharefsCluster cluster;
  private final String name;
  private final int writer;
  private final int reader;

  SharefsTarget(Path root, String name, String... args) throws Exception {
    this.cluster = SharefsCluster.start(root, 3, args);
    this.name = name;
    int leader = cluster.leader(30_000);
    this.writer = (leader + 1) % 3;
    this.reader = (leader + 2) % 3;
  }

  int writerIndex() {
    return writer;
  }

  int readerIndex() {
    return reader;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Path writer() {
    return cluster.mountPoint(writer);
  }

  @Override
  public Path reader() {
    return cluster.mountPoint(reader);
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
