package io.sharefs.node.admin;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Threads for asking every member at once. Those asks block on the network for seconds when a member
 * is down, so they must not run on the JDK's common pool: it has two workers on a 2-CPU node, which
 * Ratis shares, and the asks would queue behind each other past the admin client's deadline.
 */
final class FanOut {
  private FanOut() {}

  /** One daemon thread per member asked; shut it down when the answers are in. */
  static ExecutorService threads(String name, int members) {
    AtomicInteger n = new AtomicInteger();
    return Executors.newFixedThreadPool(Math.max(1, members), r -> {
      Thread t = new Thread(r, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }
}
