package io.sharefs.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** lsyncd + rsync mirroring directory A to B, as the common WordPress recipe does. */
final class LsyncdTarget implements Target {
  private final Path a;
  private final Path b;
  private final int delay;
  private final Process process;

  LsyncdTarget(Path root, int delay) throws Exception {
    this.delay = delay;
    this.a = Files.createDirectories(root.resolve("A"));
    this.b = Files.createDirectories(root.resolve("B"));
    Path conf = root.resolve("lsyncd.conf");
    Files.writeString(conf, String.join("\n",
        "settings { nodaemon = true, insist = true, inotifyMode = \"CloseWrite or Modify\" }",
        "sync { default.rsync, source = \"" + a + "/\", target = \"" + b + "/\", delay = " + delay + ",",
        "  rsync = { archive = true, whole_file = true } }", ""));
    process = new ProcessBuilder("lsyncd", conf.toString()).redirectErrorStream(true)
        .redirectOutput(root.resolve("lsyncd.log").toFile()).start();
    // Ready once a marker written to A shows up in B.
    Path marker = a.resolve(".bench-ready");
    Files.writeString(marker, "x");
    long deadline = System.currentTimeMillis() + 60_000;
    while (!Files.exists(b.resolve(".bench-ready"))) {
      if (!process.isAlive() || System.currentTimeMillis() > deadline) {
        throw new IOException("lsyncd did not start: " + Files.readString(root.resolve("lsyncd.log")));
      }
      Thread.sleep(20);
    }
  }

  @Override
  public String name() {
    return "lsyncd-delay" + delay;
  }

  @Override
  public Path writer() {
    return a;
  }

  @Override
  public Path reader() {
    return b;
  }

  @Override
  public List<ProcessHandle> processes() {
    return List.of();
  }

  @Override
  public void close() {
    Target.stop(process);
  }
}
