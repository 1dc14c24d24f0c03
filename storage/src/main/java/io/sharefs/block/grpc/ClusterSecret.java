package io.sharefs.block.grpc;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared cluster secret every node-to-node and admin call carries in a header. The server side
 * refuses a call without it (UNAUTHENTICATED, with a log line) before any handler runs.
 */
public final class ClusterSecret {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterSecret.class);
  static final Metadata.Key<String> HEADER = Metadata.Key.of("sharefs-cluster-secret", Metadata.ASCII_STRING_MARSHALLER);

  private final byte[] secret;

  public ClusterSecret(String secret) {
    if (secret == null || secret.length() < 16) {
      throw new IllegalArgumentException("the cluster secret must be at least 16 characters");
    }
    this.secret = secret.getBytes(StandardCharsets.UTF_8);
  }

  /** Checks the header on every incoming call. */
  public ServerInterceptor serverInterceptor() {
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        String got = headers.get(HEADER);
        if (got == null || !MessageDigest.isEqual(secret, got.getBytes(StandardCharsets.UTF_8))) {
          LOG.warn("refused {} from {}: {} cluster secret", call.getMethodDescriptor().getFullMethodName(),
              call.getAttributes().get(io.grpc.Grpc.TRANSPORT_ATTR_REMOTE_ADDR), got == null ? "no" : "wrong");
          call.close(Status.UNAUTHENTICATED.withDescription("missing or wrong cluster secret"), new Metadata());
          return new ServerCall.Listener<>() {};
        }
        return next.startCall(call, headers);
      }
    };
  }

  /** Adds the header to outgoing calls. */
  public CallCredentials callCredentials() {
    String value = new String(secret, StandardCharsets.UTF_8);
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata m = new Metadata();
        m.put(HEADER, value);
        applier.apply(m);
      }
    };
  }
}
