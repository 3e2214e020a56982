// The log line formats: JSON that any parser reads back to what was logged
// (whatever bytes a status message carried), text that stays one line.
#include "core/log.h"

#include <random>
#include <regex>
#include <string>
#include <vector>

#include "core/utf8.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace herald::log {
namespace {

using nlohmann::json;

const absl::Time kTime = absl::FromUnixMillis(1714557600123);  // 2024-05-01T10:00:00.123Z

// What a reader of the JSON gets back for `text`: itself when it is
// well-formed UTF-8; otherwise each byte that starts no well-formed
// character is U+FFFD. Written independently of the formatter: the shortest
// well-formed prefix at each position is the character there.
std::string ExpectedDecoding(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t length = 0;
    for (size_t n = 1; n <= 4 && i + n <= text.size(); ++n) {
      if (IsValidUtf8(text.substr(i, n))) {
        length = n;
        break;
      }
    }
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out += text.substr(i, length);
      i += length;
    }
  }
  return out;
}

std::string Json(Level level, absl::string_view component, absl::string_view message,
                 std::initializer_list<Field> fields = {}) {
  return FormatJson(Record{kTime, level, component, message, absl::MakeConstSpan(fields.begin(), fields.size())});
}

std::string Text(Level level, absl::string_view component, absl::string_view message,
                 std::initializer_list<Field> fields = {}) {
  return FormatText(Record{kTime, level, component, message, absl::MakeConstSpan(fields.begin(), fields.size())});
}

TEST(LogFormatTest, JsonLineHasTheFixedKeysFirstThenTheFields) {
  EXPECT_EQ(Json(Level::kError, "batcher", "event processing failed",
                 {{"run_id", "r1"}, {"attempts", 3}, {"error", absl::UnavailableError("redis gone")}}),
            R"({"time":"2024-05-01T10:00:00.123Z","level":"error","component":"batcher",)"
            R"("message":"event processing failed","run_id":"r1","attempts":3,"error":"UNAVAILABLE: redis gone"})");
}

TEST(LogFormatTest, FieldsWithoutValueCanBeLeftOut) {
  EXPECT_EQ(Json(Level::kInfo, "c", "m", {Field::IfSet("message_id", ""), Field::IfSet("run_id", "r"), {"k", ""}}),
            R"({"time":"2024-05-01T10:00:00.123Z","level":"info","component":"c","message":"m","run_id":"r","k":""})");
  EXPECT_EQ(Text(Level::kInfo, "c", "m", {Field::IfSet("message_id", ""), {"k", ""}}),
            "2024-05-01T10:00:00.123Z INFO c: m k=\"\"");
}

TEST(LogFormatTest, TimeIsUtcWithMilliseconds) {
  const std::string line = FormatJson(Record{absl::FromUnixMicros(1714557600000999), Level::kInfo, "c", "m", {}});
  EXPECT_EQ(json::parse(line)["time"], "2024-05-01T10:00:00.000Z");  // truncated, never rounded into the next ms
}

TEST(LogFormatTest, EscapesQuotesBackslashesAndControlCharacters) {
  constexpr char kNasty[] = "a\"b\\c\nd\re\tf\x01g\x7fh\0i";
  const std::string nasty(kNasty, sizeof(kNasty) - 1);
  const std::string line = Json(Level::kInfo, "c", nasty);
  EXPECT_NE(line.find(R"("a\"b\\c\nd\re\tf\u0001g\u007fh\u0000i")"), std::string::npos) << line;
  EXPECT_EQ(json::parse(line)["message"], nasty);
}

TEST(LogFormatTest, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(json::parse(Json(Level::kInfo, "c", "a\xff" "b"))["message"], "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(json::parse(Json(Level::kInfo, "c", "cut \xC3"))["message"], "cut \xEF\xBF\xBD");
  // Overlong '/' and an encoded surrogate: every byte replaced.
  EXPECT_EQ(json::parse(Json(Level::kInfo, "c", "\xC0\xAF"))["message"], "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(json::parse(Json(Level::kInfo, "c", "\xED\xA0\x80"))["message"],
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  // Well-formed multi-byte text passes through untouched.
  EXPECT_EQ(json::parse(Json(Level::kInfo, "c", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x94"))["message"],
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x94");
}

TEST(LogFormatTest, KeysAndComponentAreEscapedToo) {
  json parsed = json::parse(Json(Level::kWarning, "grp\"c", "m", {{"we\"ird\n", "v\xff"}}));
  EXPECT_EQ(parsed["component"], "grp\"c");
  EXPECT_EQ(parsed["we\"ird\n"], "v\xEF\xBF\xBD");
  EXPECT_EQ(parsed["level"], "warning");
}

// Random byte strings, biased towards what breaks escapers: control
// characters, quotes, backslashes, UTF-8 lead and continuation bytes.
TEST(LogFormatTest, RandomBytesAlwaysGiveOneParsableLine) {
  std::mt19937 random(20240501);
  const std::vector<unsigned char> interesting = {0x00, 0x01, 0x0a, 0x0d, 0x1f, '"', '\\', '/', 0x7f, 0x80,
                                                  0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5,
                                                  0xff, 0xa0, 0x9f, 0x8f, 0x90, 'u', '0', '{', '}', '='};
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const int length = static_cast<int>(random() % 24);
    for (int i = 0; i < length; ++i) {
      text += random() % 2 == 0 ? static_cast<char>(interesting[random() % interesting.size()])
                                : static_cast<char>(random() % 256);
    }
    const std::string line = Json(Level::kError, text, text, {{"k", text}, {"n", round}});
    ASSERT_EQ(line.find('\n'), std::string::npos) << line;
    ASSERT_TRUE(IsValidUtf8(line)) << line;
    json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(parsed.is_discarded()) << line;
    const std::string expected = ExpectedDecoding(text);
    ASSERT_EQ(parsed["message"], expected) << line;
    ASSERT_EQ(parsed["component"], expected) << line;
    ASSERT_EQ(parsed["k"], expected) << line;
    ASSERT_EQ(parsed["n"], round);
    if (IsValidUtf8(text)) {
      ASSERT_EQ(expected, text);
    }

    const std::string text_line = Text(Level::kError, text, text, {{"k", text}});
    ASSERT_TRUE(IsValidUtf8(text_line)) << text_line;
    for (char c : text_line) ASSERT_TRUE(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) << text_line;
  }
}

TEST(LogFormatTest, TextLineReadsLikeALogLine) {
  EXPECT_EQ(Text(Level::kWarning, "settings", "HERALD_PARTITONS is not a setting",
                 {{"hint", "did you mean HERALD_PARTITIONS?"}, {"count", 2}, {"empty", ""}, {"plain", "x1"}}),
            "2024-05-01T10:00:00.123Z WARNING settings: HERALD_PARTITONS is not a setting "
            "hint=\"did you mean HERALD_PARTITIONS?\" count=2 empty=\"\" plain=x1");
  // A value with '=' or a quote is quoted, so key=value pairs read back unambiguously.
  EXPECT_EQ(Text(Level::kInfo, "c", "m", {{"k", "a=b"}, {"q", "say \"hi\""}}),
            "2024-05-01T10:00:00.123Z INFO c: m k=\"a=b\" q=\"say \\\"hi\\\"\"");
}

TEST(LogLevelTest, ParsesNamesAndRejectsOthers) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("WARNING"), Level::kWarning);
  EXPECT_EQ(ParseLevel("verbose").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseFormat("text"), Format::kText);
  EXPECT_EQ(ParseFormat("yaml").status().message(), "'yaml' is not one of json, text");
}

class LogWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetSinkForTest([this](absl::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    SetSinkForTest(nullptr);
    Configure(Format::kJson, Level::kInfo);
  }
  std::vector<std::string> lines_;
};

TEST_F(LogWriteTest, LevelsBelowTheMinimumAreDropped) {
  Configure(Format::kJson, Level::kWarning);
  Info("c", "not shown");
  Warning("c", "shown", {{"message_id", "m1"}});
  Error("c", "shown too");
  ASSERT_EQ(lines_.size(), 2u);
  json first = json::parse(lines_[0]);
  EXPECT_EQ(first["level"], "warning");
  EXPECT_EQ(first["message_id"], "m1");
  EXPECT_TRUE(std::regex_match(first["time"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  EXPECT_FALSE(Enabled(Level::kInfo));
}

TEST_F(LogWriteTest, TextFormatIsSelectable) {
  Configure(Format::kText, Level::kDebug);
  Debug("grpc", "hello", {{"source", "x.cc:1"}});
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_TRUE(std::regex_match(lines_[0], std::regex(R"(\S+Z DEBUG grpc: hello source=x\.cc:1)"))) << lines_[0];
}

}  // namespace
}  // namespace herald::log
