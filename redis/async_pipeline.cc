#include "redis/async_pipeline.h"

namespace herald::redis {
namespace {
// Upper bound of commands sent in one pipeline, to keep reply buffers small.
constexpr size_t kMaxCommandsPerFlush = 4096;
}  // namespace

absl::StatusOr<std::unique_ptr<AsyncPipeline>> AsyncPipeline::Create(const Endpoint& endpoint, int threads,
                                                                      const ClientOptions& options) {
  std::unique_ptr<AsyncPipeline> pipeline(new AsyncPipeline());
  // Each flush is one round trip, so the metrics observe once per flush.
  ClientOptions pipeline_options = options;
  pipeline_options.kind = ClientKind::kPipeline;
  for (int i = 0; i < std::max(1, threads); ++i) {
    auto client = ConnectRedis(endpoint, pipeline_options);
    if (!client.ok()) return client.status();
    pipeline->clients_.push_back(std::move(*client));
  }
  for (auto& client : pipeline->clients_) {
    pipeline->threads_.emplace_back([p = pipeline.get(), c = client.get()] { p->Loop(c); });
  }
  return pipeline;
}

AsyncPipeline::~AsyncPipeline() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

void AsyncPipeline::Submit(std::vector<Command> commands, Callback done) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(Job{std::move(commands), std::move(done)});
}

void AsyncPipeline::Loop(RedisClient* client) {
  std::vector<Job> jobs;
  std::vector<Command> flat;
  while (true) {
    jobs.clear();
    flat.clear();
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AsyncPipeline* self) ABSL_NO_THREAD_SAFETY_ANALYSIS { return self->stopping_ || !self->queue_.empty(); },
          this));
      if (queue_.empty() && stopping_) return;
      size_t commands = 0;
      while (!queue_.empty() && commands < kMaxCommandsPerFlush) {
        commands += queue_.front().commands.size();
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    for (Job& job : jobs) {
      for (Command& command : job.commands) flat.push_back(std::move(command));
    }
    Results replies = client->Pipeline(flat);
    size_t next = 0;
    for (Job& job : jobs) {
      // Each command was moved into `flat`, but job.commands keeps its size:
      // the job owns the next job.commands.size() replies.
      Results mine;
      mine.reserve(job.commands.size());
      for (size_t i = 0; i < job.commands.size(); ++i) mine.push_back(std::move(replies[next++]));
      std::move(job.done)(std::move(mine));
    }
  }
}

}  // namespace herald::redis
