#include "settings/grpc_log.h"

#include <grpc/support/log.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/log.h"

namespace herald::settings {
namespace {

// Called by gRPC on its own threads; log::Write is thread-safe.
void WriteGrpcLine(gpr_log_func_args* args) {
  log::Level level = log::Level::kError;
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG: level = log::Level::kDebug; break;
    case GPR_LOG_SEVERITY_INFO: level = log::Level::kInfo; break;
    case GPR_LOG_SEVERITY_ERROR: level = log::Level::kError; break;
  }
  absl::string_view file = args->file != nullptr ? args->file : "";
  size_t slash = file.rfind('/');
  if (slash != absl::string_view::npos) file.remove_prefix(slash + 1);
  log::Write(level, "grpc", args->message != nullptr ? args->message : "",
             {{"source", absl::StrCat(file, ":", args->line)}});
}

}  // namespace

void RouteGrpcLogs() { gpr_set_log_function(&WriteGrpcLine); }

}  // namespace herald::settings
