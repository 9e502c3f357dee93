// The queue page's files (daemon/ui/), compiled into payhookd: ui_assets.cpp is generated at build time by
// daemon/embed_ui.cmake, so the page needs nothing beside the binary and always matches it.
#pragma once

#include <string_view>

namespace payhook::daemon {

struct UiAsset {
  std::string_view name;  // "index.html", "app.js", ...
  std::string_view content_type;
  std::string_view body;
};

// The file of that name; null for any other.
const UiAsset* findUiAsset(std::string_view name);

}  // namespace payhook::daemon
