package io.sharefs.tls;

import java.security.cert.X509Certificate;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/** What a certificate issued by the cluster CA may do: a node serves and calls peers; an admin only calls. */
public enum Role {
  NODE("sharefs-node"),
  ADMIN("sharefs-admin");

  private final String unit;

  Role(String unit) {
    this.unit = unit;
  }

  /** The organizational unit (OU) that marks the role in a certificate's subject. */
  public String unit() {
    return unit;
  }

  /** The role a certificate's subject names, or null if it names none. */
  public static Role of(X509Certificate cert) {
    String ou = subjectPart(cert, "OU");
    for (Role r : values()) {
      if (r.unit.equals(ou)) {
        return r;
      }
    }
    return null;
  }

  /** One attribute (CN, OU, …) of the certificate's subject, or null. */
  public static String subjectPart(X509Certificate cert, String type) {
    try {
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase(type)) {
          return rdn.getValue().toString();
        }
      }
      return null;
    } catch (InvalidNameException e) {
      return null;
    }
  }
}
