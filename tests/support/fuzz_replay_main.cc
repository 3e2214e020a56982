// Runs a libFuzzer entry point without libFuzzer, so every fuzz target is
// also a bounded, deterministic test in the normal (g++) build: each file of
// the corpus folder given as argv[1], then mutations of them (byte flips,
// deletions, splices, insertions of dictionary tokens from argv[2]) until
// --runs inputs (default 20000) have been tried. A crash or abort fails the
// test; the input that caused it is written to fuzz-crash-input.
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// libFuzzer dictionary lines: "token" (with \" and \\ escapes).
std::vector<std::string> ReadDictionary(const std::string& path) {
  std::vector<std::string> tokens;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    size_t open = line.find('"'), close = line.rfind('"');
    if (open == std::string::npos || close <= open) continue;
    std::string token;
    for (size_t i = open + 1; i < close; ++i) {
      if (line[i] == '\\' && i + 1 < close) ++i;
      token += line[i];
    }
    tokens.push_back(token);
  }
  return tokens;
}

std::string Mutate(std::string input, const std::vector<std::string>& corpus, const std::vector<std::string>& tokens,
                   std::mt19937_64& random) {
  int edits = 1 + static_cast<int>(random() % 4);
  for (int e = 0; e < edits; ++e) {
    size_t at = input.empty() ? 0 : random() % (input.size() + 1);
    switch (random() % 5) {
      case 0:
        if (!input.empty() && at < input.size()) input[at] = static_cast<char>(random() % 256);
        break;
      case 1:
        if (!input.empty()) input.erase(at, 1 + random() % 8);
        break;
      case 2:
        if (!tokens.empty()) input.insert(at, tokens[random() % tokens.size()]);
        break;
      case 3: {
        const std::string& other = corpus[random() % corpus.size()];
        size_t from = other.empty() ? 0 : random() % other.size();
        input.insert(at, other.substr(from, 1 + random() % 24));
        break;
      }
      default:
        if (at < input.size()) input.insert(at, input.substr(at, 1 + random() % 16));
    }
  }
  return input;
}

// The input being run, for the crash handler.
const std::string* current_input = nullptr;

// Async-signal-safe: open/write/_exit only.
void WriteCrashInput(int signal_number) {
  if (current_input != nullptr) {
    int fd = open("fuzz-crash-input", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ssize_t ignored = write(fd, current_input->data(), current_input->size());
      (void)ignored;
      close(fd);
    }
  }
  const char message[] = "fuzz replay: crashed; input written to fuzz-crash-input\n";
  ssize_t ignored = write(STDERR_FILENO, message, sizeof(message) - 1);
  (void)ignored;
  signal(signal_number, SIG_DFL);
  raise(signal_number);
}

void Run(const std::string& input) {
  current_input = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  current_input = nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR [DICTIONARY] [--runs=N]" << std::endl;
    return 2;
  }
  for (int signal_number : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) std::signal(signal_number, WriteCrashInput);
  long runs = 20000;
  std::string dictionary;
  for (int i = 2; i < argc; ++i) {
    if (std::strncmp(argv[i], "--runs=", 7) == 0) {
      runs = std::atol(argv[i] + 7);
    } else {
      dictionary = argv[i];
    }
  }
  std::vector<std::string> corpus;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    if (entry.is_regular_file()) corpus.push_back(ReadFile(entry.path()));
  }
  if (corpus.empty()) corpus.push_back("");
  std::vector<std::string> tokens = dictionary.empty() ? std::vector<std::string>() : ReadDictionary(dictionary);
  for (const std::string& input : corpus) Run(input);
  std::mt19937_64 random(20261126);
  std::vector<std::string> pool = corpus;
  for (long i = 0; i < runs; ++i) {
    std::string input = Mutate(pool[random() % pool.size()], corpus, tokens, random);
    Run(input);
    if (pool.size() < 4096 && random() % 8 == 0) pool.push_back(std::move(input));
  }
  std::cout << "fuzz replay: " << corpus.size() << " corpus inputs and " << runs << " mutations, no crash" << std::endl;
  return 0;
}
