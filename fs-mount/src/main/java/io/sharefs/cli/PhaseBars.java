package io.sharefs.cli;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** One progress bar per phase of a streamed admin operation, on stderr; a new phase closes the last bar. */
final class PhaseBars implements AutoCloseable {
  private final boolean quiet;
  private ProgressBar bar;
  private String phase;

  /** With {@code quiet} (JSON output) nothing is drawn. */
  PhaseBars(boolean quiet) {
    this.quiet = quiet;
  }

  /** Moves the bar of {@code phase} to done/total; {@code bytes} shows MB and a rate. */
  void step(String phase, long done, long total, boolean bytes) {
    if (quiet) {
      return;
    }
    if (!phase.equals(this.phase)) {
      close();
      this.phase = phase;
      ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(phase).setInitialMax(total)
          .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(200)
          .setConsumer(new ConsoleProgressBarConsumer(System.err));
      if (bytes) {
        b.showSpeed().setUnit("MB", 1_000_000);
      }
      bar = b.build();
    }
    bar.maxHint(total);
    bar.stepTo(done);
  }

  @Override
  public void close() {
    if (bar != null) {
      bar.close();
      bar = null;
    }
  }
}
