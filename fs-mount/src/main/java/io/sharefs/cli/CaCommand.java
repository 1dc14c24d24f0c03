package io.sharefs.cli;

import io.sharefs.node.tls.CertificateAuthority;
import io.sharefs.tls.Role;
import io.sharefs.tls.TlsIdentity;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code sharefs ca init|issue}: the cluster CA and the certificates nodes and admins authenticate with. */
@Command(name = "ca", mixinStandardHelpOptions = true,
    description = "Create the cluster CA and issue node and admin certificates (mutual TLS on every port).",
    subcommands = {CaCommand.InitCmd.class, CaCommand.IssueCmd.class})
final class CaCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "say init or issue");
  }

  @Command(name = "init", mixinStandardHelpOptions = true,
      description = "Create a new cluster CA (ca.crt, and ca.key readable by its owner only) in DIR.")
  static final class InitCmd implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--dir", required = true, paramLabel = "DIR", description = "Where to create the CA.")
    Path dir;

    @Option(names = "--cluster", defaultValue = "sharefs", description = "A name for the cluster (default: ${DEFAULT-VALUE}).")
    String cluster;

    @Option(names = "--days", defaultValue = "3650", description = "CA validity in days (default: ${DEFAULT-VALUE}).")
    int days;

    @Override
    public Integer call() {
      if (days < 1) {
        throw new ParameterException(spec.commandLine(), "--days must be positive");
      }
      try {
        CertificateAuthority ca = CertificateAuthority.create(dir, cluster, Duration.ofDays(days));
        PrintWriter out = spec.commandLine().getOut();
        out.printf("created CA '%s' in %s (valid until %s); keep %s/%s secret%n", cluster, dir,
            ca.certificate().getNotAfter(), dir, CertificateAuthority.CA_KEY);
        out.flush();
        return 0;
      } catch (IOException e) {
        spec.commandLine().getErr().println("sharefs: " + e.getMessage());
        return 1;
      }
    }
  }

  @Command(name = "issue", mixinStandardHelpOptions = true,
      description = "Issue a node certificate (or with --admin, an admin client certificate) into OUT: ca.crt, tls.crt, tls.key.")
  static final class IssueCmd implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--ca", required = true, paramLabel = "DIR", description = "The CA directory from `sharefs ca init`.")
    Path ca;

    @Option(names = "--name", required = true, description = "The node id (e.g. n1) or the admin's name.")
    String name;

    @Option(names = "--host", paramLabel = "HOST", split = ",",
        description = "Host names or IP addresses the node is reached at (localhost is always included).")
    List<String> hosts = new ArrayList<>();

    @Option(names = "--admin", description = "An admin client certificate: may use admin commands, may not act as a node.")
    boolean admin;

    @Option(names = "--days", defaultValue = "825", description = "Validity in days (default: ${DEFAULT-VALUE}).")
    int days;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory to write the identity to.")
    Path out;

    @Override
    public Integer call() {
      if (days < 1) {
        throw new ParameterException(spec.commandLine(), "--days must be positive");
      }
      try {
        TlsIdentity id = CertificateAuthority.open(ca).issue(name, admin ? Role.ADMIN : Role.NODE, hosts,
            Duration.ofDays(days), out);
        PrintWriter w = spec.commandLine().getOut();
        w.printf("issued %s certificate for %s into %s (valid until %s)%n", admin ? "an admin" : "a node", name, out,
            id.certificate().getNotAfter());
        w.flush();
        return 0;
      } catch (IOException e) {
        spec.commandLine().getErr().println("sharefs: " + e.getMessage());
        return 1;
      }
    }
  }
}
