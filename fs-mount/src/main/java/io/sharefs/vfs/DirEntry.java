package io.sharefs.vfs;

/** One readdir entry: name, inode number and type bits (S_IFMT). */
public record DirEntry(String name, long ino, int type) {}
