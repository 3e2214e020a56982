#include "dispatcher/metrics.h"

#include "core/metrics.h"

namespace herald::dispatcher {
namespace {

const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                 0.1,    0.25,  0.5,    1,     2.5,   5,     10,
                                                                 30,     60,    300,    1800,  3600};

}  // namespace

DispatcherMetrics::DispatcherMetrics(prometheus::Registry& registry, const delivery::DeliveryConfig& config)
    : poison_entries(SimpleCounter(registry, "herald_delivery_poison_entries_total",
                                   "Deliveries-stream entries without a message id (acked and dropped)")),
      stale_entries(SimpleCounter(registry, "herald_delivery_stale_entries_total",
                                  "Entries of messages already final, gone or waiting on the retry timer")),
      retries_due(SimpleCounter(registry, "herald_delivery_retries_due_total",
                                "Retried or deferred deliveries moved from the timer back to the stream")),
      errors(SimpleCounter(registry, "herald_delivery_errors_total", "Redis errors in the dispatcher")),
      reclaimed(SimpleCounter(registry, "herald_delivery_reclaimed_entries_total",
                              "Deliveries-stream entries taken over from a stalled consumer")),
      hop_seconds(prometheus::BuildHistogram()
                      .Name("herald_delivery_hop_seconds")
                      .Help("From a message queued by the fan-out to its delivery outcome recorded")
                      .Register(registry)
                      .Add({}, kLatencyBuckets)),
      deliveries_(prometheus::BuildCounter()
                      .Name("herald_deliveries_total")
                      .Help("Delivery outcomes by channel and provider: delivered, retry, failed, deferred (rate "
                            "limit, open circuit, backpressure: not an attempt)")
                      .Register(registry)),
      dead_letters_(prometheus::BuildCounter()
                        .Name("herald_delivery_dead_letters_total")
                        .Help("Messages that became dead letters (permanent failure or last attempt)")
                        .Register(registry)),
      provider_seconds_(prometheus::BuildHistogram()
                            .Name("herald_delivery_provider_seconds")
                            .Help("Time of one message's exchange with its provider")
                            .Register(registry)),
      circuit_open_(prometheus::BuildGauge()
                        .Name("herald_delivery_circuit_open")
                        .Help("1 while the channel's circuit breaker holds its deliveries back")
                        .Register(registry)) {
  for (const auto& [name, channel] : config.channels) channels_.emplace(name, Build(name, channel.provider));
  // Messages for a channel that is not configured fail before any provider.
  other_ = Build("other", "none");
}

ChannelMetrics DispatcherMetrics::Build(const std::string& channel, const std::string& provider) {
  ChannelMetrics m;
  auto outcome = [&](const char* name) {
    return &deliveries_.Add({{"channel", channel}, {"provider", provider}, {"outcome", name}});
  };
  m.delivered = outcome("delivered");
  m.retried = outcome("retry");
  m.failed = outcome("failed");
  m.deferred = outcome("deferred");
  m.dead_letters = &dead_letters_.Add({{"channel", channel}});
  m.provider_seconds = &provider_seconds_.Add({{"channel", channel}}, kLatencyBuckets);
  m.circuit_open = &circuit_open_.Add({{"channel", channel}});
  return m;
}

ChannelMetrics& DispatcherMetrics::Channel(const std::string& name) {
  auto found = channels_.find(name);
  return found != channels_.end() ? found->second : other_;
}

}  // namespace herald::dispatcher
