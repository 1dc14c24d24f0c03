package io.sharefs.tls;

import io.grpc.ChannelCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's or admin client's TLS identity, read from one directory: {@code ca.crt} (the cluster CA,
 * the only issuer trusted), {@code tls.crt} (this identity, signed by it) and {@code tls.key} (its
 * PKCS#8 private key). Peers are trusted when their chain leads to the cluster CA; host names are not
 * checked, because every certificate the cluster CA issues is a member of this cluster.
 */
public final class TlsIdentity {
  private static final Logger LOG = LoggerFactory.getLogger(TlsIdentity.class);
  public static final String CA_CERT = "ca.crt";
  public static final String CERT = "tls.crt";
  public static final String KEY = "tls.key";

  private final Path dir;
  private final X509Certificate ca;
  private final X509Certificate cert;
  private final PrivateKey key;
  private final Role role;
  private final KeyManager keyManager;
  private final X509ExtendedTrustManager trustManager;

  private TlsIdentity(Path dir, X509Certificate ca, X509Certificate cert, PrivateKey key) throws IOException {
    this.dir = dir;
    this.ca = ca;
    this.cert = cert;
    this.key = key;
    this.role = Role.of(cert);
    if (role == null) {
      throw new IOException(dir.resolve(CERT) + " was not issued by `sharefs ca issue` (no sharefs role in its subject)");
    }
    try {
      cert.verify(ca.getPublicKey());
    } catch (GeneralSecurityException e) {
      throw new IOException(dir.resolve(CERT) + " is not signed by the CA in " + dir.resolve(CA_CERT));
    }
    try {
      cert.checkValidity();
    } catch (CertificateException e) {
      throw new IOException(dir.resolve(CERT) + " is not valid now (valid " + cert.getNotBefore() + " to "
          + cert.getNotAfter() + "); issue a new one with `sharefs ca issue`");
    }
    if (cert.getNotAfter().toInstant().isBefore(Instant.now().plus(Duration.ofDays(30)))) {
      LOG.warn("TLS certificate {} expires on {}; issue a new one with `sharefs ca issue`", dir.resolve(CERT),
          cert.getNotAfter());
    }
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry("sharefs", key, new char[0], new X509Certificate[] {cert, ca});
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, new char[0]);
      this.keyManager = kmf.getKeyManagers()[0];
      KeyStore ts = KeyStore.getInstance("PKCS12");
      ts.load(null, null);
      ts.setCertificateEntry("cluster-ca", ca);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ts);
      this.trustManager = new ClusterTrust((X509TrustManager) tmf.getTrustManagers()[0]);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot use the TLS identity in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Reads the identity in {@code dir}, with a message naming the file when one is missing or unreadable. */
  public static TlsIdentity load(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IOException("TLS directory " + dir + " does not exist (create one with `sharefs ca issue`)");
    }
    X509Certificate ca = readCert(dir.resolve(CA_CERT));
    X509Certificate cert = readCert(dir.resolve(CERT));
    PrivateKey key = readKey(dir.resolve(KEY), cert.getPublicKey().getAlgorithm());
    return new TlsIdentity(dir, ca, cert, key);
  }

  public static X509Certificate readCert(Path file) throws IOException {
    if (!Files.isReadable(file)) {
      throw new IOException("TLS file " + file + " is missing or unreadable (create it with `sharefs ca`)");
    }
    try (InputStream in = Files.newInputStream(file)) {
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    } catch (CertificateException e) {
      throw new IOException(file + " is not a PEM certificate: " + e.getMessage(), e);
    }
  }

  public static PrivateKey readKey(Path file, String algorithm) throws IOException {
    if (!Files.isReadable(file)) {
      throw new IOException("TLS key " + file + " is missing or unreadable");
    }
    String pem = Files.readString(file);
    int begin = pem.indexOf("-----BEGIN PRIVATE KEY-----");
    int end = pem.indexOf("-----END PRIVATE KEY-----");
    if (begin < 0 || end < begin) {
      throw new IOException(file + " is not a PEM PKCS#8 private key (BEGIN PRIVATE KEY)");
    }
    String b64 = pem.substring(begin + "-----BEGIN PRIVATE KEY-----".length(), end).replaceAll("\\s", "");
    try {
      return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64)));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IOException(file + " holds no usable " + algorithm + " key: " + e.getMessage(), e);
    }
  }

  /** The name the certificate was issued to (its CN). */
  public String name() {
    return Role.subjectPart(cert, "CN");
  }

  public Role role() {
    return role;
  }

  public Path dir() {
    return dir;
  }

  public X509Certificate certificate() {
    return cert;
  }

  public KeyManager keyManager() {
    return keyManager;
  }

  public X509ExtendedTrustManager trustManager() {
    return trustManager;
  }

  /** For a server: our certificate, and a client certificate asked for (the role check refuses calls without one). */
  public ServerCredentials serverCredentials() {
    return TlsServerCredentials.newBuilder().keyManager(keyManager).trustManager(trustManager)
        .clientAuth(TlsServerCredentials.ClientAuth.OPTIONAL).build();
  }

  /** For a client: our certificate, and only servers with a certificate from the cluster CA trusted. */
  public ChannelCredentials channelCredentials() {
    return TlsChannelCredentials.newBuilder().keyManager(keyManager).trustManager(trustManager).build();
  }

  /** Trusts chains that lead to the cluster CA, logs the ones that do not, and ignores host names. */
  private static final class ClusterTrust extends X509ExtendedTrustManager {
    private final X509TrustManager pkix;

    ClusterTrust(X509TrustManager pkix) {
      this.pkix = pkix;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      try {
        pkix.checkClientTrusted(chain, authType);
      } catch (CertificateException e) {
        LOG.warn("refused a TLS client presenting {}: not issued by this cluster's CA ({})", subject(chain), e.getMessage());
        throw e;
      }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      try {
        pkix.checkServerTrusted(chain, authType);
      } catch (CertificateException e) {
        LOG.warn("refused a TLS server presenting {}: not issued by this cluster's CA ({})", subject(chain), e.getMessage());
        throw e;
      }
    }

    private static String subject(X509Certificate[] chain) {
      return chain == null || chain.length == 0 ? "no certificate" : chain[0].getSubjectX500Principal().getName();
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return pkix.getAcceptedIssuers();
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      checkServerTrusted(chain, authType);
    }
  }
}
