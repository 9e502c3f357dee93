// Tables of payhookd's TOML config that many tests write alike, for DaemonOptions::targets and ::routes.
#pragma once

#include <string>

namespace payhook::testing {

// One [[targets]] table: `name` at `url`, signing with the secret DaemonProcess writes
// (secrets/orders.whsec), plus `extra` lines.
inline std::string targetToml(const std::string& name, const std::string& url, const std::string& extra = "",
                              const std::string& timeout = "2s") {
  return "[[targets]]\nname = \"" + name + "\"\nurl = \"" + url +
         "\"\nsecret_file = \"secrets/orders.whsec\"\ntimeout = \"" + timeout + "\"\n" + extra + "\n";
}

// The demo route DaemonProcess configures by default (Standard Webhooks at /hooks/demo, signed with
// DaemonProcess::kDemoSecret) forwarding to `forward` (the items of a TOML array), plus `extra` lines.
inline std::string demoRouteToml(const std::string& extra = "", const std::string& forward = "\"orders\"") {
  return "\n[[routes]]\nname = \"demo\"\nprovider = \"standard-webhooks\"\npath = \"/hooks/demo\"\n"
         "secret_file = \"secrets/demo.whsec\"\nforward = [" +
         forward + "]\n" + extra + "\n";
}

}  // namespace payhook::testing
