package io.sharefs.vfs;

/** The caller of one filesystem operation. */
public record Ctx(int uid, int gid, int pid) {
  public static final Ctx ROOT = new Ctx(0, 0, 0);
}
