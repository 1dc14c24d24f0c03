package io.sharefs.node;

import io.sharefs.block.grpc.BlockClient;
import io.sharefs.block.grpc.BlockServiceImpl;
import io.sharefs.block.grpc.NodeServer;
import io.sharefs.block.replica.ReplicatingBlockStore;
import io.sharefs.block.rocks.RocksBlockStore;
import io.sharefs.fuse.FuseAdapter;
import io.sharefs.meta.ratis.RaftConfig;
import io.sharefs.meta.ratis.RaftMetaStore;
import io.sharefs.meta.ratis.RaftMetaStore.Member;
import io.sharefs.node.admin.AdminClient;
import io.sharefs.node.admin.AdminServiceImpl;
import io.sharefs.node.admin.Fsck;
import io.sharefs.node.admin.Rebalance;
import io.sharefs.node.admin.NodeStatus;
import io.sharefs.node.tls.CertificateAuthority;
import io.sharefs.tls.PeerAuth;
import io.sharefs.tls.Role;
import io.sharefs.tls.TlsIdentity;
import org.apache.ratis.grpc.GrpcTlsConfig;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
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
  private RocksBlockStore localBlocks;
  private ReplicatingBlockStore blocks;
  private BlockClient blockClient;
  private NodeServer nodeServer;
  private NodeServer adminServer;
  private PeerProbe probe;
  private BlockCollector collector;
  private Vfs vfs;
  private FuseMount mount;
  private final NodeMetrics metrics = new NodeMetrics();

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
    TlsIdentity identity = config.tlsDir() != null ? TlsIdentity.load(config.tlsDir()) : localIdentity(config.dataDir());
    if (identity.role() != Role.NODE) {
      throw new IOException(identity.dir() + " holds an admin certificate; a node needs one issued without --admin");
    }
    localBlocks = RocksBlockStore.open(config.dataDir().resolve("blocks"));
    String dataAddress = NodeConfig.dataAddress(config.listen());
    int colon = dataAddress.lastIndexOf(':');
    PeerAuth nodesOnly = PeerAuth.allow(Role.NODE);
    nodeServer = NodeServer.start("node traffic", dataAddress.substring(0, colon),
        Integer.parseInt(dataAddress.substring(colon + 1)), identity,
        List.of(new NodeServer.Guarded(new BlockServiceImpl(localBlocks), nodesOnly)), metrics);
    int ac = config.admin().lastIndexOf(':');
    adminServer = NodeServer.start("admin", config.admin().substring(0, ac),
        Integer.parseInt(config.admin().substring(ac + 1)), identity,
        List.of(), metrics);
    blockClient = new BlockClient(identity, 10_000, metrics);
    MetaTables tables = MetaTables.open(config.dataDir().resolve("meta"));
    Path raftDir = config.dataDir().resolve("raft");
    Map<String, String> peers = config.peers();
    Set<String> listeners = Set.of();
    boolean joining = config.join() != null && !hasRaftState(raftDir);
    if (joining) {
      // Start with the cluster's current members; we are added to them once our server runs.
      try (AdminClient seed = new AdminClient(NodeConfig.dataAddress(config.join()), identity)) {
        AdminClient.Members m = seed.members();
        peers = new LinkedHashMap<>();
        Set<String> ls = new java.util.HashSet<>();
        for (Member x : m.members()) {
          peers.put(x.id(), x.address());
          if (!x.voter()) {
            ls.add(x.id());
          }
        }
        if (peers.containsKey(config.nodeId())) {
          throw new IOException("a member named " + config.nodeId() + " already exists in the cluster at " + config.join());
        }
        boolean voter = m.members().stream().filter(Member::voter).count() < m.maxVoters();
        peers.put(config.nodeId(), config.listen());
        if (!voter) {
          ls.add(config.nodeId());
        }
        listeners = ls;
      } catch (IOException e) {
        tables.close();
        throw new IOException("cannot join the cluster at " + config.join() + ": " + e.getMessage(), e);
      }
    }
    RaftConfig rc = new RaftConfig(config.nodeId(), peers, raftDir,
        config.snapshotEvery(), config.writeTimeoutMs(), config.segmentBytes(), listeners,
        new GrpcTlsConfig(identity.keyManager(), identity.trustManager(), true))
        .withElectionTimeout(config.electionTimeoutMs());
    try {
      meta = RaftMetaStore.start(rc, tables);
    } catch (IOException | RuntimeException e) {
      tables.close();
      throw new IOException("cannot start the metadata peer on " + config.listen() + ": " + NodeServer.rootMessage(e), e);
    }
    if (joining) {
      try (AdminClient seed = new AdminClient(NodeConfig.dataAddress(config.join()), identity)) {
        seed.addMember(new Member(config.nodeId(), config.listen(), !listeners.contains(config.nodeId())));
        LOG.info("joined the cluster through {} as {}", config.join(),
            listeners.contains(config.nodeId()) ? "listener" : "voter");
      }
    }
    try {
      if (!meta.awaitLeader(30_000)) {
        throw new IOException("no metadata leader elected within 30 s (are the peers reachable?)");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    }
    blocks = new ReplicatingBlockStore(localBlocks, blockClient, new RaftPeers(meta), config.writeTimeoutMs());
    meta.stateMachine().setApplyListener(r -> {
      if (r.inode() != null && !r.inode().blocks().isEmpty()) {
        blocks.prefetch(missing(r.inode()));
      }
    });
    Thread catchUp = new Thread(this::pullMissingBlocks, "block-catch-up");
    catchUp.setDaemon(true);
    catchUp.start();
    meta.stateMachine().setSnapshotInstalledListener(this::pullMissingBlocks);
    AdminServiceImpl admin = new AdminServiceImpl(meta, this::status, config.maxVoters(), m -> {
      try (AdminClient peer = new AdminClient(NodeConfig.dataAddress(m.address()), identity)) {
        return peer.status();
      }
    }, () -> new Fsck(meta, meta.tables(), blockClient, meta.memberList(), m -> NodeConfig.dataAddress(m.address())),
        (sources, targets) -> new Rebalance(meta.tables(), blockClient, sources, targets,
            m -> NodeConfig.dataAddress(m.address())),
        "1".equals(System.getenv("SHAREFS_TEST_HOOKS")) ? this::testHook : null);
    // Served from here on: on the node port to other nodes (joining, status), on the admin port to admins.
    nodeServer.add(new NodeServer.Guarded(admin, PeerAuth.allow(Role.NODE)));
    // Every node answers lease calls and waits for other nodes' leases when it commits; only nodes
    // mounted with --open-barrier lease ask for one.
    nodeServer.add(new NodeServer.Guarded(new LeaseRpc.Service(meta), nodesOnly));
    meta.setLeaseLink(LeaseRpc.link(blockClient, 2_000));
    if (config.openLeases()) {
      meta.enableOpenLeases();
    }
    adminServer.add(new NodeServer.Guarded(admin, PeerAuth.allow(Role.NODE, Role.ADMIN)));
    vfs = new Vfs(meta, blocks, config.vfs(), config.dataDir()).withNodeId(config.nodeId());
    vfs.recoverOrphans();
    vfs.releaseNodeLocks();
    metrics.bind(meta, blocks, vfs);
    probe = new PeerProbe(meta, blockClient);
    metrics.bindPeers(probe);
    collector = new BlockCollector(meta, localBlocks, () -> vfs, config.dataDir(), config.gcGraceMs(),
        config.gcIntervalMs());
    metrics.bindCollector(collector);
    metrics.bindDisk(config.dataDir(), localBlocks.headroom());
    if (config.metrics() != null) {
      int c = config.metrics().lastIndexOf(':');
      metrics.serve(config.metrics().substring(0, c), Integer.parseInt(config.metrics().substring(c + 1)), meta,
          () -> mount != null && !mount.loop().isDone());
    }
    if (config.mountPoint() != null) {
      FuseAdapter adapter = new FuseAdapter(vfs, metrics);
      metrics.bindFuse(adapter);
      meta.setChangeListener(adapter.kernelCache());
      mount = FuseMount.mount(adapter, config.mountPoint(), mountOptions(), 15_000);
      LOG.info("sharefs node {} mounted at {} (block hashes: SHA-256 by {})", config.nodeId(), config.mountPoint(),
          io.sharefs.block.BlockHash.implementation());
      if (!java.nio.charset.Charset.defaultCharset().equals(java.nio.charset.StandardCharsets.UTF_8)) {
        LOG.warn("the JVM's default charset is {}: file names that are not ASCII will be mangled; run with "
            + "-Dfile.encoding=UTF-8 (bin/sharefs does)", java.nio.charset.Charset.defaultCharset());
      }
    }
  }

  private static boolean hasRaftState(Path raftDir) throws IOException {
    if (!Files.isDirectory(raftDir)) {
      return false;
    }
    try (var s = Files.list(raftDir)) {
      return s.findAny().isPresent();
    }
  }

  /** What `sharefs status` reports for this node. */
  public NodeStatus status() {
    RaftMetaStore.Status s = meta.status();
    long free = -1;
    try {
      free = Files.getFileStore(config.dataDir()).getUsableSpace();
    } catch (IOException e) {
      LOG.debug("disk space", e);
    }
    return new NodeStatus(s.nodeId(), s.role(), s.term(), s.leaderId(), s.commitIndex(), s.appliedIndex(),
        meta.memberList(), blocks.blockCount(), blocks.storedBytes(), blocks.pullQueueLength(),
        blocks.replicationPending(), meta.inodeCount(), meta.logBytes(), free, version(), config.maxVoters(),
        meta.tables().replication(), blocks.underReplicated());
  }

  static String version() {
    String v = SharefsNode.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  /** Fault injection for tests: damage this node's stores the way a disk or a bug would. */
  private void testHook(io.sharefs.proto.TestHookRequestProto req) throws IOException {
    byte[] hash = req.getHash().toByteArray();
    LOG.warn("test hook: {}", req.getAction());
    switch (req.getAction()) {
      case "corrupt-block" -> {
        byte[] data = localBlocks.get(hash);
        if (data == null) {
          throw new IOException("no block " + io.sharefs.block.BlockHash.hex(hash) + " here");
        }
        data[0] ^= 0x5a;
        localBlocks.putRawForTesting(hash, data);
      }
      case "drop-block" -> localBlocks.delete(hash);
      case "put-block" -> localBlocks.putAgedForTesting(req.getData().toByteArray(),
          System.currentTimeMillis() - 2 * 3_600_000L);
      case "drop-inode" -> meta.tables().deleteInodeForTesting(req.getIno());
      default -> throw new IOException("unknown test hook " + req.getAction());
    }
  }

  /** Queues every block a committed file references that this node lacks (after a restart or join). */
  private void pullMissingBlocks() {
    try {
      meta.tables().forEachInode(i -> {
        if (!i.blocks().isEmpty() && blocks != null) {
          blocks.prefetch(missing(i));
        }
        return blocks != null;
      });
    } catch (RuntimeException e) {
      LOG.debug("block catch-up scan stopped: {}", e.toString());
    }
  }

  private List<byte[]> missing(io.sharefs.meta.Inode i) {
    List<byte[]> out = new ArrayList<>();
    for (var r : i.blocks()) {
      if (!r.isHole() && !localBlocks.has(r.hash())) {
        out.add(r.hash());
      }
    }
    return out;
  }

  /**
   * A lone node still speaks TLS on every port: with its own CA in DATA_DIR/tls/ca and a node certificate
   * in DATA_DIR/tls/node (which `sharefs status --data-dir DATA_DIR` uses), made on first start.
   */
  private TlsIdentity localIdentity(Path dataDir) throws IOException {
    Path tls = dataDir.resolve("tls");
    Path node = tls.resolve("node");
    if (!Files.exists(node.resolve(TlsIdentity.CERT))) {
      CertificateAuthority ca = CertificateAuthority.openOrCreate(tls.resolve("ca"), config.nodeId(),
          java.time.Duration.ofDays(3650));
      String host = config.listen().substring(0, config.listen().lastIndexOf(':'));
      ca.issue(config.nodeId(), Role.NODE, List.of(host), java.time.Duration.ofDays(3650), node);
    }
    return TlsIdentity.load(node);
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

  public ReplicatingBlockStore blocks() {
    return blocks;
  }

  public FuseMount mount() {
    return mount;
  }

  public NodeMetrics metrics() {
    return metrics;
  }

  @Override
  public void close() {
    metrics.close();
    if (probe != null) {
      probe.close();
      probe = null;
    }
    if (collector != null) {
      collector.close();
      collector = null;
    }
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
    if (adminServer != null) {
      adminServer.close();
      adminServer = null;
    }
    if (nodeServer != null) {
      nodeServer.close();
      nodeServer = null;
    }
    if (blockClient != null) {
      blockClient.close();
      blockClient = null;
    }
    if (localBlocks != null) {
      localBlocks.close();
      localBlocks = null;
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
