#include "metrics/build_info.h"

#include <string>

#include "metrics/build_info_values.h"
#include "prometheus/gauge.h"

namespace herald::metrics {

absl::string_view BuildVersion() { return HERALD_BUILD_VERSION; }

absl::string_view BuildRevision() { return HERALD_BUILD_REVISION; }

void RegisterBuildInfo(prometheus::Registry& registry) {
  prometheus::BuildGauge()
      .Name("herald_build_info")
      .Help("Always 1; the labels say which Herald build the process runs")
      .Register(registry)
      .Add({{"version", std::string(BuildVersion())}, {"revision", std::string(BuildRevision())}})
      .Set(1);
}

}  // namespace herald::metrics
