#include "templates/filters.h"

#include <cmath>
#include <cstdint>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace herald::templates {
namespace {

using nlohmann::json;

const json& Arg(const std::vector<const json*>& args, size_t i) {
  static const json* const kNull = new json(nullptr);
  return i < args.size() && args[i] != nullptr ? *args[i] : *kNull;
}

// Number of UTF-8 code points (continuation bytes are not counted).
size_t CodePoints(absl::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

// Byte length of the first `points` code points of `text`.
size_t PrefixBytes(absl::string_view text, size_t points) {
  size_t i = 0;
  for (size_t seen = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (seen == points) break;
      ++seen;
    }
  }
  return i;
}

// An integer result stays an integer; anything else becomes a double.
json Arithmetic(const json& left, const json& right, char op) {
  double a = AsNumber(left).value_or(0), b = AsNumber(right).value_or(0);
  auto integral = [](const json& v) {
    if (v.is_number_integer()) return true;
    if (!v.is_string()) return false;
    int64_t ignored;
    return absl::SimpleAtoi(v.get_ref<const std::string&>(), &ignored);
  };
  double result = op == '+' ? a + b : op == '-' ? a - b : a * b;
  if (integral(left) && integral(right) && std::fabs(result) < 9.0e15) return static_cast<int64_t>(result);
  return result;
}

absl::Status Default(const json& input, const std::vector<const json*>& args, const RenderOptions&, json* out) {
  bool use_default = input.is_null() || (input.is_boolean() && !input.get<bool>()) ||
                     (input.is_string() && input.get_ref<const std::string&>().empty()) ||
                     ((input.is_array() || input.is_object()) && input.empty());
  *out = use_default ? Arg(args, 0) : input;
  return absl::OkStatus();
}

template <char (*Map)(char)>
absl::Status MapAscii(const json& input, const std::vector<const json*>&, const RenderOptions&, json* out) {
  std::string text = AsText(input);
  for (char& c : text) c = Map(c);
  *out = std::move(text);
  return absl::OkStatus();
}

absl::Status Capitalize(const json& input, const std::vector<const json*>&, const RenderOptions&, json* out) {
  std::string text = AsText(input);
  for (size_t i = 0; i < text.size(); ++i) text[i] = i == 0 ? absl::ascii_toupper(text[i]) : absl::ascii_tolower(text[i]);
  *out = std::move(text);
  return absl::OkStatus();
}

absl::Status Size(const json& input, const std::vector<const json*>&, const RenderOptions&, json* out) {
  if (input.is_string()) {
    *out = CodePoints(input.get_ref<const std::string&>());
  } else if (input.is_array() || input.is_object()) {
    *out = input.size();
  } else {
    *out = 0;
  }
  return absl::OkStatus();
}

template <char Op>
absl::Status ArithmeticFilter(const json& input, const std::vector<const json*>& args, const RenderOptions&, json* out) {
  *out = Arithmetic(input, Arg(args, 0), Op);
  return absl::OkStatus();
}

// {{ n | pluralize: "comment" }} -> "comment" when n is 1, else "comments";
// {{ n | pluralize: "person", "people" }} picks between the two.
absl::Status Pluralize(const json& input, const std::vector<const json*>& args, const RenderOptions&, json* out) {
  std::string singular = AsText(Arg(args, 0));
  std::string plural = args.size() > 1 ? AsText(Arg(args, 1)) : singular + "s";
  std::optional<double> count = AsNumber(input);
  *out = count.has_value() && *count == 1 ? singular : plural;
  return absl::OkStatus();
}

// Liquid: the result, ellipsis included, is at most `length` characters.
absl::Status Truncate(const json& input, const std::vector<const json*>& args, const RenderOptions&, json* out) {
  std::string text = AsText(input);
  double length = args.empty() ? 50 : AsNumber(Arg(args, 0)).value_or(50);
  std::string ellipsis = args.size() > 1 ? AsText(Arg(args, 1)) : "...";
  size_t limit = length < 0 ? 0 : length > 1e9 ? static_cast<size_t>(1e9) : static_cast<size_t>(length);
  if (CodePoints(text) <= limit) {
    *out = std::move(text);
    return absl::OkStatus();
  }
  size_t keep = limit > CodePoints(ellipsis) ? limit - CodePoints(ellipsis) : 0;
  *out = text.substr(0, PrefixBytes(text, keep)) + ellipsis;
  return absl::OkStatus();
}

absl::Status Join(const json& input, const std::vector<const json*>& args, const RenderOptions&, json* out) {
  if (!input.is_array()) {
    *out = AsText(input);
    return absl::OkStatus();
  }
  std::string separator = args.empty() ? " " : AsText(Arg(args, 0));
  std::string joined;
  for (size_t i = 0; i < input.size(); ++i) {
    if (i > 0) joined += separator;
    AppendValue(input[i], &joined);
  }
  *out = std::move(joined);
  return absl::OkStatus();
}

template <bool kFirst>
absl::Status Edge(const json& input, const std::vector<const json*>&, const RenderOptions&, json* out) {
  if (input.is_array()) {
    *out = input.empty() ? json(nullptr) : kFirst ? input.front() : input.back();
  } else if (input.is_string() && !input.get_ref<const std::string&>().empty()) {
    const std::string& text = input.get_ref<const std::string&>();
    size_t points = CodePoints(text);
    size_t from = kFirst ? 0 : PrefixBytes(text, points - 1);
    size_t to = kFirst ? PrefixBytes(text, 1) : text.size();
    *out = text.substr(from, to - from);
  } else {
    *out = nullptr;
  }
  return absl::OkStatus();
}

std::optional<absl::Time> AsTime(const json& input, const RenderOptions& options) {
  if (input.is_number()) return absl::FromUnixSeconds(static_cast<int64_t>(input.get<double>()));
  if (!input.is_string()) return std::nullopt;
  const std::string& text = input.get_ref<const std::string&>();
  if (text == "now" || text == "today") return options.now == absl::InfinitePast() ? absl::Now() : options.now;
  int64_t seconds;
  if (absl::SimpleAtoi(text, &seconds)) return absl::FromUnixSeconds(seconds);
  absl::Time parsed;
  std::string ignored;
  for (const char* format : {absl::RFC3339_full, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"}) {
    if (absl::ParseTime(format, text, absl::UTCTimeZone(), &parsed, &ignored)) return parsed;
  }
  return std::nullopt;
}

// {{ data.due_at | date: "%b %d, %H:%M" }} in the recipient's timezone.
// Unix seconds, ISO 8601 / RFC 3339 text or "now"; anything else prints as
// it is (Liquid leaves unparseable dates alone).
absl::Status Date(const json& input, const std::vector<const json*>& args, const RenderOptions& options, json* out) {
  std::optional<absl::Time> time = AsTime(input, options);
  if (!time.has_value()) {
    *out = input;
    return absl::OkStatus();
  }
  absl::TimeZone zone = absl::UTCTimeZone();
  if (!options.timezone.empty() && !absl::LoadTimeZone(options.timezone, &zone)) zone = absl::UTCTimeZone();
  std::string format = args.empty() ? "%Y-%m-%d %H:%M" : AsText(Arg(args, 0));
  *out = absl::FormatTime(format, *time, zone);
  return absl::OkStatus();
}

absl::Status Escape(const json& input, const std::vector<const json*>&, const RenderOptions&, json* out) {
  std::string text = AsText(input);
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#39;"; break;
      default: escaped += c;
    }
  }
  *out = std::move(escaped);
  return absl::OkStatus();
}

// As Liquid's (Ruby CGI.escape): unreserved bytes kept, space as '+'.
absl::Status UrlEncode(const json& input, const std::vector<const json*>&, const RenderOptions&, json* out) {
  std::string text = AsText(input);
  std::string encoded;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '*') {
      encoded += static_cast<char>(c);
    } else if (c == ' ') {
      encoded += '+';
    } else {
      absl::StrAppendFormat(&encoded, "%%%02X", c);
    }
  }
  *out = std::move(encoded);
  return absl::OkStatus();
}

absl::Status Json(const json& input, const std::vector<const json*>&, const RenderOptions&, json* out) {
  *out = input.dump(-1, ' ', false, json::error_handler_t::replace);
  return absl::OkStatus();
}

char Upper(char c) { return absl::ascii_toupper(c); }
char Lower(char c) { return absl::ascii_tolower(c); }

constexpr FilterSpec kFilters[] = {
    {"default", 1, 1, Default},
    {"upcase", 0, 0, MapAscii<Upper>},
    {"downcase", 0, 0, MapAscii<Lower>},
    {"capitalize", 0, 0, Capitalize},
    {"size", 0, 0, Size},
    {"plus", 1, 1, ArithmeticFilter<'+'>},
    {"minus", 1, 1, ArithmeticFilter<'-'>},
    {"times", 1, 1, ArithmeticFilter<'*'>},
    {"pluralize", 1, 2, Pluralize},
    {"truncate", 0, 2, Truncate},
    {"join", 0, 1, Join},
    {"first", 0, 0, Edge<true>},
    {"last", 0, 0, Edge<false>},
    {"date", 0, 1, Date},
    {"escape", 0, 0, Escape},
    {"url_encode", 0, 0, UrlEncode},
    {"json", 0, 0, Json},
};

}  // namespace

const FilterSpec* FindFilter(absl::string_view name) {
  for (const FilterSpec& spec : kFilters) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

bool Truthy(const json& value) { return !value.is_null() && !(value.is_boolean() && !value.get<bool>()); }

std::optional<double> AsNumber(const json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    double number;
    if (absl::SimpleAtod(value.get_ref<const std::string&>(), &number) && std::isfinite(number)) return number;
  }
  return std::nullopt;
}

std::string AsText(const json& value) {
  std::string text;
  AppendValue(value, &text);
  return text;
}

}  // namespace herald::templates
