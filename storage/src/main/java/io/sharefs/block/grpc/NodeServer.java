package io.sharefs.block.grpc;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.sharefs.tls.HandshakeLog;
import io.sharefs.tls.PeerAuth;
import io.sharefs.tls.TlsIdentity;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A node's gRPC server over TLS: every service behind the role check it was registered with. */
public final class NodeServer implements AutoCloseable {
  private final Server server;

  private NodeServer(Server server) {
    this.server = server;
  }

  /** A service and who may call it. */
  public record Guarded(BindableService service, PeerAuth auth) {}

  public static NodeServer start(String what, String host, int port, TlsIdentity identity, List<Guarded> services,
      CallErrors errors) throws IOException {
    HandshakeLog.install();
    NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(host, port),
        identity.serverCredentials()).maxInboundMessageSize(8 << 20);
    for (Guarded g : services) {
      // Interceptors run last-added first: authentication, then error counting sees refusals too.
      b.addService(ServerInterceptors.intercept(g.service(), g.auth(), errors.server()));
    }
    try {
      return new NodeServer(b.build().start());
    } catch (IOException e) {
      throw new IOException("cannot listen on " + host + ":" + port + " for " + what + ": " + rootMessage(e), e);
    }
  }

  private static String rootMessage(Throwable e) {
    while (e.getCause() != null) {
      e = e.getCause();
    }
    return e.getMessage();
  }

  public int port() {
    return server.getPort();
  }

  @Override
  public void close() {
    server.shutdown();
    try {
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.shutdownNow();
    }
  }
}
