// Structured logging: one line per event on stderr, as JSON (for log
// collectors: time, level, component, message, then the event's fields such
// as run_id or message_id) or as text (for a terminal). Debian's Abseil has
// no absl/log, and the few lines Herald writes need no more than this.
//
//   log::Error("batcher", "event processing failed",
//              {{"run_id", run_id}, {"error", status}});
//
// Thread-safe: a line is formatted first and written with one write(2)
// under a lock, so lines of concurrent threads never interleave.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace herald::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class Format { kJson, kText };

// "debug", "info", "warning", "error".
absl::string_view LevelName(Level level);
// Parses a --log_level / --log_format value; INVALID_ARGUMENT names the
// accepted values.
absl::StatusOr<Level> ParseLevel(absl::string_view text);
absl::StatusOr<Format> ParseFormat(absl::string_view text);

// One key/value of a log line. Keys are identifiers chosen at the call
// site (run_id, message_id, channel, error, ...); values are strings, whole
// numbers (JSON numbers) or a status (its ToString()).
class Field {
 public:
  Field(absl::string_view key, absl::string_view value) : key_(key), value_(value) {}
  Field(absl::string_view key, const std::string& value) : key_(key), value_(value) {}
  Field(absl::string_view key, const char* value) : key_(key), value_(value) {}
  Field(absl::string_view key, const absl::Status& status) : key_(key), value_(status.ToString()) {}
  Field(absl::string_view key, int64_t value);
  Field(absl::string_view key, int value) : Field(key, static_cast<int64_t>(value)) {}
  Field(absl::string_view key, size_t value) : Field(key, static_cast<int64_t>(value)) {}
  // A field left out of the line when `value` is empty: an id the event
  // may not have (a message id on an event about a user).
  static Field IfSet(absl::string_view key, absl::string_view value) {
    Field field(key, value);
    field.omit_if_empty_ = true;
    return field;
  }

  absl::string_view key() const { return key_; }
  absl::string_view value() const { return value_; }
  bool is_number() const { return is_number_; }
  bool omitted() const { return omit_if_empty_ && value_.empty(); }

 private:
  absl::string_view key_;
  std::string value_;
  bool is_number_ = false;
  bool omit_if_empty_ = false;
};

// Everything one line says.
struct Record {
  absl::Time time;
  Level level = Level::kInfo;
  absl::string_view component;
  absl::string_view message;
  absl::Span<const Field> fields;
};

// {"time":"2024-05-01T10:00:00.123Z","level":"error","component":"batcher",
//  "message":"...", <fields in order>} and no newline. Every string is
// escaped: quotes, backslashes, control characters (\n, \u0001, ...), and
// each byte that is not part of well-formed UTF-8 becomes \ufffd, so the
// line is valid JSON whatever a status message or a gRPC peer carried.
std::string FormatJson(const Record& record);
// 2024-05-01T10:00:00.123Z ERROR batcher: message key=value key="a b"
// Control characters and invalid UTF-8 are escaped as in JSON, so one
// record is always one line.
std::string FormatText(const Record& record);
// Appends `text` as a quoted, escaped JSON string.
void AppendJsonString(std::string& out, absl::string_view text);

// Process-wide settings (default: JSON, info). Safe to call at any time.
void Configure(Format format, Level min_level);
bool Enabled(Level level);

// Formats and writes one line if `level` is enabled.
void Write(Level level, absl::string_view component, absl::string_view message,
           std::initializer_list<Field> fields = {});
inline void Debug(absl::string_view component, absl::string_view message, std::initializer_list<Field> fields = {}) {
  Write(Level::kDebug, component, message, fields);
}
inline void Info(absl::string_view component, absl::string_view message, std::initializer_list<Field> fields = {}) {
  Write(Level::kInfo, component, message, fields);
}
inline void Warning(absl::string_view component, absl::string_view message,
                    std::initializer_list<Field> fields = {}) {
  Write(Level::kWarning, component, message, fields);
}
inline void Error(absl::string_view component, absl::string_view message, std::initializer_list<Field> fields = {}) {
  Write(Level::kError, component, message, fields);
}

// Replaces stderr by `sink` (each call gets one line without its newline);
// nullptr restores stderr. For tests.
void SetSinkForTest(std::function<void(absl::string_view line)> sink);

}  // namespace herald::log
