#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/utf8.h"

namespace herald::log {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// The length of the well-formed UTF-8 sequence at text[i], 0 if the byte
// there does not start one.
size_t Utf8SequenceAt(absl::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  const size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
  if (length <= 1) return length;
  if (i + length > text.size() || !IsValidUtf8(text.substr(i, length))) return 0;
  return length;
}

// Shared by both formats: JSON's escapes for control characters, quotes and
// backslashes, \ufffd for bytes outside well-formed UTF-8.
void AppendEscaped(std::string& out, absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceAt(text, i);
      if (length == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.data() + i, length);
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        // DEL too: it is legal JSON, but would reach a terminal raw.
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

// A text-format value needs quotes when it is empty or would not read back
// as one token.
bool NeedsQuotes(absl::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '"' || c == '=' || c == '\\' || u >= 0x80) return true;
  }
  return false;
}

std::string FormatUtcMillis(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

struct State {
  std::atomic<int> format{static_cast<int>(Format::kJson)};
  std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
  absl::Mutex mutex;
  std::function<void(absl::string_view)> sink ABSL_GUARDED_BY(mutex);
};

// Never destroyed: gRPC and worker threads may log during static destruction.
State& GetState() {
  static State* state = new State;
  return *state;
}

void WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return;  // stderr is gone; nothing better to do with a log line
    }
    data.remove_prefix(static_cast<size_t>(written));
  }
}

}  // namespace

Field::Field(absl::string_view key, int64_t value) : key_(key), value_(absl::StrCat(value)), is_number_(true) {}

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarning: return "warning";
    case Level::kError: return "error";
  }
  return "error";
}

absl::StatusOr<Level> ParseLevel(absl::string_view text) {
  for (Level level : {Level::kDebug, Level::kInfo, Level::kWarning, Level::kError}) {
    if (absl::EqualsIgnoreCase(text, LevelName(level))) return level;
  }
  return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not one of debug, info, warning, error"));
}

absl::StatusOr<Format> ParseFormat(absl::string_view text) {
  if (absl::EqualsIgnoreCase(text, "json")) return Format::kJson;
  if (absl::EqualsIgnoreCase(text, "text")) return Format::kText;
  return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not one of json, text"));
}

void AppendJsonString(std::string& out, absl::string_view text) {
  out += '"';
  AppendEscaped(out, text);
  out += '"';
}

std::string FormatJson(const Record& record) {
  std::string out = "{\"time\":\"";
  out += FormatUtcMillis(record.time);
  out += "\",\"level\":\"";
  absl::StrAppend(&out, LevelName(record.level));
  out += "\",\"component\":";
  AppendJsonString(out, record.component);
  out += ",\"message\":";
  AppendJsonString(out, record.message);
  for (const Field& field : record.fields) {
    if (field.omitted()) continue;
    out += ',';
    AppendJsonString(out, field.key());
    out += ':';
    if (field.is_number()) {
      absl::StrAppend(&out, field.value());
    } else {
      AppendJsonString(out, field.value());
    }
  }
  out += '}';
  return out;
}

std::string FormatText(const Record& record) {
  std::string out = FormatUtcMillis(record.time);
  out += ' ';
  out += absl::AsciiStrToUpper(LevelName(record.level));
  out += ' ';
  AppendEscaped(out, record.component);
  out += ": ";
  AppendEscaped(out, record.message);
  for (const Field& field : record.fields) {
    if (field.omitted()) continue;
    out += ' ';
    AppendEscaped(out, field.key());
    out += '=';
    if (NeedsQuotes(field.value())) {
      AppendJsonString(out, field.value());
    } else {
      absl::StrAppend(&out, field.value());
    }
  }
  return out;
}

void Configure(Format format, Level min_level) {
  State& state = GetState();
  state.format.store(static_cast<int>(format), std::memory_order_relaxed);
  state.min_level.store(static_cast<int>(min_level), std::memory_order_relaxed);
}

bool Enabled(Level level) {
  return static_cast<int>(level) >= GetState().min_level.load(std::memory_order_relaxed);
}

void Write(Level level, absl::string_view component, absl::string_view message, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  State& state = GetState();
  const Record record{absl::Now(), level, component, message, absl::MakeConstSpan(fields.begin(), fields.size())};
  std::string line = static_cast<Format>(state.format.load(std::memory_order_relaxed)) == Format::kText
                         ? FormatText(record)
                         : FormatJson(record);
  absl::MutexLock lock(&state.mutex);
  if (state.sink) {
    state.sink(line);
    return;
  }
  line += '\n';
  WriteAll(STDERR_FILENO, line);
}

void SetSinkForTest(std::function<void(absl::string_view line)> sink) {
  State& state = GetState();
  absl::MutexLock lock(&state.mutex);
  state.sink = std::move(sink);
}

}  // namespace herald::log
