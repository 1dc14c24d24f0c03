package io.sharefs.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A plain directory on the local disk: the speed limit, and trivially "identical" on the reader. */
final class LocalTarget implements Target {
  private final Path dir;

  LocalTarget(Path dir) throws IOException {
    this.dir = Files.createDirectories(dir);
  }

  @Override
  public String name() {
    return "local";
  }

  @Override
  public Path writer() {
    return dir;
  }

  @Override
  public Path reader() {
    return dir;
  }

  @Override
  public List<ProcessHandle> processes() {
    return List.of();
  }

  @Override
  public void close() {}
}
