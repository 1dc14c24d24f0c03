package io.sharefs.fuse;

import io.sharefs.meta.BlockRef;
import io.sharefs.meta.Inode;
import io.sharefs.vfs.StatFs;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.Statvfs;

/** The one place inode attributes become struct stat (and statfs figures struct statvfs). */
public final class StatMapper {
  static final int BLKSIZE = 4096;

  private StatMapper() {}

  public static void fill(Inode i, FileStat st) {
    st.st_ino.set(i.ino());
    st.st_mode.set(i.mode());
    st.st_nlink.set(i.nlink());
    st.st_uid.set(i.uid());
    st.st_gid.set(i.gid());
    st.st_size.set(i.size());
    st.st_rdev.set(i.rdev());
    st.st_blksize.set(BLKSIZE);
    st.st_blocks.set(blocks512(i));
    st.st_atim.tv_sec.set(i.atimeNs() / 1_000_000_000L);
    st.st_atim.tv_nsec.set(i.atimeNs() % 1_000_000_000L);
    st.st_mtim.tv_sec.set(i.mtimeNs() / 1_000_000_000L);
    st.st_mtim.tv_nsec.set(i.mtimeNs() % 1_000_000_000L);
    st.st_ctim.tv_sec.set(i.ctimeNs() / 1_000_000_000L);
    st.st_ctim.tv_nsec.set(i.ctimeNs() % 1_000_000_000L);
  }

  /** Allocated 512-byte units: stored bytes rounded up to 4 KiB, so holes allocate nothing (as du expects). */
  public static long blocks512(Inode i) {
    if (i.isDir()) {
      return 8;
    }
    long bytes;
    if (!i.blocks().isEmpty()) {
      bytes = 0;
      for (BlockRef r : i.blocks()) {
        if (!r.isHole()) {
          bytes += roundUp(r.length());
        }
      }
    } else {
      bytes = roundUp(Math.min(i.size(), Math.max(i.inlineData().length, i.isReg() ? 0 : i.size())));
    }
    return bytes / 512;
  }

  private static long roundUp(long n) {
    return (n + BLKSIZE - 1) / BLKSIZE * BLKSIZE;
  }

  public static void fill(StatFs s, Statvfs st) {
    st.f_bsize.set(s.blockSize());
    st.f_frsize.set(s.blockSize());
    st.f_blocks.set(s.blocks());
    st.f_bfree.set(s.blocksFree());
    st.f_bavail.set(s.blocksAvail());
    st.f_files.set(s.files());
    st.f_ffree.set(s.filesFree());
    st.f_favail.set(s.filesFree());
    st.f_namemax.set(s.nameMax());
  }
}
