// Runs prepared libcurl transfers (HTTP or SMTP easy handles) concurrently
// with the multi interface, under a per-process cap on transfers in flight.
#pragma once

#include <curl/curl.h>

#include <vector>

#include "absl/synchronization/mutex.h"
#include "services/delivery/providers/curl_handles.h"

namespace herald::delivery {

// Thread-safe. Each call leases a multi handle from a pool, so concurrent
// callers never share one, and connections (keep-alive, HTTP/2 streams,
// SMTP sessions) stay cached in the pooled multi handles between calls.
class TransferRunner {
 public:
  // `max_in_flight` (>= 1) bounds the transfers running at once over all
  // callers: a provider's ChannelConfig::concurrency.
  explicit TransferRunner(int max_in_flight);
  TransferRunner(const TransferRunner&) = delete;
  TransferRunner& operator=(const TransferRunner&) = delete;

  // Runs every transfer to completion and returns each one's CURLcode, in
  // order. The handles stay owned by the caller (read CURLINFO_* after).
  // Blocks; each transfer's own CURLOPT_TIMEOUT_MS bounds the wait.
  std::vector<CURLcode> Run(const std::vector<CURL*>& transfers);

 private:
  CurlMulti LeaseMulti();
  void ReturnMulti(CurlMulti multi);
  bool TryAcquireSlot();
  void AcquireSlot();
  void ReleaseSlot();

  // Constant after construction.
  const int max_in_flight_;

  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<CurlMulti> idle_multis_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald::delivery
