package io.sharefs.tls;

import io.sharefs.block.grpc.NodeServer;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns grpc-netty's quiet (FINE) "TLS negotiation failed" records into one warning per refused
 * connection, so a server log shows callers that could not authenticate even when the handshake
 * broke before any certificate reached our trust manager (the caller distrusted us first, or sent none).
 */
public final class HandshakeLog {
  private static final Logger LOG = LoggerFactory.getLogger(HandshakeLog.class);
  // JUL keeps loggers weakly: hold the ones we configured.
  private static java.util.List<java.util.logging.Logger> negotiators;

  private HandshakeLog() {}

  /** Installs the bridge once per process. */
  public static synchronized void install() {
    if (negotiators != null) {
      return;
    }
    // grpc's own shaded copy (block and admin ports) and Ratis' shaded copy (the Raft port).
    negotiators = java.util.List.of(
        java.util.logging.Logger.getLogger("io.grpc.netty.shaded.io.grpc.netty.ProtocolNegotiators"),
        java.util.logging.Logger.getLogger("org.apache.ratis.thirdparty.io.grpc.netty.ProtocolNegotiators"));
    for (java.util.logging.Logger l : negotiators) {
      l.setLevel(Level.FINE);
      l.addHandler(new Handler() {
        @Override
        public void publish(LogRecord r) {
          String msg = r.getMessage();
          if (msg != null && msg.startsWith("TLS negotiation failed")) {
            LOG.warn("refused a TLS connection: handshake failed ({})", r.getThrown() == null ? "no detail" : NodeServer.rootMessage(r.getThrown()));
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      });
    }
  }

}
