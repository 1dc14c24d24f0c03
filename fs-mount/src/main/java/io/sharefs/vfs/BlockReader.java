package io.sharefs.vfs;

import io.sharefs.block.BlockHash;
import io.sharefs.block.BlockStore;
import io.sharefs.block.BlockStoreException;
import io.sharefs.block.CorruptBlockException;
import io.sharefs.meta.Errno;
import io.sharefs.meta.FsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Reads committed blocks, turning storage failures into errnos (a corrupt block is EIO, never wrong bytes). */
final class BlockReader {
  private static final Logger LOG = LoggerFactory.getLogger(BlockReader.class);

  private BlockReader() {}

  static byte[] read(BlockStore store, byte[] hash, long ino) {
    try {
      byte[] data = store.get(hash);
      if (data == null) {
        LOG.error("block {} of inode {} is missing from the block store", BlockHash.hex(hash), ino);
        throw new FsException(Errno.EIO, "missing block " + BlockHash.hex(hash));
      }
      return data;
    } catch (CorruptBlockException e) {
      LOG.error("inode {}: {}", ino, e.getMessage());
      throw new FsException(Errno.EIO, e.getMessage());
    } catch (BlockStoreException e) {
      throw storageError(e);
    }
  }

  static FsException storageError(BlockStoreException e) {
    LOG.error("block store failure: {}", e.getMessage());
    return new FsException(e.noSpace() ? Errno.ENOSPC : Errno.EIO, e.getMessage(), e);
  }
}
