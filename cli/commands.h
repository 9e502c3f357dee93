// payhookctl's commands. Each takes its own arguments (after the command name) and returns the exit
// status: 0 ok, 1 not found / invalid / nothing to do, 2 usage or configuration error (or Redis out of
// reach). The queue commands also take the config file named before the command (-c FILE), which their own
// -c overrides.
#pragma once

#include <string>
#include <vector>

namespace payhook::cli {

int signCommand(const std::vector<std::string>& args);
int verifyCommand(const std::vector<std::string>& args);
int listenCommand(const std::vector<std::string>& args);

int statsCommand(const std::vector<std::string>& args, const std::string& config_path);
int listCommand(const std::vector<std::string>& args, const std::string& config_path);
int findCommand(const std::vector<std::string>& args, const std::string& config_path);
int reindexCommand(const std::vector<std::string>& args, const std::string& config_path);
int showCommand(const std::vector<std::string>& args, const std::string& config_path);
int retryCommand(const std::vector<std::string>& args, const std::string& config_path);
int replayCommand(const std::vector<std::string>& args, const std::string& config_path);
int expectCommand(const std::vector<std::string>& args, const std::string& config_path);
int expectedCommand(const std::vector<std::string>& args, const std::string& config_path);
int purgeCommand(const std::vector<std::string>& args, const std::string& config_path);

}  // namespace payhook::cli
