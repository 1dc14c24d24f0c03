package io.sharefs.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;

/** A WordPress-shaped tree: ~1,500 mostly small files in nested directories, a few large ones, links. */
final class TreeFixture {
  private TreeFixture() {}

  static int build(Path root, int files, long seed) throws IOException {
    Random r = new Random(seed);
    int made = 0;
    for (int d = 0; made < files; d++) {
      Path dir = root.resolve("wp-content/plugins/plugin-" + (d / 10)).resolve("inc-" + (d % 10));
      Files.createDirectories(dir);
      for (int f = 0; f < 10 && made < files; f++, made++) {
        int size = r.nextInt(100) < 97 ? r.nextInt(12 * 1024) : 100_000 + r.nextInt(3 << 20);
        byte[] data = new byte[size];
        r.nextBytes(data);
        Path p = dir.resolve("file-" + f + (f % 3 == 0 ? ".php" : f % 3 == 1 ? ".js" : ".css"));
        Files.write(p, data);
        if (f % 4 == 0) {
          Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Files.setLastModifiedTime(p, FileTime.fromMillis(1_600_000_000_000L + r.nextInt(1_000_000) * 1000L));
      }
    }
    Path uploads = root.resolve("wp-content/uploads/2026/11");
    Files.createDirectories(uploads);
    Files.write(uploads.resolve("empty.txt"), new byte[0]);
    Files.createSymbolicLink(root.resolve("wp-content/latest"), Path.of("uploads/2026/11"));
    Files.createLink(uploads.resolve("hardlink.php"), root.resolve("wp-content/plugins/plugin-0/inc-0/file-0.php"));
    return made;
  }
}
