package io.sharefs.node.admin;

import io.sharefs.meta.ratis.RaftMetaStore.Member;
import java.util.List;

/** One node's view of itself and the cluster, as `sharefs status` shows it. */
public record NodeStatus(String nodeId, String role, long term, String leaderId, long commitIndex, long appliedIndex,
    List<Member> members, long blocks, long blockBytes, long pullQueue, long replicationPending, long inodes,
    long logBytes, long diskFreeBytes, String version, int maxVoters, int replication, long underReplicated) {

  public long lag() {
    return Math.max(0, commitIndex - appliedIndex);
  }
}
