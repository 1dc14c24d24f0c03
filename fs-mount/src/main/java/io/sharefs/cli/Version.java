package io.sharefs.cli;

import picocli.CommandLine;

/** Version string from the jar manifest. */
final class Version implements CommandLine.IVersionProvider {
  static String get() {
    String v = Version.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  @Override
  public String[] getVersion() {
    return new String[] {"sharefs " + get()};
  }
}
