package io.sharefs.block.grpc;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.util.MutableHandlerRegistry;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.sharefs.tls.HandshakeLog;
import io.sharefs.tls.PeerAuth;
import io.sharefs.tls.TlsIdentity;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A node's gRPC server over TLS: every service behind the role check it was registered with. Services
 * can be added after start ({@link #add}): until then their calls end with UNIMPLEMENTED.
 */
public final class NodeServer implements AutoCloseable {
  private final Server server;
  private final MutableHandlerRegistry late;
  private final CallErrors errors;

  private NodeServer(Server server, MutableHandlerRegistry late, CallErrors errors) {
    this.server = server;
    this.late = late;
    this.errors = errors;
  }

  /** A service and who may call it. */
  public record Guarded(BindableService service, PeerAuth auth) {}

  public static NodeServer start(String what, String host, int port, TlsIdentity identity, List<Guarded> services,
      CallErrors errors) throws IOException {
    HandshakeLog.install();
    MutableHandlerRegistry late = new MutableHandlerRegistry();
    NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(host, port),
        identity.serverCredentials()).maxInboundMessageSize(8 << 20).fallbackHandlerRegistry(late);
    for (Guarded g : services) {
      b.addService(guard(g, errors));
    }
    try {
      return new NodeServer(b.build().start(), late, errors);
    } catch (IOException e) {
      throw new IOException("cannot listen on " + host + ":" + port + " for " + what + ": " + rootMessage(e), e);
    }
  }

  /** Interceptors run last-added first: authentication, then error counting sees refusals too. */
  private static ServerServiceDefinition guard(Guarded g, CallErrors errors) {
    return ServerInterceptors.intercept(g.service(), g.auth(), errors.server());
  }

  /** Serves one more service from now on (one whose implementation needs what starts after the server). */
  public void add(Guarded g) {
    late.addService(guard(g, errors));
  }

  /** The innermost message of a failure chain (its class name where it has none). */
  public static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
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
