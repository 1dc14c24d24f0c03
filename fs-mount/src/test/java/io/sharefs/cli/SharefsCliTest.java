package io.sharefs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SharefsCliTest {
  @TempDir Path tmp;

  /**
   * With one worker (the JDK's default below three CPUs) JDK 17's CompletableFuture runs every async
   * stage without an executor on a new thread; with two it uses the pool.
   */
  @Test
  void asyncStagesShareThePoolOnTwoCores() throws Exception {
    assertEquals("1", probe(2, false), "the JDK's default the setup must change");
    assertEquals("2", probe(2, true));
    assertEquals("2", probe(1, true));
    assertEquals("3", probe(4, true), "left alone where the pool has workers enough");
  }

  @Test
  void anExplicitParallelismIsKept() throws Exception {
    assertEquals("1", probe(2, true, "-D" + SharefsCli.COMMON_POOL_PARALLELISM + "=1"));
  }

  private String probe(int cpus, boolean setup, String... jvmArgs) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:ActiveProcessorCount=" + cpus));
    cmd.addAll(List.of(jvmArgs));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), AsyncPoolProbe.class.getName()));
    if (setup) {
      cmd.add("setup");
    }
    Path out = Files.createTempFile(tmp, "probe", ".out");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    boolean done = p.waitFor(60, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly();
    }
    String text = Files.readString(out).trim();
    assertTrue(done, "probe hung: " + text);
    assertEquals(0, p.exitValue(), text);
    return text;
  }
}
