// libFuzzer target: any bytes as template source must compile to OK or
// INVALID_ARGUMENT, and a compiled template must render (loose and strict)
// to OK, INVALID_ARGUMENT or RESOURCE_EXHAUSTED, never crash or hang.
// Built for libFuzzer by scripts/fuzz (clang); in the normal build the same
// entry point runs as a bounded replay test over testdata/fuzz_corpus.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "nlohmann/json.hpp"
#include "templates/template.h"

namespace {

const nlohmann::json& Roots() {
  static const nlohmann::json* const kRoots = new nlohmann::json(nlohmann::json::parse(R"({
    "actor": {"id": "ana", "name": "Ana"},
    "actors": [{"id": "ana", "name": "Ana"}, {"id": "bo", "name": "Bo"}],
    "total_actors": 2, "total_activities": 3,
    "activities": [{"actor": "ana", "data": {"n": 1}}, {"actor": "bo", "data": {"n": 2}}],
    "data": {"title": "Launch plan", "tags": ["a", "b"], "n": 3, "x": 2.5, "when": 1764151200,
             "nested": {"list": [[1, 2], [3]]}, "empty": "", "flag": false},
    "recipient": {"id": "rita", "name": "Rita", "timezone": "Europe/Berlin"}
  })"));
  return *kRoots;
}

void Check(bool holds) {
  if (!holds) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string source(reinterpret_cast<const char*>(data), size);
  auto compiled = herald::templates::Template::Compile(source);
  if (!compiled.ok()) {
    Check(compiled.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  herald::templates::Context context;
  const nlohmann::json& roots = Roots();
  for (auto it = roots.begin(); it != roots.end(); ++it) context.Set(it.key(), &it.value());
  for (bool strict : {false, true}) {
    herald::templates::RenderOptions options;
    options.strict = strict;
    options.timezone = "Europe/Berlin";
    options.max_output_bytes = 64 * 1024;
    options.max_loop_iterations = 2000;
    std::string out;
    absl::Status status = compiled->RenderTo(context, &out, options);
    Check(status.ok() || status.code() == absl::StatusCode::kInvalidArgument ||
          status.code() == absl::StatusCode::kResourceExhausted);
    Check(out.size() <= options.max_output_bytes + 64 * 1024);
  }
  return 0;
}
