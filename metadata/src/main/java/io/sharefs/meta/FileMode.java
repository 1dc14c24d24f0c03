package io.sharefs.meta;

/** S_IFMT type bits and permission bits as in Linux stat.h. */
public final class FileMode {
  public static final int S_IFMT = 0170000;
  public static final int S_IFSOCK = 0140000;
  public static final int S_IFLNK = 0120000;
  public static final int S_IFREG = 0100000;
  public static final int S_IFBLK = 0060000;
  public static final int S_IFDIR = 0040000;
  public static final int S_IFCHR = 0020000;
  public static final int S_IFIFO = 0010000;
  public static final int S_ISUID = 04000;
  public static final int S_ISGID = 02000;
  public static final int S_ISVTX = 01000;
  public static final int PERM_MASK = 07777;

  private FileMode() {}

  public static int type(int mode) {
    return mode & S_IFMT;
  }

  public static boolean isDir(int mode) {
    return type(mode) == S_IFDIR;
  }

  public static boolean isReg(int mode) {
    return type(mode) == S_IFREG;
  }

  public static boolean isLink(int mode) {
    return type(mode) == S_IFLNK;
  }
}
