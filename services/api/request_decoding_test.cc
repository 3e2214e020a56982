// Decoding raw request bytes: a request whose string holds invalid UTF-8 is
// INVALID_ARGUMENT naming the exact field path, other garbage says which
// message it is not, and valid requests round-trip. The invalid bytes are
// hand-encoded in the protobuf wire format (tag, length, bytes), so the test
// does not lean on what the C++ setters and serializer do with them.
#include "services/api/request_decoding.h"

#include <string>

#include "core/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "herald/v1/herald.pb.h"

namespace herald::api {
namespace {

using ::testing::StartsWith;

// --- Wire format, by hand -------------------------------------------------

std::string Varint(uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

// A length-delimited field (string or nested message).
std::string Field(int number, const std::string& bytes) {
  return Varint((static_cast<uint64_t>(number) << 3) | 2) + Varint(bytes.size()) + bytes;
}

// Field numbers (proto/herald/v1/herald.proto).
constexpr int kTriggerWorkflow = 1, kTriggerRecipients = 2, kTriggerActor = 3, kTriggerData = 4;
constexpr int kRecipientId = 1, kRecipientUser = 2;
constexpr int kUserId = 1, kUserName = 2;
constexpr int kBatchTriggers = 1;

const std::string kBad = "ab\xff" "cd";  // 0xFF never appears in UTF-8

std::string RecipientId(const std::string& id) { return Field(kTriggerRecipients, Field(kRecipientId, id)); }

std::string InvalidMessage(const std::string& path) { return path + ": is not valid UTF-8"; }

absl::Status DecodeTrigger(const std::string& bytes, v1::TriggerRequest* request) {
  return DecodeRequest(absl::string_view(bytes), request);
}

// --- Tests -----------------------------------------------------------------

TEST(DecodeRequestTest, ValidTriggerRequestRoundTrips) {
  v1::TriggerRequest original;
  original.set_workflow("new-comment");
  original.add_recipients()->set_id("rita");
  v1::InlineUser* user = original.add_recipients()->mutable_user();
  user->set_id("zoë");
  user->set_name("Zoë \xF0\x9F\x98\x80");  // a 4-byte emoji
  user->set_email("zoe@example.com");
  original.add_recipients()->mutable_object()->set_collection("projects");
  original.mutable_recipients(2)->mutable_object()->set_id("p1");
  original.set_actor("ana");
  original.set_data_json(R"({"text": "日本語 \uD83D\uDE00 😀"})");
  original.set_tenant("acme");
  original.set_cancellation_key("post-1");
  original.set_idempotency_key("k-1");
  const std::string bytes = original.SerializeAsString();

  v1::TriggerRequest decoded;
  ASSERT_TRUE(DecodeTrigger(bytes, &decoded).ok());
  EXPECT_EQ(decoded.SerializeAsString(), bytes);
  EXPECT_EQ(decoded.recipients(1).user().name(), "Zoë \xF0\x9F\x98\x80");
  EXPECT_EQ(FindInvalidUtf8(*v1::TriggerRequest::descriptor(), bytes), std::optional<std::string>(""));

  // The same bytes hand-encoded decode to the same message.
  std::string hand = Field(kTriggerWorkflow, "new-comment") + RecipientId("rita") +
                     Field(kTriggerRecipients, Field(kRecipientUser, Field(kUserId, "u") + Field(kUserName, "\xF4\x8F\xBF\xBF")));
  ASSERT_TRUE(DecodeTrigger(hand, &decoded).ok());
  EXPECT_EQ(decoded.workflow(), "new-comment");
  EXPECT_EQ(decoded.recipients(0).id(), "rita");
  EXPECT_EQ(decoded.recipients(1).user().name(), "\xF4\x8F\xBF\xBF");  // U+10FFFF
}

TEST(DecodeRequestTest, InvalidUtf8InARepeatedFieldNamesItsIndex) {
  std::string bytes = Field(kTriggerWorkflow, "new-comment") + RecipientId("rita") + RecipientId("bo") +
                      RecipientId(kBad) + RecipientId("cy");
  v1::TriggerRequest request;
  absl::Status status = DecodeTrigger(bytes, &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith(InvalidMessage("recipients[2].id")));
  EXPECT_EQ(FindInvalidUtf8(*v1::TriggerRequest::descriptor(), bytes), std::optional<std::string>("recipients[2].id"));
}

TEST(DecodeRequestTest, InvalidUtf8InANestedFieldNamesThePath) {
  std::string user = Field(kUserId, "zoe") + Field(kUserName, "Zo\xC3");  // truncated 2-byte sequence
  std::string bytes = Field(kTriggerWorkflow, "w") + Field(kTriggerRecipients, Field(kRecipientUser, user));
  v1::TriggerRequest request;
  absl::Status status = DecodeTrigger(bytes, &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith(InvalidMessage("recipients[0].user.name")));
}

TEST(DecodeRequestTest, InvalidUtf8InDataJsonNamesIt) {
  std::string bytes = Field(kTriggerWorkflow, "w") + RecipientId("rita") + Field(kTriggerData, "{\"x\": \"\xED\xA0\x80\"}");
  v1::TriggerRequest request;
  absl::Status status = DecodeTrigger(bytes, &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith(InvalidMessage("data_json")));
}

TEST(DecodeRequestTest, RefusedSequencesNameTheField) {
  // Each must be refused wherever it appears; here in `actor`.
  for (const std::string& bad : {std::string("\xC0\x80"), std::string("\xE0\x80\xAF"), std::string("\xF0\x8F\xBF\xBF"),
                                std::string("\xED\xA0\x80"), std::string("\xED\xBF\xBF"), std::string("\xF4\x90\x80\x80"),
                                std::string("\xF5\x80\x80\x80"), std::string("\x80"), std::string("\xE2\x82")}) {
    SCOPED_TRACE(testing::PrintToString(bad));
    std::string bytes = Field(kTriggerWorkflow, "w") + Field(kTriggerActor, "a" + bad);
    v1::TriggerRequest request;
    absl::Status status = DecodeTrigger(bytes, &request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), StartsWith(InvalidMessage("actor")));
  }
}

TEST(DecodeRequestTest, BatchRequestNamesTheTriggerIndex) {
  std::string good = Field(kTriggerWorkflow, "w") + RecipientId("rita");
  std::string bad = Field(kTriggerWorkflow, "w") + RecipientId(kBad) + RecipientId("bo");
  std::string bytes = Field(kBatchTriggers, good) + Field(kBatchTriggers, bad) + Field(kBatchTriggers, good);
  v1::TriggerBatchRequest request;
  absl::Status status = DecodeRequest(absl::string_view(bytes), &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith(InvalidMessage("triggers[1].recipients[0].id")));
  EXPECT_EQ(request.triggers_size(), 0);  // nothing half-decoded is left behind

  // And without the bad one it decodes.
  bytes = Field(kBatchTriggers, good) + Field(kBatchTriggers, good);
  ASSERT_TRUE(DecodeRequest(absl::string_view(bytes), &request).ok());
  ASSERT_EQ(request.triggers_size(), 2);
  EXPECT_EQ(request.triggers(1).recipients(0).id(), "rita");
}

TEST(DecodeRequestTest, GarbageIsNotAMessageOfItsType) {
  v1::TriggerRequest request;
  for (const std::string& garbage :
       {std::string("\xff\xff\xff\xff"), std::string("\x0a\x10short"),  // length past the end
        std::string("\x00", 1), std::string("\x12\x03\x0a\x05xx")}) {   // nested length past its parent
    SCOPED_TRACE(testing::PrintToString(garbage));
    absl::Status status = DecodeTrigger(garbage, &request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(status.message()), "request: not a valid herald.v1.TriggerRequest message");
    EXPECT_EQ(FindInvalidUtf8(*v1::TriggerRequest::descriptor(), garbage), std::nullopt);
  }
  v1::TriggerBatchRequest batch;
  absl::Status status = DecodeRequest(absl::string_view("\xff\xff\xff\xff"), &batch);
  EXPECT_EQ(std::string(status.message()), "request: not a valid herald.v1.TriggerBatchRequest message");
}

TEST(DecodeRequestTest, NestedLengthPastItsParentIsMalformedNotAUtf8Error) {
  // recipients[0] is 5 bytes long, but the user inside it claims 16: what
  // follows the recipient (an `actor` with invalid UTF-8) is, by the
  // declared lengths, inside the user. The request is malformed, and no
  // field path would be true.
  std::string recipient = "\x12\x10" + Field(kUserId, "u");
  std::string bytes = Field(kTriggerWorkflow, "w") + Field(kTriggerRecipients, recipient) + Field(kTriggerActor, kBad);
  v1::TriggerRequest request;
  absl::Status status = DecodeTrigger(bytes, &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()), "request: not a valid herald.v1.TriggerRequest message");
  EXPECT_EQ(FindInvalidUtf8(*v1::TriggerRequest::descriptor(), bytes), std::nullopt);
}

TEST(DecodeRequestTest, UnknownFieldsAreSkipped) {
  // Field 15 (varint) and field 16 (length-delimited) are not in the
  // message: they are kept as unknown, and invalid bytes in them are not a
  // string of this message.
  std::string bytes = Field(kTriggerWorkflow, "w") + Varint(15 << 3) + Varint(300) + Field(16, kBad) +
                      RecipientId("rita");
  v1::TriggerRequest request;
  ASSERT_TRUE(DecodeTrigger(bytes, &request).ok());
  EXPECT_EQ(request.recipients(0).id(), "rita");
  EXPECT_EQ(FindInvalidUtf8(*v1::TriggerRequest::descriptor(), bytes), std::optional<std::string>(""));
}

TEST(IsValidUtf8Test, AcceptsWellFormedText) {
  for (const std::string& text : {std::string(""), std::string("plain ascii"), std::string("\x7f"),
                                 std::string("\xC2\x80"), std::string("\xDF\xBF"), std::string("\xE0\xA0\x80"),
                                 std::string("\xED\x9F\xBF"),          // U+D7FF, just below the surrogates
                                 std::string("\xEE\x80\x80"),          // U+E000, just above
                                 std::string("\xEF\xBF\xBF"),          // U+FFFF
                                 std::string("\xF0\x90\x80\x80"),      // U+10000
                                 std::string("\xF0\x9F\x98\x80"),      // 😀
                                 std::string("\xF4\x8F\xBF\xBF"),      // U+10FFFF
                                 std::string("a\0b", 3), std::string("zoë 日本 😀")}) {
    EXPECT_TRUE(IsValidUtf8(text)) << testing::PrintToString(text);
  }
}

TEST(IsValidUtf8Test, RefusesOverlongSurrogatesAndBeyondUnicode) {
  for (const std::string& text : {
           std::string("\xC0\x80"), std::string("\xC1\xBF"),                      // overlong 2-byte
           std::string("\xE0\x80\x80"), std::string("\xE0\x9F\xBF"),              // overlong 3-byte
           std::string("\xF0\x80\x80\x80"), std::string("\xF0\x8F\xBF\xBF"),      // overlong 4-byte
           std::string("\xED\xA0\x80"), std::string("\xED\xBF\xBF"),              // surrogates
           std::string("\xF4\x90\x80\x80"), std::string("\xF5\x80\x80\x80"),      // above U+10FFFF
           std::string("\xF8\x88\x80\x80\x80"), std::string("\xFE"), std::string("\xFF"),
           std::string("\x80"), std::string("\xBF"),                              // lone continuation
           std::string("\xC2"), std::string("\xE2\x82"), std::string("\xF0\x9F\x98"),  // truncated
           std::string("\xE2\x28\xA1"), std::string("\xC2\x41"),                  // bad continuation
           std::string("ok\xF0\x9F\x98\x80" "\xC0\xAF"),                          // bad after good
       }) {
    EXPECT_FALSE(IsValidUtf8(text)) << testing::PrintToString(text);
  }
}

}  // namespace
}  // namespace herald::api
