package io.sharefs.node;

import io.sharefs.block.grpc.BlockClient;
import io.sharefs.meta.ratis.RaftMetaStore;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/** Pings every other member's node-to-node port every two seconds: reachable or not, and the round trip. */
final class PeerProbe implements AutoCloseable {
  /** The last answer from one peer: reachable, and its round trip in seconds (NaN when unreachable). */
  record Seen(boolean reachable, double rttSeconds) {}

  private final Map<String, Seen> peers = new ConcurrentHashMap<>();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "peer-probe");
    t.setDaemon(true);
    return t;
  });

  PeerProbe(RaftMetaStore meta, BlockClient client) {
    timer.scheduleWithFixedDelay(() -> {
      Map<String, String> members = meta.members();
      peers.keySet().retainAll(members.keySet());
      members.forEach((id, addr) -> {
        if (id.equals(meta.nodeId())) {
          return;
        }
        try {
          peers.put(id, new Seen(true, client.pingNanos(NodeConfig.dataAddress(addr)) / 1e9));
        } catch (RuntimeException e) {
          peers.put(id, new Seen(false, Double.NaN));
        }
      });
    }, 0, 2, TimeUnit.SECONDS);
  }

  Map<String, Seen> peers() {
    return peers;
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
