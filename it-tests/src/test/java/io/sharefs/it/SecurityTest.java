package io.sharefs.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.sharefs.block.BlockHash;
import io.sharefs.node.NodeConfig;
import io.sharefs.node.admin.AdminClient;
import io.sharefs.node.tls.CertificateAuthority;
import io.sharefs.proto.AdminServiceGrpc;
import io.sharefs.proto.BlockDataProto;
import io.sharefs.proto.BlockIdProto;
import io.sharefs.proto.BlockServiceGrpc;
import io.sharefs.proto.StatusRequestProto;
import io.sharefs.tls.Role;
import io.sharefs.tls.TlsIdentity;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every port speaks mutual TLS with certificates from the cluster CA: callers without a certificate,
 * with one from another CA, or with the wrong role are refused with a log line, and their request
 * has no effect.
 */
class SecurityTest {
  @TempDir Path tmp;

  @Test
  void callersWithoutAValidCertificateAreRefused() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp.resolve("c"), 1)) {
      String raft = c.address(0);

      // An admin certificate from another CA: the handshake fails, the node logs it.
      CertificateAuthority other = CertificateAuthority.create(tmp.resolve("other/ca"), "other", Duration.ofDays(90));
      other.issue("mallory", Role.ADMIN, List.of(), Duration.ofDays(90), tmp.resolve("other/admin"));
      ProcessBuilder pb = new ProcessBuilder(NodeProcess.command("status", "--node", raft, "--tls-dir",
          tmp.resolve("other/admin").toString())).redirectErrorStream(true);
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertEquals(1, p.waitFor(), out);
      assertTrue(out.contains("refused the TLS handshake"), out);
      assertTrue(c.node(0).logText().contains("refused a TLS"), c.node(0).logText());

      // TLS trusting the cluster CA but no client certificate: UNAUTHENTICATED, logged.
      ManagedChannel anon = NettyChannelBuilder.forTarget(NodeConfig.adminAddress(raft), TlsChannelCredentials.newBuilder()
          .trustManager(c.adminTlsDir().resolve("ca.crt").toFile()).build()).build();
      try {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> AdminServiceGrpc
            .newBlockingStub(anon).withDeadlineAfter(5, TimeUnit.SECONDS)
            .status(StatusRequestProto.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode(), e.toString());
      } finally {
        anon.shutdownNow();
      }
      assertTrue(c.node(0).logText().contains("refused sharefs.admin.AdminService/Status"), c.node(0).logText());

      // Plaintext to the node-to-node and Raft ports gets no answer at all.
      for (String target : List.of(NodeConfig.dataAddress(raft), raft)) {
        ManagedChannel plain = NettyChannelBuilder.forTarget(target).usePlaintext().build();
        try {
          StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> AdminServiceGrpc
              .newBlockingStub(plain).withDeadlineAfter(5, TimeUnit.SECONDS)
              .status(StatusRequestProto.getDefaultInstance()));
          assertFalse(e.getStatus().getCode() == Status.Code.UNIMPLEMENTED, "plaintext reached " + target);
        } finally {
          plain.shutdownNow();
        }
      }

      // Refusals are counted by method and status.
      assertTrue(c.metrics(0).contains("sharefs_grpc_errors_total{code=\"UNAUTHENTICATED\","
          + "method=\"sharefs.admin.AdminService/Status\",side=\"server\"}"), c.metrics(0));

      // The real admin certificate works.
      NodeProcess.Result ok = c.admin("status", "--node", raft);
      assertEquals(0, ok.code(), ok.out());
    }
  }

  @Test
  void anAdminCertificateCannotActAsANode() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp.resolve("c"), 1)) {
      String data = NodeConfig.dataAddress(c.address(0));
      TlsIdentity admin = TlsIdentity.load(c.adminTlsDir());
      byte[] bytes = "not from a node".getBytes(StandardCharsets.UTF_8);
      byte[] hash = BlockHash.of(bytes);
      ManagedChannel ch = NettyChannelBuilder.forTarget(data, admin.channelCredentials()).build();
      try {
        StatusRuntimeException put = assertThrows(StatusRuntimeException.class, () -> BlockServiceGrpc
            .newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS).putBlock(BlockDataProto.newBuilder()
                .setHash(ByteString.copyFrom(hash)).setData(ByteString.copyFrom(bytes)).build()));
        assertEquals(Status.Code.PERMISSION_DENIED, put.getStatus().getCode(), put.toString());
      } finally {
        ch.shutdownNow();
      }
      // Membership through the node port needs a node certificate too.
      try (AdminClient a = new AdminClient(data, admin)) {
        java.io.IOException e = assertThrows(java.io.IOException.class,
            () -> a.addMember(new io.sharefs.meta.ratis.RaftMetaStore.Member("evil", "127.0.0.1:1", true)));
        assertTrue(e.getMessage().contains("does not let this certificate"), e.getMessage());
      }
      assertTrue(c.node(0).logText().contains("role ADMIN may not call it"), c.node(0).logText());

      // Nothing happened: the block is not stored, the member was not added.
      TlsIdentity node = TlsIdentity.load(tmp.resolve("c/tls/n1"));
      ManagedChannel nch = NettyChannelBuilder.forTarget(data, node.channelCredentials()).build();
      try {
        StatusRuntimeException get = assertThrows(StatusRuntimeException.class, () -> BlockServiceGrpc
            .newBlockingStub(nch).withDeadlineAfter(5, TimeUnit.SECONDS)
            .getBlock(BlockIdProto.newBuilder().setHash(ByteString.copyFrom(hash)).build()));
        assertEquals(Status.Code.NOT_FOUND, get.getStatus().getCode(), get.toString());
      } finally {
        nch.shutdownNow();
      }
      NodeProcess.Result members = c.admin("members", "list", "--node", c.address(0));
      assertEquals(0, members.code(), members.out());
      assertFalse(members.out().contains("evil"), members.out());
    }
  }

  @Test
  void aNodeWithAForeignCertificateCannotJoin() throws Exception {
    try (SharefsCluster c = SharefsCluster.start(tmp.resolve("c"), 1)) {
      CertificateAuthority other = CertificateAuthority.create(tmp.resolve("other/ca"), "other", Duration.ofDays(90));
      other.issue("n9", Role.NODE, List.of("127.0.0.1"), Duration.ofDays(90), tmp.resolve("other/n9"));
      String listen = "127.0.0.1:" + NodeProcess.freePort();
      try (NodeProcess intruder = new NodeProcess(tmp.resolve("n9/data"), tmp.resolve("n9/mnt"), listen,
          List.of("--node-id", "n9", "--join", c.address(0), "--tls-dir", tmp.resolve("other/n9").toString()))) {
        intruder.launch();
        assertTrue(intruder.process().waitFor(60, TimeUnit.SECONDS), intruder.logText());
        assertEquals(1, intruder.process().exitValue(), intruder.logText());
        assertTrue(intruder.logText().contains("cannot join the cluster"), intruder.logText());
      }
      NodeProcess.Result members = c.admin("members", "list", "--node", c.address(0));
      assertEquals(0, members.code(), members.out());
      assertFalse(members.out().contains("n9"), members.out());
      assertTrue(c.node(0).logText().contains("refused a TLS"), c.node(0).logText());
    }
  }
}
