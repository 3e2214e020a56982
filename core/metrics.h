// Building Prometheus metrics once (prometheus-cpp: never Add() a label set
// per request). Header-only; the components that include it link
// prometheus-cpp::core themselves.
#pragma once

#include <string>

#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace herald {

// A counter without labels, registered once; keep the returned reference.
inline prometheus::Counter& SimpleCounter(prometheus::Registry& registry, const std::string& name,
                                          const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace herald
