package io.sharefs.node;

import io.sharefs.fuse.FuseAdapter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mounts a {@link FuseAdapter} at a directory: clears a stale mount a killed process left behind,
 * runs libfuse's loop on its own thread, waits for the kernel handshake, and unmounts on close.
 */
public final class FuseMount implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FuseMount.class);

  private final FuseAdapter adapter;
  private final Path mountPoint;
  private final CompletableFuture<Integer> loop = new CompletableFuture<>();
  private volatile boolean closed;

  private FuseMount(FuseAdapter adapter, Path mountPoint) {
    this.adapter = adapter;
    this.mountPoint = mountPoint;
  }

  /** Mounts and returns once the kernel answers requests, or throws with the reason. */
  public static FuseMount mount(FuseAdapter adapter, Path mountPoint, List<String> options, long timeoutMs)
      throws IOException {
    FuseMount m = new FuseMount(adapter, mountPoint.toAbsolutePath().normalize());
    m.start(options, timeoutMs);
    return m;
  }

  private void start(List<String> options, long timeoutMs) throws IOException {
    String[] args = options.isEmpty() ? new String[0] : new String[] {"-o", String.join(",", options)};
    Thread t = new Thread(() -> {
      try {
        adapter.mount(mountPoint, true, System.getenv("SHAREFS_FUSE_DEBUG") != null, args);
        adapter.kernelCache().close();
        loop.complete(0);
      } catch (Throwable e) {
        adapter.kernelCache().close();
        loop.completeExceptionally(e);
      }
    }, "fuse-loop");
    t.setDaemon(true);
    t.start();
    try {
      long deadline = System.currentTimeMillis() + timeoutMs;
      while (!adapter.initialised().await(50, TimeUnit.MILLISECONDS)) {
        if (loop.isDone()) {
          throw new IOException("FUSE mount at " + mountPoint + " failed: " + failure());
        }
        if (System.currentTimeMillis() > deadline) {
          throw new IOException("FUSE mount at " + mountPoint + " did not answer within " + timeoutMs + " ms");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while mounting");
    }
  }

  private String failure() {
    try {
      loop.getNow(0);
      return "libfuse exited (see the messages above: is the mountpoint busy, or are allow_other / /dev/fuse usable?)";
    } catch (Exception e) {
      Throwable c = e.getCause() != null ? e.getCause() : e;
      return c.getCause() != null ? c.getCause().toString() : c.toString();
    }
  }

  /** Completes when libfuse's loop ends (unmounted from outside, or by {@link #close}). */
  public CompletableFuture<Integer> loop() {
    return loop;
  }

  public Path mountPoint() {
    return mountPoint;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    adapter.kernelCache().close(); // no notification races the unmount
    if (!loop.isDone()) {
      unmount(mountPoint);
      try {
        loop.get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        LOG.warn("FUSE loop did not end after unmount of {}: {}", mountPoint, e.toString());
      }
    }
  }

  /** True if {@code dir} is a mount point according to /proc/self/mountinfo. */
  public static boolean isMounted(Path dir) {
    String target = dir.toAbsolutePath().normalize().toString();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
        String[] f = line.split(" ");
        if (f.length > 4 && unescape(f[4]).equals(target)) {
          return true;
        }
      }
    } catch (IOException e) {
      LOG.debug("cannot read mountinfo", e);
    }
    return false;
  }

  private static String unescape(String s) {
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
  }

  /** A FUSE mount whose process died: still listed, but every access fails with ENOTCONN. */
  public static boolean isStale(Path dir) {
    if (!isMounted(dir)) {
      return false;
    }
    try {
      Files.readAttributes(dir, "unix:ino");
      return false;
    } catch (IOException e) {
      return true;
    }
  }

  /** Unmounts {@code dir}, lazily if it is busy. */
  public static void unmount(Path dir) {
    String p = dir.toAbsolutePath().normalize().toString();
    if (run("fusermount", "-u", p) == 0 || !isMounted(dir)) {
      return;
    }
    if (run("umount", p) == 0 || !isMounted(dir)) {
      return;
    }
    run("umount", "-l", p);
  }

  private static int run(String... cmd) {
    try {
      Process pr = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .start();
      if (!pr.waitFor(10, TimeUnit.SECONDS)) {
        pr.destroyForcibly();
        return -1;
      }
      return pr.exitValue();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }
}
