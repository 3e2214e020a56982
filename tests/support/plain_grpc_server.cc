// A gRPC server exactly as gRPC builds it (its own listener, default
// arguments, health and reflection only): listener_flood_test floods it to show
// the flood it uses would wedge an unprotected server. Prints
// "gRPC on port N" and serves until killed.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <unistd.h>

#include <iostream>

int main() {
  grpc::EnableDefaultHealthCheckService(true);
  // gRPC refuses to start a server whose only service is the default health
  // service; reflection (as in Herald's worker roles) gives it a second one.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return 1;
  std::cout << "gRPC on port " << port << std::endl;
  server->Wait();
  return 0;
}
