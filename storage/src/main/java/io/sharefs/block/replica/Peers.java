package io.sharefs.block.replica;

import java.util.List;

/** Who else holds blocks, and how many copies make a write durable. */
public interface Peers {
  /** Block-service addresses (host:port) of every other current member. */
  List<String> others();

  /** Copies (this node's included) a block needs before its file may be committed. */
  int writeQuorum();
}
