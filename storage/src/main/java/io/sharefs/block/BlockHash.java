package io.sharefs.block;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.Pinned;
import jnr.ffi.types.size_t;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SHA-256 hashing of blocks. Uses OpenSSL's libcrypto when the machine has it (through jnr-ffi, with
 * the CPU's SHA instructions), else the JDK's digest. Nodes run their JIT with C1 only, which does
 * not turn the JDK's SHA-256 into those instructions: there libcrypto hashes a 1 MiB block several
 * times faster. {@code -Dsharefs.sha=jdk} forces the JDK's digest.
 */
public final class BlockHash {
  private static final Logger LOG = LoggerFactory.getLogger(BlockHash.class);
  public static final int LENGTH = 32;
  private static final ThreadLocal<MessageDigest> DIGEST = ThreadLocal.withInitial(BlockHash::newDigest);
  private static final LibCrypto NATIVE = loadNative();

  private BlockHash() {}

  /** The subset of libcrypto this class calls. */
  public interface LibCrypto {
    Pointer SHA256(@Pinned @In byte[] data, @size_t long len, @Pinned @Out byte[] md);
  }

  public static byte[] of(byte[] data, int off, int len) {
    if (off < 0 || len < 0 || off + len > data.length) {
      throw new IndexOutOfBoundsException("range " + off + "+" + len + " of " + data.length);
    }
    if (NATIVE == null) {
      return ofJdk(data, off, len);
    }
    byte[] src = off == 0 ? data : Arrays.copyOfRange(data, off, off + len);
    byte[] md = new byte[LENGTH];
    NATIVE.SHA256(src, len, md);
    return md;
  }

  public static byte[] of(byte[] data) {
    return of(data, 0, data.length);
  }

  /** The JDK's digest, whatever {@link #implementation()} is. */
  static byte[] ofJdk(byte[] data, int off, int len) {
    MessageDigest md = DIGEST.get();
    md.reset();
    md.update(data, off, len);
    return md.digest();
  }

  /** "libcrypto" or "jdk": what {@link #of} uses on this machine. */
  public static String implementation() {
    return NATIVE != null ? "libcrypto" : "jdk";
  }

  public static String hex(byte[] hash) {
    return HexFormat.of().formatHex(hash);
  }

  private static LibCrypto loadNative() {
    if ("jdk".equals(System.getProperty("sharefs.sha"))) {
      return null;
    }
    try {
      LibCrypto lib = LibraryLoader.create(LibCrypto.class).failImmediately().load("libcrypto.so.3");
      // Trust it only if it agrees with the JDK on a block that spans several SHA-256 rounds.
      byte[] probe = new byte[1000];
      for (int i = 0; i < probe.length; i++) {
        probe[i] = (byte) (i * 31 + 7);
      }
      byte[] md = new byte[LENGTH];
      lib.SHA256(probe, probe.length, md);
      if (!Arrays.equals(md, ofJdk(probe, 0, probe.length))) {
        LOG.warn("libcrypto's SHA-256 disagrees with the JDK's; using the JDK's");
        return null;
      }
      return lib;
    } catch (LinkageError | RuntimeException e) {
      LOG.info("libcrypto not available ({}); block hashes use the JDK's SHA-256 (install libssl3 for speed)",
          e.toString());
      return null;
    }
  }

  private static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }
}
