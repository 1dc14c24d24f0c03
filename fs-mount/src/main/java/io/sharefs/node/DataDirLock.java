package io.sharefs.node;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** An exclusive lock on a data directory, so two processes never open the same stores. */
public final class DataDirLock implements AutoCloseable {
  private final FileChannel channel;
  private final FileLock lock;

  private DataDirLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /** Creates the directory if needed and locks it; a clear IOException if it is unusable or taken. */
  public static DataDirLock acquire(Path dataDir) throws IOException {
    try {
      Files.createDirectories(dataDir);
    } catch (AccessDeniedException e) {
      throw new IOException("data dir " + dataDir + " cannot be created: permission denied");
    } catch (IOException e) {
      throw new IOException("data dir " + dataDir + " cannot be created: " + e.getMessage());
    }
    if (!Files.isDirectory(dataDir)) {
      throw new IOException("data dir " + dataDir + " is not a directory");
    }
    if (!Files.isWritable(dataDir)) {
      throw new IOException("data dir " + dataDir + " is not writable");
    }
    Path file = dataDir.resolve("LOCK");
    FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    FileLock l;
    try {
      l = ch.tryLock();
    } catch (IOException e) {
      ch.close();
      throw e;
    }
    if (l == null) {
      String holder = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).trim();
      ch.close();
      throw new IOException("data dir " + dataDir + " is in use by another sharefs process"
          + (holder.isEmpty() ? "" : " (pid " + holder + ")"));
    }
    ch.truncate(0);
    ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
    ch.force(false);
    return new DataDirLock(ch, l);
  }

  @Override
  public void close() throws IOException {
    lock.release();
    channel.close();
  }
}
