// payhookctl's commands. Each takes its own arguments (after the command name) and returns the exit
// status: 0 ok, 1 not found / invalid / nothing to do, 2 usage or configuration error.
#pragma once

#include <string>
#include <vector>

namespace payhook::cli {

int signCommand(const std::vector<std::string>& args);
int verifyCommand(const std::vector<std::string>& args);

}  // namespace payhook::cli
