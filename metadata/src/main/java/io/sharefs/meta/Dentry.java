package io.sharefs.meta;

/** A directory entry: name in a parent, pointing at a child inode of a given type. */
public record Dentry(long parent, byte[] name, long ino, int type) {}
