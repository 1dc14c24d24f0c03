package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sharefs.it.NodeProcess.Result;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** One real node process with a real FUSE mount, driven by system calls and standard tools. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SingleNodeMountTest {
  static final int WWW = 33; // www-data on Debian
  static final int NOBODY = 65534;

  @TempDir static Path tmp;
  NodeProcess node;
  Path mnt;

  @BeforeAll
  void mount() throws Exception {
    node = new NodeProcess(tmp.resolve("data"), tmp.resolve("mnt"), "127.0.0.1:" + NodeProcess.freePort(), List.of())
        .start();
    mnt = node.mountPoint();
    Files.setPosixFilePermissions(mnt, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  @AfterAll
  void unmount() {
    if (node == null) {
      return;
    }
    node.close();
    assertFalse(NodeProcess.isMounted(mnt), "still mounted after close");
  }

  private Path fresh(String name) throws IOException {
    Path p = mnt.resolve(name);
    Files.createDirectories(p);
    return p;
  }

  /** Lists type, mode, owner, size, link count, mtime (files) and symlink target of every path, sorted. */
  static String listing(Path root) throws Exception {
    return NodeProcess.sh(root, "find . -mindepth 1 \\( -type d -printf '%p %y %m %U %G\\n' \\) -o \\( ! -type d -printf '%p %y %m %U %G %s %n %T@ %l\\n' \\) | sort")
        .ok().out();
  }

  @Test
  void tarExtractMatchesAPlainDirectory() throws Exception {
    Path src = tmp.resolve("src");
    TreeFixture.build(src, 1500, 42);
    NodeProcess.sh(src, "chown -R 33:33 wp-content/uploads && tar -cf " + tmp.resolve("tree.tar") + " .").ok();
    Path plain = tmp.resolve("plain");
    Files.createDirectories(plain);
    Path inMount = fresh("tar");
    NodeProcess.sh(plain, "tar -xpf " + tmp.resolve("tree.tar")).ok();
    NodeProcess.sh(inMount, "tar -xpf " + tmp.resolve("tree.tar")).ok();
    NodeProcess.sh(tmp, "diff -r --no-dereference plain " + inMount).ok();
    assertEquals(listing(plain), listing(inMount));
    // cp -a back out of the mount preserves everything too.
    Path copy = tmp.resolve("copy");
    NodeProcess.sh(tmp, "cp -a " + inMount + " " + copy).ok();
    assertEquals(listing(plain), listing(copy));
    assertEquals(NodeProcess.sh(plain, "find . | sort").ok().out(), NodeProcess.sh(inMount, "find . | sort").ok().out());
  }

  @Test
  void largeFileCopyIsByteIdentical() throws Exception {
    Path big = tmp.resolve("big.bin");
    byte[] data = new byte[24 << 20];
    new Random(5).nextBytes(data);
    Files.write(big, data);
    Path dst = fresh("big").resolve("big.bin");
    NodeProcess.sh(tmp, "cp " + big + " " + dst).ok();
    assertEquals(NodeProcess.sh(tmp, "sha256sum < " + big).ok().out(), NodeProcess.sh(tmp, "sha256sum < " + dst).ok().out());
    // Random overwrite in the middle via the Java API, then compare against the same change in memory.
    try (FileChannel ch = FileChannel.open(dst, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap("PATCHED".getBytes()), 3_000_000);
    }
    System.arraycopy("PATCHED".getBytes(), 0, data, 3_000_000, 7);
    assertArrayEquals(data, Files.readAllBytes(dst));
  }

  @Test
  void errnosReachTheCallerAsOnExt4() throws Exception {
    Path d = fresh("errors");
    Files.createDirectory(d.resolve("dir"));
    Files.write(d.resolve("dir/f"), new byte[] {1});
    assertThrows(FileAlreadyExistsException.class, () -> Files.createDirectory(d.resolve("dir")));
    assertThrows(DirectoryNotEmptyException.class, () -> Files.delete(d.resolve("dir")));
    assertThrows(NoSuchFileException.class, () -> Files.readAllBytes(d.resolve("missing")));
    assertThrows(FileAlreadyExistsException.class,
        () -> Files.newByteChannel(d.resolve("dir/f"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
    Result r = NodeProcess.sh(d, "mkdir " + "x".repeat(256) + " 2>&1; rmdir dir/f 2>&1; cat dir 2>&1; "
        + "touch dir/f/x 2>&1; true");
    assertTrue(r.out().contains("File name too long"), r.out());
    assertTrue(r.out().contains("Not a directory"), r.out());
    assertTrue(r.out().contains("Is a directory"), r.out());
    // rename(2) of a directory into its own subtree and link(2) of a directory, without tools second-guessing.
    Files.createDirectory(d.resolve("dir/sub"));
    java.nio.file.FileSystemException into = assertThrows(java.nio.file.FileSystemException.class,
        () -> Files.move(d.resolve("dir"), d.resolve("dir/sub/dir")));
    assertTrue(String.valueOf(into.getReason()).contains("Invalid argument"), into.toString());
    java.nio.file.FileSystemException link = assertThrows(java.nio.file.FileSystemException.class,
        () -> Files.createLink(d.resolve("dirlink"), d.resolve("dir")));
    assertTrue(String.valueOf(link.getReason()).contains("Operation not permitted"), link.toString());
    Files.createDirectories(d.resolve("x".repeat(255)));
  }

  @Test
  void shellSemantics() throws Exception {
    Path d = fresh("shell");
    String out = NodeProcess.sh(d, String.join("\n",
        "set -e",
        "echo one > f; echo two >> f; cat f",                 // O_APPEND
        "printf abcdef > t; truncate -s 3 t; cat t; echo",     // truncate down
        "truncate -s 10 t; od -An -c t | tr -s ' '",           // truncate up: zeros
        "printf x | dd of=s bs=1 count=1 seek=5242880 status=none; stat -c '%s' s; du -k s | cut -f1",
        "exec 3<f; rm f; cat <&3; exec 3<&-",                  // unlinked open file readable
        "mkfifo p; stat -c '%F' p",
        "ln -s f sym; readlink sym; ln t hard; stat -c '%h' hard",
        "mv t moved; ls",
        "mkdir -p a/b/c; mv a z; ls z/b",
        "touch -d '2020-01-02 03:04:05' moved; stat -c '%y' moved")).ok().out();
    assertEquals(String.join("\n",
        "one", "two", "abc",
        " a b c \\0 \\0 \\0 \\0 \\0 \\0 \\0",
        "5242881", "4",
        "one", "two",
        "fifo",
        "f", "2",
        "hard", "moved", "p", "s", "sym",
        "c",
        "2020-01-02 03:04:05.000000000 +0000", ""), out);
  }

  @Test
  void xattrsAndStatfs() throws Exception {
    Path f = fresh("xattr").resolve("f");
    Files.write(f, new byte[] {1});
    var view = Files.getFileAttributeView(f, java.nio.file.attribute.UserDefinedFileAttributeView.class);
    view.write("wp.cache", ByteBuffer.wrap("v1".getBytes()));
    assertEquals(List.of("wp.cache"), view.list());
    ByteBuffer buf = ByteBuffer.allocate(16);
    view.read("wp.cache", buf);
    assertEquals("v1", new String(buf.array(), 0, buf.position()));
    view.delete("wp.cache");
    assertTrue(view.list().isEmpty());
    Result df = NodeProcess.sh(mnt, "stat -f -c '%l %T' .").ok();
    assertTrue(df.out().startsWith("255 "), df.out());
  }

  /** Names are bytes the node decodes itself on the hot calls (getattr, open, read, write, close, getxattr). */
  @Test
  void utf8NamesSurviveEveryCall() throws Exception {
    Path d = fresh("utf8");
    // "d\u00e9j\u00e0/\u65e5\u672c.php", spelled in octal so the shell's locale has no say
    String script = "n=$(printf 'd\\303\\251j\\303\\240'); f=$(printf '\\346\\227\\245\\346\\234\\254.php'); "
        + "mkdir \"$n\" && printf hello > \"$n/$f\" && printf ' again' >> \"$n/$f\" && "
        + "ls \"$n\" | od -An -tx1 | tr -d ' \\n'; echo; cat \"$n/$f\"; echo; stat -c %s \"$n/$f\"; "
        + "mv \"$n/$f\" \"$n/x$f\" && ls \"$n\" | od -An -tx1 | tr -d ' \\n'; echo; "
        + "ls \"$(printf 'd\\303\\251j\\303\\240')\" > /dev/null && cat \"$n/x$f\"";
    Result r = NodeProcess.sh(d, script).ok();
    assertEquals(List.of("e697a5e69cac2e7068700a", "hello again", "11", "78e697a5e69cac2e7068700a", "hello again"),
        r.out().lines().toList());
  }

  @Test
  void webServerUserGetsExt4Permissions() throws Exception {
    Path d = fresh("perm");
    Files.createDirectories(d.resolve("root-only"));
    Files.setPosixFilePermissions(d.resolve("root-only"), PosixFilePermissions.fromString("rwxr-xr-x"));
    Path uploads = d.resolve("uploads");
    Files.createDirectories(uploads);
    NodeProcess.sh(d, "chown 33:33 uploads && chmod 2775 uploads && mkdir tmp && chmod 1777 tmp").ok();

    // www-data can write where it owns, not where root does.
    NodeProcess.shAs(WWW, WWW, d, "echo img > uploads/a.jpg && stat -c '%U %G %a' uploads/a.jpg").ok();
    assertEquals("www-data www-data 644\n",
        NodeProcess.shAs(WWW, WWW, d, "umask 022; stat -c '%U %G %a' uploads/a.jpg").ok().out());
    Result denied = NodeProcess.shAs(WWW, WWW, d, "echo x > root-only/x");
    assertNotEquals(0, denied.code());
    assertTrue(denied.out().contains("Permission denied"), denied.out());
    // setgid directory: files by another user take the directory's group.
    NodeProcess.sh(d, "chmod 777 uploads").ok();
    NodeProcess.sh(d, "chmod 2777 uploads").ok();
    assertEquals("www-data\n",
        NodeProcess.shAs(NOBODY, NOBODY, d, "touch uploads/n && stat -c '%G' uploads/n").ok().out());
    // sticky /tmp-like directory: nobody cannot delete www-data's file.
    NodeProcess.shAs(WWW, WWW, d, "touch tmp/mine").ok();
    Result sticky = NodeProcess.shAs(NOBODY, NOBODY, d, "rm -f tmp/mine");
    assertNotEquals(0, sticky.code(), sticky.out());
    assertTrue(Files.exists(d.resolve("tmp/mine")));
    // chmod of someone else's file is refused; a write by a non-owner clears setuid.
    Result chmod = NodeProcess.shAs(NOBODY, NOBODY, d, "chmod 777 uploads/a.jpg");
    assertTrue(chmod.out().contains("Operation not permitted"), chmod.out());
    NodeProcess.sh(d, "echo '#!/bin/sh' > suid && chmod 4777 suid").ok();
    NodeProcess.shAs(NOBODY, NOBODY, d, "echo more >> suid").ok();
    assertEquals("777\n", NodeProcess.sh(d, "stat -c '%a' suid").ok().out());
  }

  @Test
  void flockIsExclusiveOnTheNode() throws Exception {
    Path d = fresh("lock");
    Files.write(d.resolve(".htaccess"), new byte[0]);
    Result r = NodeProcess.sh(d, String.join("\n",
        "flock .htaccess -c 'sleep 2' &",
        "sleep 0.5",
        "if flock -n .htaccess -c true; then echo acquired; else echo busy; fi",
        "wait",
        "flock -n .htaccess -c 'echo free'"));
    assertEquals("busy\nfree\n", r.ok().out());
  }
}
