package io.sharefs.bench;

import io.sharefs.node.FuseMount;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Two mounts of {@code bench/fuse-floor}, a C passthrough over one local directory, with sharefs'
 * kernel-cache options: the writer writes through one, the reader reads through the other. Nothing is
 * replicated, so its figures are what FUSE through libfuse 2's high-level API costs on this machine,
 * the floor under anything sharefs can reach. The reader's kernel hears of no change made through the
 * writer's mount, so figures that need that (a renamed or removed name seen by the reader) are skipped.
 */
final class FuseFloorTarget implements Target {
  /** sharefs' mount options with its defaults in a cluster (SharefsNode.mountOptions). */
  static final String OPTIONS = "fsname=fuse-floor,allow_other,default_permissions,use_ino,big_writes,"
      + "max_write=131072,max_read=131072,negative_timeout=0,attr_timeout=10,entry_timeout=30,kernel_cache";

  private final Path writer;
  private final Path reader;
  private final List<Process> processes = new ArrayList<>();

  FuseFloorTarget(Path root, Path binary) throws Exception {
    if (!Files.isExecutable(binary)) {
      throw new IOException("fuse-floor binary missing at " + binary + " (bench/run builds it)");
    }
    Path backing = Files.createDirectories(root.resolve("backing"));
    this.writer = Files.createDirectories(root.resolve("w"));
    this.reader = Files.createDirectories(root.resolve("r"));
    try {
      for (Path mp : List.of(writer, reader)) {
        processes.add(new ProcessBuilder(binary.toString(), backing.toString(), mp.toString(), "-f", "-o", OPTIONS)
            .redirectErrorStream(true).redirectOutput(root.resolve(mp.getFileName() + ".log").toFile()).start());
      }
      long deadline = System.currentTimeMillis() + 30_000;
      while (!FuseMount.isMounted(writer) || !FuseMount.isMounted(reader)) {
        for (Process p : processes) {
          if (!p.isAlive()) {
            throw new IOException("fuse-floor exited with " + p.exitValue() + ": see " + root + "/*.log");
          }
        }
        if (System.currentTimeMillis() > deadline) {
          throw new IOException("fuse-floor did not mount within 30 s: see " + root + "/*.log");
        }
        Thread.sleep(20);
      }
    } catch (Exception e) {
      close();
      throw e;
    }
  }

  @Override
  public String name() {
    return "fuse-floor";
  }

  @Override
  public Path writer() {
    return writer;
  }

  @Override
  public Path reader() {
    return reader;
  }

  @Override
  public boolean readerSeesChangesToNamesItCached() {
    return false;
  }

  @Override
  public List<ProcessHandle> processes() {
    return List.of();
  }

  @Override
  public void close() {
    for (Path mp : List.of(writer, reader)) {
      if (FuseMount.isMounted(mp)) {
        FuseMount.unmount(mp);
      }
    }
    processes.forEach(Target::stop);
  }
}
