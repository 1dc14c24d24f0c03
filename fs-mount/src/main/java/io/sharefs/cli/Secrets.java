package io.sharefs.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the cluster secret comes from: a file, or the SHAREFS_CLUSTER_SECRET environment variable. */
final class Secrets {
  static final String ENV = "SHAREFS_CLUSTER_SECRET";

  private Secrets() {}

  /** The secret, or null on a lone node without one (the node then generates its own). */
  static String read(Path file, boolean required) throws IOException {
    String s = null;
    if (file != null) {
      if (!Files.isReadable(file)) {
        throw new IOException("secret file " + file + " cannot be read");
      }
      s = Files.readString(file).trim();
    } else if (System.getenv(ENV) != null) {
      s = System.getenv(ENV).trim();
    }
    if (s == null && required) {
      throw new IOException("a cluster needs a shared secret: pass --secret-file FILE or set " + ENV
          + " (e.g. `head -c 24 /dev/urandom | base64 > /etc/sharefs/secret` on one node, copied to all)");
    }
    if (s != null && s.length() < 16) {
      throw new IOException("the cluster secret must be at least 16 characters");
    }
    return s;
  }
}
