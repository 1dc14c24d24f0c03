package io.sharefs.tls;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.EnumSet;
import java.util.Set;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets a call through only when the caller presented a certificate from the cluster CA (the TLS
 * handshake has checked the chain) whose role is among the allowed ones. A refused call ends with
 * UNAUTHENTICATED or PERMISSION_DENIED and a log line, before any handler runs.
 */
public final class PeerAuth implements ServerInterceptor {
  private static final Logger LOG = LoggerFactory.getLogger(PeerAuth.class);

  private final Set<Role> allowed;

  private PeerAuth(Set<Role> allowed) {
    this.allowed = allowed;
  }

  public static PeerAuth allow(Role first, Role... rest) {
    return new PeerAuth(EnumSet.of(first, rest));
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    X509Certificate cert = peerCertificate(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
    String method = call.getMethodDescriptor().getFullMethodName();
    Object from = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    if (cert == null) {
      LOG.warn("refused {} from {}: no client certificate from the cluster CA", method, from);
      call.close(Status.UNAUTHENTICATED.withDescription(
          "a client certificate issued by the cluster CA is required (see `sharefs ca issue`)"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    Role role = Role.of(cert);
    if (role == null || !allowed.contains(role)) {
      LOG.warn("refused {} from {} ({}): role {} may not call it", method, from,
          cert.getSubjectX500Principal().getName(), role);
      call.close(Status.PERMISSION_DENIED.withDescription(
          "certificate role " + role + " may not call " + method), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return next.startCall(call, headers);
  }

  private static X509Certificate peerCertificate(SSLSession session) {
    if (session == null) {
      return null;
    }
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate x ? x : null;
    } catch (SSLPeerUnverifiedException e) {
      return null;
    }
  }
}
