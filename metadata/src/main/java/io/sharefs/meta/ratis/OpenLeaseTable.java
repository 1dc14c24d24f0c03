package io.sharefs.meta.ratis;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The leader's record of the open leases it granted: for each node, the latest moment its lease can
 * last until (answer time + the length granted; the node counts from when it asked, which is
 * earlier), and nodes refused new leases for a while after a writer could not reach them.
 * Times are {@link System#nanoTime}.
 */
final class OpenLeaseTable {
  private final Map<String, Long> until = new HashMap<>();
  private final Map<String, Long> refusedUntil = new HashMap<>();

  /** Records a lease of {@code validNanos} answered at {@code now}; 0 if the node is being refused. */
  synchronized long grant(String node, long validNanos, long now) {
    Long refused = refusedUntil.get(node);
    if (refused != null) {
      if (refused - now > 0) {
        return 0;
      }
      refusedUntil.remove(node);
    }
    until.merge(node, now + validNanos, (a, b) -> b - a > 0 ? b : a);
    return validNanos;
  }

  /** The nodes whose lease may still be valid at {@code now}. */
  synchronized List<String> holders(long now) {
    if (until.isEmpty()) {
      return List.of(); // every entry on the leader asks, leases or not
    }
    List<String> out = new ArrayList<>(until.size());
    until.entrySet().removeIf(e -> e.getValue() - now <= 0);
    until.keySet().forEach(out::add);
    return out;
  }

  /**
   * Refuses the node new leases for {@code holdOffNanos}; returns how long its current lease may
   * still run (nanos), which the caller waits out. The node stays listed as a holder until then:
   * other commits meanwhile must still wait for it (or revoke it too).
   */
  synchronized long revoke(String node, long now, long holdOffNanos) {
    refusedUntil.put(node, now + holdOffNanos);
    Long u = until.get(node);
    return u == null ? 0 : Math.max(0, u - now);
  }

  /** A new term: leases granted in earlier terms ran out with that leader's own lease. */
  synchronized void clear() {
    until.clear();
  }
}
