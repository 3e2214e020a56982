// TLS credentials against real handshakes on loopback (a generic echo
// service, no Herald): bad files are start errors naming their flag; a TLS
// listener refuses plaintext and untrusted or misnamed servers are refused
// by clients; mTLS refuses clients without a certificate from the CA; and
// a rotated certificate file is served without a restart.
#include "security/tls.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "security/testing/test_pki.h"

namespace herald::security {
namespace {

using ::testing::HasSubstr;
using testing::CertKey;
using testing::TestPki;

// Answers every unary call with its request, and remembers the common name
// of the last client certificate it saw.
class EchoService final : public grpc::CallbackGenericService {
 public:
  std::string last_peer() {
    absl::MutexLock lock(&mu_);
    return last_peer_;
  }

 private:
  class Reactor final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(EchoService* service) { StartRead(&buffer_); }
    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status::OK);
        return;
      }
      StartWriteAndFinish(&buffer_, grpc::WriteOptions(), grpc::Status::OK);
    }
    void OnDone() override { delete this; }

   private:
    grpc::ByteBuffer buffer_;
  };

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* context) override {
    std::string peer;
    for (const auto& name : context->auth_context()->FindPropertyValues("x509_common_name")) {
      peer.assign(name.data(), name.size());
    }
    {
      absl::MutexLock lock(&mu_);
      last_peer_ = peer;
    }
    return new Reactor(this);
  }

  absl::Mutex mu_;
  std::string last_peer_ ABSL_GUARDED_BY(mu_);
};

class Server {
 public:
  explicit Server(std::shared_ptr<grpc::ServerCredentials> credentials) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", std::move(credentials), &port_);
    builder.RegisterCallbackGenericService(&echo_);
    server_ = builder.BuildAndStart();
  }
  ~Server() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  int port() const { return port_; }
  EchoService& echo() { return echo_; }

 private:
  EchoService echo_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// One echo call on a fresh channel (so a fresh handshake).
grpc::Status Echo(const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials,
                  const std::string& server_name = "") {
  grpc::ChannelArguments arguments;
  if (!server_name.empty()) arguments.SetSslTargetNameOverride(server_name);
  // A fresh connection per call, never one shared with an earlier channel.
  arguments.SetInt("grpc.use_local_subchannel_pool", 1);
  auto channel = grpc::CreateCustomChannel(target, std::move(credentials), arguments);
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice slice(std::string("ping"));
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::Status result;
  absl::Notification done;
  stub.UnaryCall(&context, "/herald.test.Echo/Echo", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) {
                   result = std::move(status);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (result.ok()) {
    std::vector<grpc::Slice> slices;
    (void)response.Dump(&slices);
    std::string echoed;
    for (const auto& s : slices) echoed.append(reinterpret_cast<const char*>(s.begin()), s.size());
    if (echoed != "ping") return grpc::Status(grpc::StatusCode::INTERNAL, "echo answered " + echoed);
  }
  return result;
}

std::shared_ptr<grpc::ChannelCredentials> Client(const TlsFiles& files) {
  auto credentials = MakeChannelCredentials(files, /*tls=*/true, "tls_");
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  return credentials.ok() ? *credentials : grpc::InsecureChannelCredentials();
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = (std::filesystem::temp_directory_path() / "herald-tls-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    auto pki = testing::MakeTestPki(pattern);
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = new TestPki(*pki);
  }
  static void TearDownTestSuite() {
    if (pki_ == nullptr) return;
    std::error_code ignored;
    std::filesystem::remove_all(pki_->dir, ignored);
    delete pki_;
    pki_ = nullptr;
  }

  static std::string ServerError(const TlsFiles& files) {
    auto credentials = MakeServerCredentials(files);
    return credentials.ok() ? "ok" : std::string(credentials.status().message());
  }

  static inline TestPki* pki_ = nullptr;
};

TEST_F(TlsTest, NothingSetIsPlaintextAndBadFilesAreStartErrorsNamingTheirFlag) {
  auto plain = MakeServerCredentials({});
  ASSERT_TRUE(plain.ok());
  auto plain_client = MakeChannelCredentials({}, /*tls=*/false, "tls_");
  ASSERT_TRUE(plain_client.ok());
  auto system_roots = MakeChannelCredentials({}, /*tls=*/true, "tls_");
  ASSERT_TRUE(system_roots.ok());
  {
    Server server(*plain);
    const std::string address = absl::StrCat("127.0.0.1:", server.port());
    EXPECT_TRUE(Echo(address, *plain_client).ok());
    EXPECT_EQ(Echo(address, *system_roots).error_code(), grpc::StatusCode::UNAVAILABLE);
  }

  const CertKey& server = pki_->server;
  EXPECT_EQ(ServerError({server.cert_file, server.key_file, ""}), "ok");
  EXPECT_EQ(ServerError({server.cert_file, server.key_file, pki_->ca_file}), "ok");
  EXPECT_EQ(ServerError({server.cert_file, "", ""}),
            "--tls_cert_file is set but --tls_key_file is not: give both or neither");
  EXPECT_EQ(ServerError({"", server.key_file, ""}),
            "--tls_key_file is set but --tls_cert_file is not: give both or neither");
  EXPECT_THAT(ServerError({"", "", pki_->ca_file}), HasSubstr("--tls_client_ca_file is set but --tls_cert_file"));
  EXPECT_EQ(ServerError({pki_->dir + "/missing.pem", server.key_file, ""}),
            absl::StrCat("--tls_cert_file ", pki_->dir, "/missing.pem: cannot read: No such file or directory"));

  const std::string not_pem = pki_->dir + "/not-pem.txt";
  WriteFile(not_pem, "hello\n");
  EXPECT_EQ(ServerError({not_pem, server.key_file, ""}),
            absl::StrCat("--tls_cert_file ", not_pem, ": no PEM certificate in the file"));
  EXPECT_EQ(ServerError({server.cert_file, server.cert_file, ""}),
            absl::StrCat("--tls_key_file ", server.cert_file, ": no PEM private key in the file"));
  EXPECT_EQ(ServerError({server.cert_file, server.key_file, not_pem}),
            absl::StrCat("--tls_client_ca_file ", not_pem, ": no PEM certificate in the file"));
  // A chain whose second certificate is damaged is not served truncated.
  const std::string broken_chain = pki_->dir + "/broken-chain.pem";
  WriteFile(broken_chain, ReadFile(server.cert_file) + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  EXPECT_EQ(ServerError({broken_chain, server.key_file, ""}),
            absl::StrCat("--tls_cert_file ", broken_chain, ": certificate 2 of 2 is not valid PEM"));
  EXPECT_EQ(ServerError({server.cert_file, pki_->client.key_file, ""}),
            absl::StrCat("--tls_key_file ", pki_->client.key_file, ": not the private key of --tls_cert_file ",
                         server.cert_file));
  const std::string encrypted = pki_->dir + "/encrypted.key";
  ASSERT_EQ(std::system(absl::StrCat("openssl pkey -in ", server.key_file, " -aes256 -passout pass:secret -out ",
                                     encrypted, " >/dev/null 2>&1")
                            .c_str()),
            0);
  EXPECT_THAT(ServerError({server.cert_file, encrypted, ""}), HasSubstr("the key is encrypted"));

  // Clients name their own flags.
  auto client = MakeChannelCredentials({"", pki_->client.key_file, pki_->ca_file}, /*tls=*/false, "delivery_tls_");
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().message(),
            "--delivery_tls_key_file is set but --delivery_tls_cert_file is not: give both or neither");
  auto bad_ca = MakeChannelCredentials({"", "", not_pem}, /*tls=*/false, "tls_");
  ASSERT_FALSE(bad_ca.ok());
  EXPECT_EQ(bad_ca.status().message(), absl::StrCat("--tls_ca_file ", not_pem, ": no PEM certificate in the file"));
}

TEST_F(TlsTest, ATlsListenerServesTrustingClientsOnlyAndClientsCheckTheServerName) {
  auto credentials = MakeServerCredentials({pki_->server.cert_file, pki_->server.key_file, ""});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  Server server(*credentials);
  ASSERT_NE(server.port(), 0);
  const std::string address = absl::StrCat("127.0.0.1:", server.port());

  grpc::Status trusted = Echo(address, Client({"", "", pki_->ca_file}));
  EXPECT_TRUE(trusted.ok()) << trusted.error_message();
  EXPECT_TRUE(Echo(absl::StrCat("localhost:", server.port()), Client({"", "", pki_->ca_file})).ok());
  // Without mTLS a client certificate is not asked for, and harmless.
  EXPECT_TRUE(Echo(address, Client({pki_->client.cert_file, pki_->client.key_file, pki_->ca_file})).ok());

  EXPECT_EQ(Echo(address, grpc::InsecureChannelCredentials()).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Echo(address, Client({"", "", pki_->other_ca_file})).error_code(), grpc::StatusCode::UNAVAILABLE);
  // The certificate names 127.0.0.1 and localhost, not this name.
  EXPECT_EQ(Echo(address, Client({"", "", pki_->ca_file}), "herald.internal").error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // A certificate for a DNS name reached by address: the override names it.
  auto named = testing::IssueCertificate(pki_->dir, pki_->ca, "named", "herald.internal", "DNS:herald.internal");
  ASSERT_TRUE(named.ok()) << named.status();
  auto named_credentials = MakeServerCredentials({named->cert_file, named->key_file, ""});
  ASSERT_TRUE(named_credentials.ok());
  Server named_server(*named_credentials);
  const std::string named_address = absl::StrCat("127.0.0.1:", named_server.port());
  EXPECT_EQ(Echo(named_address, Client({"", "", pki_->ca_file})).error_code(), grpc::StatusCode::UNAVAILABLE);
  grpc::Status overridden = Echo(named_address, Client({"", "", pki_->ca_file}), "herald.internal");
  EXPECT_TRUE(overridden.ok()) << overridden.error_message();
}

TEST_F(TlsTest, WithAClientCaOnlyClientsWithACertificateFromItAreServed) {
  auto credentials = MakeServerCredentials({pki_->server.cert_file, pki_->server.key_file, pki_->ca_file});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  Server server(*credentials);
  const std::string address = absl::StrCat("127.0.0.1:", server.port());

  EXPECT_EQ(Echo(address, Client({"", "", pki_->ca_file})).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Echo(address, Client({pki_->other_client.cert_file, pki_->other_client.key_file, pki_->ca_file}))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Echo(address, grpc::InsecureChannelCredentials()).error_code(), grpc::StatusCode::UNAVAILABLE);

  grpc::Status served = Echo(address, Client({pki_->client.cert_file, pki_->client.key_file, pki_->ca_file}));
  EXPECT_TRUE(served.ok()) << served.error_message();
  EXPECT_EQ(server.echo().last_peer(), "herald-client");
}

// cert-manager renews a certificate by rewriting the secret's files: the
// listener serves the new one to new connections, no restart.
TEST_F(TlsTest, ARotatedCertificateFileIsServedWithoutARestart) {
  const std::string dir = pki_->dir + "/rotating";
  std::filesystem::create_directories(dir);
  const TlsFiles files{dir + "/tls.crt", dir + "/tls.key", "", /*refresh_interval_seconds=*/1};
  std::filesystem::copy_file(pki_->server.cert_file, files.cert_file);
  std::filesystem::copy_file(pki_->server.key_file, files.key_file);
  auto credentials = MakeServerCredentials(files);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  Server server(*credentials);
  const std::string address = absl::StrCat("127.0.0.1:", server.port());
  ASSERT_TRUE(Echo(address, Client({"", "", pki_->ca_file})).ok());
  ASSERT_FALSE(Echo(address, Client({"", "", pki_->other_ca_file})).ok());

  // The new certificate comes from another CA, so which one is served shows.
  auto renewed = testing::IssueCertificate(dir, pki_->other_ca, "renewed", "127.0.0.1", "IP:127.0.0.1");
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  // Kubernetes swaps a secret volume's files at once (a symlink flip); a
  // rename is as atomic.
  std::filesystem::rename(renewed->key_file, files.key_file);
  std::filesystem::rename(renewed->cert_file, files.cert_file);
  const absl::Time give_up = absl::Now() + absl::Seconds(15);
  bool rotated = false;
  while (!rotated && absl::Now() < give_up) {
    rotated = Echo(address, Client({"", "", pki_->other_ca_file})).ok();
    if (!rotated) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(rotated) << "the renewed certificate was not served within 15 s";
  EXPECT_FALSE(Echo(address, Client({"", "", pki_->ca_file})).ok());
}

}  // namespace
}  // namespace herald::security
