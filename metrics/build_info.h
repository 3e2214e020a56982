// herald_build_info{version,revision}: which build a process runs, as the
// usual constant-1 gauge (join it onto other series by instance).
#pragma once

#include "absl/strings/string_view.h"
#include "prometheus/registry.h"

namespace herald::metrics {

// The CMake project version, e.g. "0.1.0".
absl::string_view BuildVersion();
// The git commit the build was configured from (12 hex digits), or
// "unknown" when the source was not a git checkout.
absl::string_view BuildRevision();

// Registers herald_build_info{version,revision} = 1 in `registry`.
void RegisterBuildInfo(prometheus::Registry& registry);

}  // namespace herald::metrics
