// Reading a Prometheus text exposition (a /metrics scrape) in tests and the
// load generator: the samples, and sums over those with given labels.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace herald::testing {

// One sample line: name (with _bucket/_sum/_count for histograms), labels,
// value.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// The sample lines of `text`; comments and lines that do not parse are
// skipped. Herald's label values never hold '"', ',' or '}', which keeps
// this small.
std::vector<Sample> ParseScrape(const std::string& text);

// Whether `sample` has every label of `labels` with that value (and maybe
// more).
bool HasLabels(const Sample& sample, const std::map<std::string, std::string>& labels);

// The sum of `name`'s samples that have `labels`; -1 when there is none.
double SumOf(const std::vector<Sample>& samples, const std::string& name,
             const std::map<std::string, std::string>& labels = {});

}  // namespace herald::testing
