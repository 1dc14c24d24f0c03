package io.sharefs.node;

import io.sharefs.block.placement.Placement;
import io.sharefs.block.replica.Peers;
import io.sharefs.meta.ratis.RaftMetaStore;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The block peers are the members of the metadata group (their block ports), as the group changes.
 * With a replication factor R, a block belongs on the R members rendezvous hashing picks; without
 * one (R = 0) on every member, and a write waits for a majority of copies.
 */
final class RaftPeers implements Peers {
  private final RaftMetaStore meta;
  private volatile Map<String, String> dataAddresses = Map.of();
  private volatile List<String> cached = List.of();
  private volatile int quorum = 1;
  private volatile int replication;
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
    Map<String, String> data = new LinkedHashMap<>();
    List<String> others = new ArrayList<>();
    members.forEach((id, addr) -> {
      data.put(id, NodeConfig.dataAddress(addr));
      if (!id.equals(meta.nodeId())) {
        others.add(NodeConfig.dataAddress(addr));
      }
    });
    dataAddresses = data;
    cached = List.copyOf(others);
    quorum = Math.max(1, meta.voters() / 2 + 1);
    replication = meta.tables().replication();
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

  @Override
  public Placed placement(byte[] hash) {
    refresh();
    Map<String, String> data = dataAddresses;
    if (replication <= 0 || replication >= data.size()) {
      return new Placed(true, cached, replication <= 0 ? quorum : data.size(), List.of());
    }
    List<String> ranked = Placement.choose(hash, data.keySet(), 0);
    List<String> others = new ArrayList<>();
    List<String> fallbacks = new ArrayList<>();
    boolean self = false;
    for (int i = 0; i < ranked.size(); i++) {
      String id = ranked.get(i);
      if (id.equals(meta.nodeId())) {
        self = self || i < replication;
      } else {
        (i < replication ? others : fallbacks).add(data.get(id));
      }
    }
    return new Placed(self, others, replication, fallbacks);
  }
}
