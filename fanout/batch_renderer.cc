#include "fanout/batch_renderer.h"

namespace herald::fanout {

absl::Status BatchRenderer::RenderTo(const templates::Template& t, const templates::Context& context,
                                     const templates::RenderOptions& options, std::string* out) {
  if (t.Reads("recipient") || t.Reads("refs")) return t.RenderTo(context, out, options);
  auto [it, inserted] = rendered_.try_emplace(std::make_pair(&t, options.timezone), std::string());
  if (inserted) {
    std::string text;
    absl::Status status = t.RenderTo(context, &text, options);
    if (status.ok()) {
      *it->second = std::move(text);
    } else {
      it->second = std::move(status);
    }
  }
  if (!it->second.ok()) return it->second.status();
  out->append(*it->second);
  return absl::OkStatus();
}

}  // namespace herald::fanout
