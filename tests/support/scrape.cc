#include "tests/support/scrape.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace herald::testing {

std::vector<Sample> ParseScrape(const std::string& text) {
  std::vector<Sample> samples;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    Sample sample;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    if (brace != absl::string_view::npos && brace < space) {
      sample.name = std::string(line.substr(0, brace));
      const size_t close = line.find('}', brace);
      if (close == absl::string_view::npos) continue;
      for (absl::string_view pair : absl::StrSplit(line.substr(brace + 1, close - brace - 1), ',', absl::SkipEmpty())) {
        std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
        sample.labels[kv.first] = std::string(absl::StripSuffix(absl::StripPrefix(kv.second, "\""), "\""));
      }
    } else {
      sample.name = std::string(line.substr(0, line.find(' ')));
    }
    if (!absl::SimpleAtod(line.substr(space + 1), &sample.value)) continue;
    samples.push_back(std::move(sample));
  }
  return samples;
}

bool HasLabels(const Sample& sample, const std::map<std::string, std::string>& labels) {
  for (const auto& [label, value] : labels) {
    auto found = sample.labels.find(label);
    if (found == sample.labels.end() || found->second != value) return false;
  }
  return true;
}

double SumOf(const std::vector<Sample>& samples, const std::string& name,
             const std::map<std::string, std::string>& labels) {
  double sum = -1;
  for (const Sample& sample : samples) {
    if (sample.name == name && HasLabels(sample, labels)) sum = (sum < 0 ? 0 : sum) + sample.value;
  }
  return sum;
}

}  // namespace herald::testing
