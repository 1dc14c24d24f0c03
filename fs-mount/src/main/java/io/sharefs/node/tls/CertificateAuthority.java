package io.sharefs.node.tls;

import io.sharefs.tls.Role;
import io.sharefs.tls.TlsIdentity;
import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The cluster's own certificate authority: a directory holding {@code ca.crt} and {@code ca.key}.
 * It issues node certificates (server and client use, role {@link Role#NODE}) and admin client
 * certificates ({@link Role#ADMIN}) into directories {@link TlsIdentity#load} reads. Keys are EC
 * P-256; private keys are written readable by their owner only.
 */
public final class CertificateAuthority {
  public static final String CA_KEY = "ca.key";

  private final Path dir;
  private final X509Certificate cert;
  private final PrivateKey key;

  private CertificateAuthority(Path dir, X509Certificate cert, PrivateKey key) {
    this.dir = dir;
    this.cert = cert;
    this.key = key;
  }

  /** Creates a new CA in {@code dir} (created if missing); refuses to overwrite an existing one. */
  public static CertificateAuthority create(Path dir, String clusterName, Duration validity) throws IOException {
    Files.createDirectories(dir);
    if (Files.exists(dir.resolve(TlsIdentity.CA_CERT)) || Files.exists(dir.resolve(CA_KEY))) {
      throw new IOException("a CA already exists in " + dir + " (remove it first to start over: every certificate it"
          + " issued would stop being trusted)");
    }
    try {
      KeyPair kp = newKeyPair();
      X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "sharefs")
          .addRDN(BCStyle.CN, clusterName + " CA").build();
      Instant now = Instant.now();
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(),
          Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(validity)), subject, kp.getPublic());
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
      X509Certificate ca = sign(b, kp.getPrivate());
      writePrivate(dir.resolve(CA_KEY), kp.getPrivate());
      writeCert(dir.resolve(TlsIdentity.CA_CERT), ca);
      return new CertificateAuthority(dir, ca, kp.getPrivate());
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IOException("cannot create a CA: " + e.getMessage(), e);
    }
  }

  /** Opens the CA in {@code dir}, creating it first if there is none (demo, lone node). */
  public static CertificateAuthority openOrCreate(Path dir, String clusterName, Duration validity) throws IOException {
    return Files.exists(dir.resolve(TlsIdentity.CA_CERT)) ? open(dir) : create(dir, clusterName, validity);
  }

  /** Opens the CA in {@code dir}. */
  public static CertificateAuthority open(Path dir) throws IOException {
    X509Certificate cert = TlsIdentity.readCert(dir.resolve(TlsIdentity.CA_CERT));
    PrivateKey key = TlsIdentity.readKey(dir.resolve(CA_KEY), cert.getPublicKey().getAlgorithm());
    return new CertificateAuthority(dir, cert, key);
  }

  public X509Certificate certificate() {
    return cert;
  }

  public Path dir() {
    return dir;
  }

  /**
   * Issues a certificate for {@code name} with {@code role} into {@code out} ({@code ca.crt},
   * {@code tls.crt}, {@code tls.key}); node certificates name {@code hosts} (and localhost) as their
   * subject alternative names. Replaces an identity already in {@code out}.
   */
  public TlsIdentity issue(String name, Role role, List<String> hosts, Duration validity, Path out) throws IOException {
    if (name == null || name.isBlank() || !name.matches("[A-Za-z0-9._-]+")) {
      throw new IOException("certificate name '" + name + "' must be letters, digits, '.', '_' or '-'");
    }
    try {
      KeyPair kp = newKeyPair();
      X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "sharefs")
          .addRDN(BCStyle.OU, role.unit()).addRDN(BCStyle.CN, name).build();
      Instant now = Instant.now();
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(cert, serial(),
          Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(validity)), subject, kp.getPublic());
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
      b.addExtension(Extension.extendedKeyUsage, false, role == Role.NODE
          ? new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth})
          : new ExtendedKeyUsage(KeyPurposeId.id_kp_clientAuth));
      b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
      b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(cert));
      if (role == Role.NODE) {
        b.addExtension(Extension.subjectAlternativeName, false, altNames(hosts));
      }
      X509Certificate leaf = sign(b, key);
      Files.createDirectories(out);
      writePrivate(out.resolve(TlsIdentity.KEY), kp.getPrivate());
      writeCert(out.resolve(TlsIdentity.CERT), leaf);
      writeCert(out.resolve(TlsIdentity.CA_CERT), cert);
      return TlsIdentity.load(out);
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IOException("cannot issue a certificate for " + name + ": " + e.getMessage(), e);
    }
  }

  private static GeneralNames altNames(List<String> hosts) {
    Set<String> all = new LinkedHashSet<>(hosts);
    all.add("localhost");
    all.add("127.0.0.1");
    List<GeneralName> names = new ArrayList<>();
    for (String h : all) {
      names.add(isAddress(h) ? new GeneralName(GeneralName.iPAddress, h) : new GeneralName(GeneralName.dNSName, h));
    }
    return new GeneralNames(names.toArray(GeneralName[]::new));
  }

  private static boolean isAddress(String h) {
    if (!h.matches("[0-9.]+") && !h.contains(":")) {
      return false;
    }
    try {
      InetAddress.getByName(h);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static KeyPair newKeyPair() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
    return g.generateKeyPair();
  }

  private static BigInteger serial() {
    return new BigInteger(127, new SecureRandom()).add(BigInteger.ONE);
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer)
      throws OperatorCreationException, GeneralSecurityException {
    return new JcaX509CertificateConverter().getCertificate(
        b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
  }

  private static void writeCert(Path file, X509Certificate c) throws IOException {
    StringWriter w = new StringWriter();
    try (JcaPEMWriter pem = new JcaPEMWriter(w)) {
      pem.writeObject(c);
    }
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, w.toString());
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static void writePrivate(Path file, PrivateKey k) throws IOException {
    String pem = "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(k.getEncoded())
        + "\n-----END PRIVATE KEY-----\n";
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(tmp, pem);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
