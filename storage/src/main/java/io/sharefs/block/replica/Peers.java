package io.sharefs.block.replica;

import java.util.List;

/** Who else holds blocks, where each block belongs, and how many copies make a write durable. */
public interface Peers {
  /** Block-service addresses (host:port) of every other current member. */
  List<String> others();

  /** Copies (this node's included) a block needs before its file may be committed. */
  int writeQuorum();

  /**
   * Where a block belongs.
   *
   * @param self whether this node is one of its places
   * @param others block-service addresses of its other places, best first
   * @param required copies on its places before a write of it is acknowledged
   * @param fallbacks the other members beyond its places, best first: a write that cannot reach a
   *     place puts the copy on the next of these instead (rebalance moves it home later)
   */
  record Placed(boolean self, List<String> others, int required, List<String> fallbacks) {}

  /** The places of one block under the current membership and replication factor. */
  default Placed placement(byte[] hash) {
    return new Placed(true, others(), writeQuorum(), List.of());
  }
}
