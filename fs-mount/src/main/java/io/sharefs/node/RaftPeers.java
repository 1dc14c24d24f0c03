package io.sharefs.node;

import io.sharefs.block.replica.Peers;
import io.sharefs.meta.ratis.RaftMetaStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The block peers are the members of the metadata group (their block ports), as the group changes. */
final class RaftPeers implements Peers {
  private final RaftMetaStore meta;
  private volatile List<String> cached = List.of();
  private volatile int quorum = 1;
  private volatile long refreshedAt;

  RaftPeers(RaftMetaStore meta) {
    this.meta = meta;
  }

  private void refresh() {
    long now = System.currentTimeMillis();
    if (now - refreshedAt < 500) {
      return;
    }
    Map<String, String> members = meta.members();
    List<String> others = new ArrayList<>();
    members.forEach((id, addr) -> {
      if (!id.equals(meta.nodeId())) {
        others.add(NodeConfig.dataAddress(addr));
      }
    });
    cached = List.copyOf(others);
    quorum = Math.max(1, meta.voters() / 2 + 1);
    refreshedAt = now;
  }

  @Override
  public List<String> others() {
    refresh();
    return cached;
  }

  @Override
  public int writeQuorum() {
    refresh();
    return quorum;
  }
}
