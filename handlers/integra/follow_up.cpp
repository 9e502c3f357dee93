#include "handlers/integra/follow_up.h"

#include "handlers/integra/api.h"
#include "handlers/integra/settings.h"

namespace payhook::handlers::integra {

namespace {

// What crypt_command may print: `k` goes into a URL, and the JSON it encrypts is a few hundred bytes.
constexpr size_t kMaxEncryptedBytes = 64 * 1024;

class Call final : public PendingCall {
 public:
  Call(std::string api_base, ApiCall call) : api_base_(std::move(api_base)), call_(std::move(call)) {}
  std::string_view name() const override { return call_.method; }
  std::string_view payload() const override { return call_.json; }
  std::string url(std::string_view encrypted) const override { return apiUrl(api_base_, call_, encrypted); }

 private:
  std::string api_base_;
  ApiCall call_;
};

class IntegraFollowUp final : public FollowUp {
 public:
  explicit IntegraFollowUp(const Settings& s)
      : api_base_(s.api_base), decline_{s.decline_code, s.decline_message} {
    if (!s.crypt_command.empty()) {
      Program program;
      program.key = "crypt_command";
      program.argv = s.crypt_command;
      if (!s.crypt_key_file.empty()) program.env.push_back("CRYPT_KEY_FILE=" + s.crypt_key_file);
      program.timeout_ms = s.crypt_timeout_ms;
      program.max_output = kMaxEncryptedBytes;
      program_ = std::move(program);
    }
  }

  Decided decide(int status, std::string_view body, int64_t now_ms) const override {
    const ShopDecision decision = parseShopDecision(body, decline_);
    Decided out;
    out.decision_json = decisionJson(decision, status, now_ms);
    out.call = decision.kind == ShopDecision::Kind::kAccept ? "confirmPayment" : "declinePayment";
    if (decision.defaulted) {
      out.warnings.push_back(
          "integra: the decision target's answer is no clear decision; the route's default refusal (code " +
          std::to_string(decision.code) + ") completes it: " + decision.reason);
    }
    if (!decision.ignored.empty()) {
      std::string ignored;
      for (const auto& note : decision.ignored) ignored += (ignored.empty() ? "" : "; ") + note;
      out.warnings.push_back("integra: part of the decision's params ignored: " + ignored);
    }
    return out;
  }

  Result<std::shared_ptr<const PendingCall>> prepare(std::string_view decision_json,
                                                     std::string_view data_json) const override {
    auto call = apiRequest(decision_json, data_json);
    if (!call) return Error{"Integra API call impossible: " + call.error().message};
    return std::shared_ptr<const PendingCall>(std::make_shared<Call>(api_base_, std::move(*call)));
  }

  const Program* program() const override { return program_ ? &*program_ : nullptr; }
  std::string transform(std::string_view json) const override { return Base64Crypt().encrypt(json); }

  std::optional<std::string> failure(int status, std::string_view body) const override {
    return apiFailure(status, body);
  }

  std::string caution() const override {
    if (program_) return {};
    return "integra: crypt = \"base64\" is Integra's public example, not its real encryption; Integra's API "
           "refuses such calls. Give the encryptor Integra provides as crypt_command";
  }

 private:
  std::string api_base_;
  DeclineDefaults decline_;
  std::optional<Program> program_;
};

}  // namespace

std::shared_ptr<const FollowUp> makeFollowUp(const config::RouteConfig& route) {
  const auto* settings = route.settingsAs<Settings>();
  if (settings == nullptr || route.decision.empty() || settings->api_base.empty()) return nullptr;
  return std::make_shared<IntegraFollowUp>(*settings);
}

}  // namespace payhook::handlers::integra
