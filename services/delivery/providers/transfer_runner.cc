// TransferRunner: the curl multi loop.
#include "services/delivery/providers/transfer_runner.h"

#include <algorithm>
#include <cstdint>

namespace herald::delivery {
namespace {

// How long one curl_multi_poll waits when nothing happens. It also bounds
// how late a caller notices a slot freed by another thread.
constexpr int kPollMs = 20;

}  // namespace

TransferRunner::TransferRunner(int max_in_flight) : max_in_flight_(std::max(1, max_in_flight)) {
  EnsureCurlInitialized();
}

CurlMulti TransferRunner::LeaseMulti() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_multis_.empty()) {
      CurlMulti multi = std::move(idle_multis_.back());
      idle_multis_.pop_back();
      return multi;
    }
  }
  CurlMulti multi(curl_multi_init());
  if (multi) {
    // Enough cached connections for every transfer this runner may run.
    curl_multi_setopt(multi.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(max_in_flight_));
    curl_multi_setopt(multi.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  }
  return multi;
}

void TransferRunner::ReturnMulti(CurlMulti multi) {
  absl::MutexLock lock(&mu_);
  idle_multis_.push_back(std::move(multi));
}

bool TransferRunner::TryAcquireSlot() {
  absl::MutexLock lock(&mu_);
  if (in_flight_ >= max_in_flight_) return false;
  ++in_flight_;
  return true;
}

void TransferRunner::AcquireSlot() {
  absl::MutexLock lock(&mu_);
  auto free_slot = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ < max_in_flight_; };
  mu_.Await(absl::Condition(&free_slot));
  ++in_flight_;
}

void TransferRunner::ReleaseSlot() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

std::vector<CURLcode> TransferRunner::Run(const std::vector<CURL*>& transfers) {
  std::vector<CURLcode> codes(transfers.size(), CURLE_OK);
  if (transfers.empty()) return codes;
  CurlMulti multi = LeaseMulti();
  if (!multi) {
    std::fill(codes.begin(), codes.end(), CURLE_OUT_OF_MEMORY);
    return codes;
  }
  size_t next = 0;
  int running_here = 0;
  // Start what the cap allows. With nothing of ours running, wait for a
  // slot rather than spin: other callers hold them all.
  auto take_slot = [&] {
    if (TryAcquireSlot()) return true;
    if (running_here > 0) return false;
    AcquireSlot();
    return true;
  };
  while (next < transfers.size() || running_here > 0) {
    while (next < transfers.size() && take_slot()) {
      CURL* easy = transfers[next];
      curl_easy_setopt(easy, CURLOPT_PRIVATE, reinterpret_cast<void*>(static_cast<uintptr_t>(next)));
      if (curl_multi_add_handle(multi.get(), easy) != CURLM_OK) {
        codes[next] = CURLE_FAILED_INIT;
        ReleaseSlot();
      } else {
        ++running_here;
      }
      ++next;
    }
    int still_running = 0;
    curl_multi_perform(multi.get(), &still_running);
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      void* index = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &index);
      codes[reinterpret_cast<uintptr_t>(index)] = message->data.result;
      curl_multi_remove_handle(multi.get(), message->easy_handle);
      ReleaseSlot();
      --running_here;
    }
    if (running_here > 0) curl_multi_poll(multi.get(), nullptr, 0, kPollMs, nullptr);
  }
  ReturnMulti(std::move(multi));
  return codes;
}

}  // namespace herald::delivery
