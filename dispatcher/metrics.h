// The dispatcher's Prometheus metrics: per channel (outcomes, provider
// latency, circuit state, dead letters) and for the whole hop.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/delivery/config.h"

namespace herald::dispatcher {

struct ChannelMetrics {
  prometheus::Counter* delivered = nullptr;
  prometheus::Counter* retried = nullptr;
  prometheus::Counter* failed = nullptr;
  prometheus::Counter* deferred = nullptr;
  prometheus::Counter* dead_letters = nullptr;
  prometheus::Histogram* provider_seconds = nullptr;
  prometheus::Gauge* circuit_open = nullptr;
};

class DispatcherMetrics {
 public:
  DispatcherMetrics(prometheus::Registry& registry, const delivery::DeliveryConfig& config);

  // The channel's children; channels not in the configuration share "other".
  ChannelMetrics& Channel(const std::string& name);

  prometheus::Counter& poison_entries;
  prometheus::Counter& stale_entries;
  prometheus::Counter& retries_due;
  prometheus::Counter& errors;
  prometheus::Counter& reclaimed;
  // From the message queued (rendered by the fan-out) to its outcome recorded.
  prometheus::Histogram& hop_seconds;

 private:
  // `provider`: the channel's provider kind ("none" for "other").
  ChannelMetrics Build(const std::string& channel, const std::string& provider);

  prometheus::Family<prometheus::Counter>& deliveries_;
  prometheus::Family<prometheus::Counter>& dead_letters_;
  prometheus::Family<prometheus::Histogram>& provider_seconds_;
  prometheus::Family<prometheus::Gauge>& circuit_open_;
  std::map<std::string, ChannelMetrics> channels_;
  ChannelMetrics other_;
};

}  // namespace herald::dispatcher
