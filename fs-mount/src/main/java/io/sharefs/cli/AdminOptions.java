package io.sharefs.cli;

import io.sharefs.node.NodeConfig;
import io.sharefs.node.admin.AdminClient;
import io.sharefs.tls.TlsIdentity;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options every admin command shares: which node to ask, with which certificate, and the output form. */
final class AdminOptions {
  static final String TLS_ENV = "SHAREFS_TLS_DIR";

  @Option(names = "--node", defaultValue = "127.0.0.1:7100", paramLabel = "HOST:PORT",
      description = "The node to ask, by its --listen address; its admin port is PORT + 3 (default: ${DEFAULT-VALUE}).")
  String node;

  @Option(names = "--admin", paramLabel = "HOST:PORT",
      description = "The node's admin address, when it was mounted with another --admin-listen.")
  String admin;

  @Option(names = "--tls-dir", paramLabel = "DIR",
      description = "An admin (or node) certificate from the cluster CA: ca.crt, tls.crt, tls.key "
          + "(or set " + TLS_ENV + ").")
  Path tlsDir;

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "Use a lone node's own certificate from DIR/tls/node.")
  Path dataDir;

  @Option(names = "--json", description = "Print JSON for scripts.")
  boolean json;

  TlsIdentity identity() throws IOException {
    Path dir = tlsDir;
    if (dir == null && System.getenv(TLS_ENV) != null) {
      dir = Path.of(System.getenv(TLS_ENV));
    }
    if (dir == null && dataDir != null) {
      dir = dataDir.resolve("tls").resolve("node");
    }
    if (dir == null) {
      throw new IOException("admin commands need a certificate from the cluster CA: pass --tls-dir DIR (see "
          + "`sharefs ca issue --admin`), set " + TLS_ENV + ", or for a lone node --data-dir DIR");
    }
    return TlsIdentity.load(dir);
  }

  /** The admin address: --admin, else the --node host with its port + 3. */
  String adminAddress() {
    return admin != null ? admin : NodeConfig.adminAddress(node);
  }

  AdminClient client() throws IOException {
    return new AdminClient(adminAddress(), identity());
  }
}
