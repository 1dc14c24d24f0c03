package io.sharefs.block.replica;

import io.sharefs.block.BlockHash;
import io.sharefs.block.BlockStore;
import io.sharefs.block.BlockStoreException;
import io.sharefs.block.CorruptBlockException;
import io.sharefs.block.grpc.BlockClient;
import io.sharefs.block.rocks.RocksBlockStore;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's block store in a cluster: blocks are written locally and pushed at once to the other
 * members they belong on ({@link Peers#placement}: every member, or R chosen by rendezvous hashing);
 * {@link #awaitReplicated} holds a commit until the required copies exist. Reads come from the local
 * store; a missing block is fetched from a peer (verified, and kept if it belongs here), and a
 * corrupt local copy is replaced by a good one from a peer. A background puller fetches the blocks
 * of files committed elsewhere that belong here.
 */
public final class ReplicatingBlockStore implements BlockStore {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicatingBlockStore.class);

  private final RocksBlockStore local;
  private final BlockClient client;
  private final Peers peers;
  private final long timeoutMs;
  private final Map<ByteBuffer, Pending> pending = new ConcurrentHashMap<>();
  private final LinkedBlockingQueue<byte[]> pullQueue = new LinkedBlockingQueue<>();
  private final Thread puller;
  private volatile boolean closed;
  private final AtomicLong fetchedFromPeers = new AtomicLong();
  private final AtomicLong localHits = new AtomicLong();
  private final AtomicLong localMisses = new AtomicLong();
  private final AtomicLong repairedCorrupt = new AtomicLong();
  /** Blocks written here whose push to one of their places failed, and those places. */
  private final Map<ByteBuffer, java.util.Set<String>> missingOn = new ConcurrentHashMap<>();
  private static final int MISSING_MAX = 100_000;
  private static final String LOCAL = "";
  private final Thread repusher;

  private static final class Pending {
    final CompletableFuture<Void> quorum = new CompletableFuture<>();
    final AtomicInteger acks = new AtomicInteger();
    final AtomicInteger failures = new AtomicInteger();
    volatile String lastError = "";
  }

  public ReplicatingBlockStore(RocksBlockStore local, BlockClient client, Peers peers, long timeoutMs) {
    this.local = local;
    this.client = client;
    this.peers = peers;
    this.timeoutMs = timeoutMs;
    this.puller = new Thread(this::pullLoop, "block-puller");
    puller.setDaemon(true);
    puller.start();
    this.repusher = new Thread(this::repushLoop, "block-repusher");
    repusher.setDaemon(true);
    repusher.start();
  }

  public RocksBlockStore local() {
    return local;
  }

  @Override
  public byte[] put(byte[] data, int off, int len) {
    byte[] hash = local.put(data, off, len);
    Peers.Placed placed = peers.placement(hash);
    List<String> others = placed.others();
    int needed = Math.min(placed.required() - (placed.self() ? 1 : 0), others.size());
    if (others.isEmpty()) {
      return hash;
    }
    ByteBuffer key = ByteBuffer.wrap(hash);
    if (pending.containsKey(key)) {
      return hash;
    }
    Pending p = new Pending();
    if (needed <= 0) {
      p.quorum.complete(null);
    }
    pending.put(key, p);
    byte[] copy = Arrays.copyOfRange(data, off, off + len);
    java.util.Queue<String> spare = new java.util.concurrent.ConcurrentLinkedQueue<>();
    if (!placed.self()) {
      spare.add(LOCAL); // the writer's own copy is the first stand-in for an unreachable place
    }
    spare.addAll(placed.fallbacks());
    int total = others.size() + spare.size();
    for (String peer : others) {
      push(p, peer, true, hash, copy, needed, total, spare);
    }
    return hash;
  }

  /** Sends one copy; a failed place is remembered for re-pushing and replaced by the next fallback. */
  private void push(Pending p, String peer, boolean place, byte[] hash, byte[] copy, int needed, int total,
      java.util.Queue<String> spare) {
    client.put(peer, hash, copy, 0, copy.length).whenComplete((v, e) -> {
      if (e == null) {
        if (p.acks.incrementAndGet() >= needed) {
          p.quorum.complete(null);
        }
        return;
      }
      p.lastError = peer + ": " + e.getMessage();
      if (place && missingOn.size() < MISSING_MAX) {
        missingOn.computeIfAbsent(ByteBuffer.wrap(hash), k -> ConcurrentHashMap.newKeySet()).add(peer);
      }
      if (total - p.failures.incrementAndGet() < needed) {
        p.quorum.completeExceptionally(new BlockStoreException("block " + BlockHash.hex(hash)
            + " reached only " + (1 + p.acks.get()) + " of " + (needed + 1) + " copies (" + p.lastError + ")", e,
            false));
        return;
      }
      String next = p.acks.get() < needed ? spare.poll() : null;
      if (LOCAL.equals(next)) {
        LOG.info("block {}: {} unreachable, keeping this node's copy in its place until rebalance",
            BlockHash.hex(hash), peer);
        if (p.acks.incrementAndGet() >= needed) {
          p.quorum.complete(null);
        }
      } else if (next != null) {
        LOG.info("block {}: {} unreachable, placing the copy on {} until rebalance", BlockHash.hex(hash), peer, next);
        push(p, next, false, hash, copy, needed, total, spare);
      }
    });
  }

  @Override
  public void awaitReplicated(List<byte[]> hashes) {
    local.awaitReplicated(hashes); // this node's copy counts too: make it durable (peers sync before they ack)
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    for (byte[] h : hashes) {
      ByteBuffer key = ByteBuffer.wrap(h);
      Pending p = pending.get(key);
      if (p == null) {
        continue;
      }
      try {
        p.quorum.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        pending.remove(key, p);
      } catch (TimeoutException e) {
        throw new BlockStoreException("block " + BlockHash.hex(h) + " not replicated to a quorum within "
            + timeoutMs + " ms (" + p.lastError + ")", e, false);
      } catch (java.util.concurrent.ExecutionException e) {
        pending.remove(key, p);
        throw (BlockStoreException) e.getCause();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new BlockStoreException("interrupted", e, false);
      }
    }
  }

  @Override
  public byte[] get(byte[] hash) {
    try {
      byte[] v = local.get(hash);
      if (v != null) {
        localHits.incrementAndGet();
        return v;
      }
      localMisses.incrementAndGet();
    } catch (CorruptBlockException e) {
      LOG.error("{}; fetching a good copy from a peer", e.getMessage());
      byte[] good = fetch(hash);
      if (good == null) {
        throw e;
      }
      repairedCorrupt.incrementAndGet();
      return good;
    }
    return fetch(hash);
  }

  /**
   * Fetches a block from the first peer that has a good copy (its places first), keeping it locally if
   * it belongs here; null if none has it.
   */
  private byte[] fetch(byte[] hash) {
    Peers.Placed placed = peers.placement(hash);
    java.util.LinkedHashSet<String> order = new java.util.LinkedHashSet<>(placed.others());
    order.addAll(peers.others());
    for (String peer : order) {
      try {
        byte[] data = client.get(peer, hash);
        if (data != null) {
          if (placed.self() || local.has(hash)) {
            try {
              local.putVerified(hash, data);
              local.sync(); // fsck and rebalance count this copy once it is here: it must outlive a power loss
            } catch (io.sharefs.block.CorruptBlockException e) {
              throw e;
            } catch (RuntimeException e) {
              // e.g. the local disk is down to its headroom: serve the read anyway
              LOG.warn("keeping fetched block {} locally failed: {}", BlockHash.hex(hash), e.getMessage());
            }
          }
          fetchedFromPeers.incrementAndGet();
          return data;
        }
      } catch (Exception e) {
        LOG.warn("fetching block {} from {} failed: {}", BlockHash.hex(hash), peer, e.toString());
      }
    }
    return null;
  }

  /** Queues blocks of a file committed elsewhere that belong here, to be pulled in the background if absent. */
  public void prefetch(List<byte[]> hashes) {
    for (byte[] h : hashes) {
      if (peers.placement(h).self()) {
        pullQueue.add(h);
      }
    }
  }

  public int pullQueueLength() {
    return pullQueue.size();
  }

  public long fetchedFromPeers() {
    return fetchedFromPeers.get();
  }

  public long localHits() {
    return localHits.get();
  }

  public long localMisses() {
    return localMisses.get();
  }

  public int replicationPending() {
    return pending.size();
  }

  /** Blocks written here still missing on at least one of their places (a push failed; retried). */
  public int underReplicated() {
    return missingOn.size();
  }

  /**
   * Every 2 s, offers each block whose push failed to the places still lacking it: a place that has
   * it meanwhile (it pulled it) or accepts it now is done; the rest wait for the next round.
   */
  private void repushLoop() {
    while (!closed) {
      try {
        Thread.sleep(2000);
      } catch (InterruptedException e) {
        return;
      }
      for (Map.Entry<ByteBuffer, java.util.Set<String>> e : missingOn.entrySet()) {
        byte[] hash = new byte[e.getKey().remaining()];
        e.getKey().duplicate().get(hash);
        java.util.Set<String> places = new java.util.HashSet<>(peers.placement(hash).others());
        for (String peer : e.getValue()) {
          if (closed) {
            return;
          }
          if (!places.contains(peer)) {
            e.getValue().remove(peer); // no longer one of its places (membership or factor changed)
            continue;
          }
          try {
            if (!client.has(peer, hash)) {
              byte[] data = local.get(hash);
              if (data == null) {
                continue; // not here any more: fsck will find it if nobody has it
              }
              client.put(peer, hash, data, 0, data.length).get(timeoutMs, TimeUnit.MILLISECONDS);
            }
            e.getValue().remove(peer);
          } catch (Exception ex) {
            LOG.debug("re-push of {} to {} failed: {}", BlockHash.hex(hash), peer, ex.toString());
          }
        }
        if (e.getValue().isEmpty()) {
          missingOn.remove(e.getKey());
        }
      }
    }
  }

  private void pullLoop() {
    while (!closed) {
      byte[] h;
      try {
        h = pullQueue.poll(200, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        return;
      }
      if (h == null || local.has(h)) {
        continue;
      }
      if (fetch(h) == null) {
        LOG.debug("block {} not yet available from any peer; retrying later", BlockHash.hex(h));
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          return;
        }
        pullQueue.add(h);
      }
    }
  }

  @Override
  public boolean has(byte[] hash) {
    return local.has(hash);
  }

  @Override
  public void delete(byte[] hash) {
    local.delete(hash);
  }

  @Override
  public void sync() {
    local.sync();
  }

  @Override
  public long blockCount() {
    return local.blockCount();
  }

  @Override
  public long storedBytes() {
    return local.storedBytes();
  }

  @Override
  public void close() {
    closed = true;
    puller.interrupt();
    repusher.interrupt();
    try {
      puller.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
