package io.sharefs.block.grpc;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The node's own gRPC server (block and admin services), every call checked against the cluster secret. */
public final class NodeServer implements AutoCloseable {
  private final Server server;

  private NodeServer(Server server) {
    this.server = server;
  }

  public static NodeServer start(String host, int port, ClusterSecret secret, List<BindableService> services)
      throws IOException {
    NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(host, port))
        .maxInboundMessageSize(8 << 20);
    for (BindableService s : services) {
      b.addService(ServerInterceptors.intercept(s, secret.serverInterceptor()));
    }
    try {
      return new NodeServer(b.build().start());
    } catch (IOException e) {
      throw new IOException("cannot listen on " + host + ":" + port + " for node traffic: " + rootMessage(e), e);
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
