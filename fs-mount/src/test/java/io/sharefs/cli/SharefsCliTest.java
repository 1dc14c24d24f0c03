package io.sharefs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class SharefsCliTest {
  @Test
  void asyncStagesShareThePoolOnTwoCores() throws Exception {
    // Without the setup the JDK starts a thread per async stage on two CPUs: the probe sees it.
    assertEquals("java.util.concurrent.CompletableFuture$ThreadPerTaskExecutor", probe(2, false));
    assertEquals("java.util.concurrent.ForkJoinPool", probe(2, true));
    assertEquals("java.util.concurrent.ForkJoinPool", probe(1, true));
  }

  @Test
  void anExplicitParallelismIsKept() throws Exception {
    assertEquals("java.util.concurrent.CompletableFuture$ThreadPerTaskExecutor",
        probe(2, true, "-D" + SharefsCli.COMMON_POOL_PARALLELISM + "=1"));
  }

  private static String probe(int cpus, boolean setup, String... jvmArgs) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:ActiveProcessorCount=" + cpus));
    cmd.addAll(List.of(jvmArgs));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), AsyncPoolProbe.class.getName()));
    if (setup) {
      cmd.add("setup");
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
    }
    assertEquals(0, p.exitValue(), out);
    return out;
  }
}
