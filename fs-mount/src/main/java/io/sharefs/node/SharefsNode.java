package io.sharefs.node;

import io.sharefs.block.rocks.RocksBlockStore;
import io.sharefs.fuse.FuseAdapter;
import io.sharefs.fuse.OpObserver;
import io.sharefs.meta.ratis.RaftConfig;
import io.sharefs.meta.ratis.RaftMetaStore;
import io.sharefs.meta.table.MetaTables;
import io.sharefs.vfs.Vfs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One sharefs node: metadata peer, block store, VFS and (optionally) the FUSE mount, started and stopped together. */
public final class SharefsNode implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SharefsNode.class);

  private final NodeConfig config;
  private final List<AutoCloseable> resources = new ArrayList<>();
  private DataDirLock lock;
  private RaftMetaStore meta;
  private RocksBlockStore blocks;
  private Vfs vfs;
  private FuseMount mount;

  private SharefsNode(NodeConfig config) {
    this.config = config;
  }

  /** Starts the node; on any failure everything already started is stopped again. */
  public static SharefsNode start(NodeConfig config) throws IOException {
    SharefsNode n = new SharefsNode(config);
    try {
      n.doStart();
      return n;
    } catch (IOException | RuntimeException e) {
      n.close();
      throw e;
    }
  }

  private void doStart() throws IOException {
    if (config.mountPoint() != null) {
      checkMountPoint(config.mountPoint(), config.allowNonEmpty());
      FuseAdapter.checkLibfuse();
    }
    lock = DataDirLock.acquire(config.dataDir());
    blocks = RocksBlockStore.open(config.dataDir().resolve("blocks"));
    MetaTables tables = MetaTables.open(config.dataDir().resolve("meta"));
    RaftConfig rc = new RaftConfig(config.nodeId(), config.peers(), config.dataDir().resolve("raft"),
        config.snapshotEvery(), RaftConfig.DEFAULT_WRITE_TIMEOUT_MS);
    try {
      meta = RaftMetaStore.start(rc, tables);
    } catch (IOException | RuntimeException e) {
      tables.close();
      throw new IOException("cannot start the metadata peer on " + config.listen() + ": " + rootMessage(e), e);
    }
    try {
      if (!meta.awaitLeader(30_000)) {
        throw new IOException("no metadata leader elected within 30 s (are the peers reachable?)");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    }
    vfs = new Vfs(meta, blocks, config.vfs(), config.dataDir());
    vfs.recoverOrphans();
    if (config.mountPoint() != null) {
      mount = FuseMount.mount(new FuseAdapter(vfs, OpObserver.NONE), config.mountPoint(), mountOptions(), 15_000);
      LOG.info("sharefs node {} mounted at {}", config.nodeId(), config.mountPoint());
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }

  List<String> mountOptions() {
    List<String> o = new ArrayList<>(List.of("fsname=sharefs", "subtype=sharefs", "allow_other",
        "default_permissions", "use_ino", "big_writes", "max_write=131072", "max_read=131072",
        "negative_timeout=0"));
    o.add(String.format(Locale.ROOT, "attr_timeout=%s", config.attrTimeout()));
    o.add(String.format(Locale.ROOT, "entry_timeout=%s", config.entryTimeout()));
    switch (config.kernelCache()) {
      case "auto" -> o.add("auto_cache");
      case "keep" -> o.add("kernel_cache");
      case "off" -> o.add("direct_io");
      default -> throw new IllegalArgumentException("unknown kernel cache policy " + config.kernelCache());
    }
    if (config.allowNonEmpty()) {
      o.add("nonempty");
    }
    return o;
  }

  static void checkMountPoint(Path mp, boolean allowNonEmpty) throws IOException {
    if (FuseMount.isStale(mp)) {
      LOG.warn("clearing a stale FUSE mount at {} left by a stopped process", mp);
      FuseMount.unmount(mp);
    } else if (FuseMount.isMounted(mp) && Files.isDirectory(mp)) {
      String fs = Files.getFileStore(mp).type();
      if (fs.startsWith("fuse.sharefs") || fs.equals("fuse")) {
        throw new IOException("mountpoint " + mp + " is already mounted (" + fs + ")");
      }
    }
    if (!Files.exists(mp)) {
      throw new IOException("mountpoint " + mp + " does not exist");
    }
    if (!Files.isDirectory(mp)) {
      throw new IOException("mountpoint " + mp + " is not a directory");
    }
    if (!allowNonEmpty) {
      try (var s = Files.list(mp)) {
        if (s.findAny().isPresent()) {
          throw new IOException("mountpoint " + mp + " is not empty (its files would be hidden; pass --nonempty to mount anyway)");
        }
      }
    }
  }

  public Vfs vfs() {
    return vfs;
  }

  public RaftMetaStore meta() {
    return meta;
  }

  public RocksBlockStore blocks() {
    return blocks;
  }

  public FuseMount mount() {
    return mount;
  }

  @Override
  public void close() {
    if (mount != null) {
      mount.close();
      mount = null;
    }
    if (vfs != null) {
      vfs.close();
      vfs = null;
    }
    if (meta != null) {
      meta.close();
      meta = null;
    }
    if (blocks != null) {
      blocks.close();
      blocks = null;
    }
    if (lock != null) {
      try {
        lock.close();
      } catch (IOException e) {
        LOG.warn("releasing data dir lock", e);
      }
      lock = null;
    }
  }
}
