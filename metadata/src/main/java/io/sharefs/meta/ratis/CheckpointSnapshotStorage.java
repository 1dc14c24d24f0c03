package io.sharefs.meta.ratis;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.SnapshotRetentionPolicy;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.impl.FileListSnapshotInfo;

/**
 * Snapshots are RocksDB checkpoints of the metadata tables, one directory each:
 * {@code <sm dir>/snapshot.<term>_<index>/}. A checkpoint hard-links the SST files, so taking one
 * is cheap; the newest few are kept.
 */
final class CheckpointSnapshotStorage implements StateMachineStorage {
  static final Pattern NAME = Pattern.compile("snapshot\\.(\\d+)_(\\d+)");

  private volatile File smDir;
  private volatile SnapshotInfo latest;

  @Override
  public void init(RaftStorage storage) throws IOException {
    this.smDir = storage.getStorageDir().getStateMachineDir().toPath().resolve("snapshots").toFile();
    Files.createDirectories(smDir.toPath());
    Files.createDirectories(tmpDir());
    this.latest = scanLatest();
  }

  /** Re-reads the newest snapshot from disk (after one was installed from the leader). */
  void rescan() throws IOException {
    this.latest = scanLatest();
  }

  Path dirFor(long term, long index) {
    return smDir.toPath().resolve("snapshot." + term + "_" + index);
  }

  /** Outside the snapshots dir: Ratis replaces that whole dir when it installs a snapshot. */
  Path tmpDir() {
    return smDir.toPath().resolveSibling("snapshot-tmp");
  }

  /** Records a just-written checkpoint as the latest snapshot. */
  void published(long term, long index) throws IOException {
    this.latest = describe(dirFor(term, index), term, index);
  }

  @Override
  public SnapshotInfo getLatestSnapshot() {
    return latest;
  }

  @Override
  public void format() {}

  @Override
  public void cleanupOldSnapshots(SnapshotRetentionPolicy policy) throws IOException {
    int keep = Math.max(1, policy.getNumSnapshotsRetained());
    List<Path> all = list();
    for (int i = 0; i < all.size() - keep; i++) {
      deleteTree(all.get(i));
    }
  }

  @Override
  public File getSnapshotDir() {
    return smDir;
  }

  @Override
  public File getTmpDir() {
    return tmpDir().toFile();
  }

  SnapshotInfo scanLatest() throws IOException {
    List<Path> all = list();
    if (all.isEmpty()) {
      return null;
    }
    Path newest = all.get(all.size() - 1);
    Matcher m = NAME.matcher(newest.getFileName().toString());
    m.matches();
    return describe(newest, Long.parseLong(m.group(1)), Long.parseLong(m.group(2)));
  }

  /** Snapshot directories, oldest first. */
  List<Path> list() throws IOException {
    if (smDir == null || !Files.isDirectory(smDir.toPath())) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(smDir.toPath())) {
      return s.filter(p -> NAME.matcher(p.getFileName().toString()).matches() && Files.isDirectory(p))
          .sorted(Comparator.comparingLong(CheckpointSnapshotStorage::indexOf))
          .toList();
    }
  }

  static long indexOf(Path p) {
    Matcher m = NAME.matcher(p.getFileName().toString());
    return m.matches() ? Long.parseLong(m.group(2)) : -1;
  }

  static SnapshotInfo describe(Path dir, long term, long index) throws IOException {
    List<FileInfo> files = new ArrayList<>();
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : s.sorted().toList()) {
        if (p.getFileName().toString().endsWith(".md5")) {
          continue; // written by Ratis next to each installed file
        }
        files.add(new FileInfo(p, null));
      }
    }
    return new FileListSnapshotInfo(files, TermIndex.valueOf(term, index));
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
