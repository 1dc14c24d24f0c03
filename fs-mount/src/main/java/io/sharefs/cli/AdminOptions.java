package io.sharefs.cli;

import io.sharefs.block.grpc.ClusterSecret;
import io.sharefs.node.NodeConfig;
import io.sharefs.node.admin.AdminClient;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options every admin command shares: which node to ask, with which secret, and the output form. */
final class AdminOptions {
  @Option(names = "--node", defaultValue = "127.0.0.1:7100", paramLabel = "HOST:PORT",
      description = "The node to ask, by its --listen address (default: ${DEFAULT-VALUE}).")
  String node;

  @Option(names = "--secret-file", paramLabel = "FILE",
      description = "Cluster secret file (or SHAREFS_CLUSTER_SECRET; a lone node's is DATA_DIR/secret).")
  Path secretFile;

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "Read a lone node's generated secret from DIR/secret.")
  Path dataDir;

  @Option(names = "--json", description = "Print JSON for scripts.")
  boolean json;

  ClusterSecret secret() throws IOException {
    Path file = secretFile;
    if (file == null && System.getenv(Secrets.ENV) == null && dataDir != null) {
      file = dataDir.resolve("secret");
    }
    String s = Secrets.read(file, true);
    return new ClusterSecret(s);
  }

  AdminClient client(String raftAddress) throws IOException {
    return new AdminClient(NodeConfig.dataAddress(raftAddress), secret());
  }
}
