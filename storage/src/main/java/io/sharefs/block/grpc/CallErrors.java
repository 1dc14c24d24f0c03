package io.sharefs.block.grpc;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/** Reports every gRPC call that ends with a non-OK status, by side, method and status code (for metrics). */
@FunctionalInterface
public interface CallErrors {
  /** A call ended with {@code code}; side is "server" or "client". */
  void error(String side, String method, String code);

  CallErrors NONE = (side, method, code) -> {};

  /** Counts failed calls this server answered. */
  default ServerInterceptor server() {
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
          @Override
          public void close(Status status, Metadata trailers) {
            if (!status.isOk()) {
              error("server", method, status.getCode().name());
            }
            super.close(status, trailers);
          }
        }, headers);
      }
    };
  }

  /** Counts failed calls this client made. */
  default ClientInterceptor client() {
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        String name = method.getFullMethodName();
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
          @Override
          public void start(Listener<R> listener, Metadata headers) {
            super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
              @Override
              public void onClose(Status status, Metadata trailers) {
                if (!status.isOk()) {
                  error("client", name, status.getCode().name());
                }
                super.onClose(status, trailers);
              }
            }, headers);
          }
        };
      }
    };
  }
}
