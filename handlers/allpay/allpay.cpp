#include "handlers/allpay/allpay.h"

// xmlsec/xmlsec.h first: the other xmlsec headers rely on its types.
#include <xmlsec/xmlsec.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <openssl/err.h>
#include <sodium.h>
#include <xmlsec/errors.h>
#include <xmlsec/keys.h>
#include <xmlsec/openssl/app.h>
#include <xmlsec/openssl/crypto.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "common/base64.h"
#include "common/text.h"
#include "common/untrusted_text.h"
#include "handlers/form.h"
#include "handlers/listing.h"
#include "handlers/payment.h"
#include "handlers/xml_text.h"

namespace payhook::handlers {

struct AllpayKey {
  xmlSecKeyPtr key = nullptr;
  ~AllpayKey() {
    if (key) xmlSecKeyDestroy(key);
  }
};

namespace {

constexpr const char* kResponseNs = "http://allpay.kz/xsd/1.0.0/WebShopResponse.xsd";
constexpr const char* kCustomerResponseNs = "http://allpay.kz/xsd/1.0.0/WebShopCustomerResponse.xsd";
constexpr const char* kDsigNs = "http://www.w3.org/2000/09/xmldsig#";
constexpr const char* kFormField = "webshopResponse";

// xmlsec1 and libxml2 report errors on stderr by default; a handler never logs, and what went wrong is
// already in the verdict's reason.
void quietXmlsec(const char*, int, const char*, const char*, const char*, int, const char*) noexcept {}
void quietLibxmlGeneric(void*, const char*, ...) noexcept {}
void quietLibxmlStructured(void*, xmlErrorPtr) noexcept {}

// xmlsec1 (and the libxml2 and OpenSSL set-up under it) is initialised once per process, the first time an
// allpay route is built; a function-local static makes that thread-safe and idempotent. It is never shut
// down: handlers live until the process exits.
bool xmlsecReady() {
  static const bool ready = [] {
    xmlInitParser();
    xmlSecErrorsSetCallback(quietXmlsec);
    if (xmlSecInit() < 0) return false;
    if (xmlSecCheckVersion() != 1) return false;
    if (xmlSecOpenSSLAppInit(nullptr) < 0) return false;
    if (xmlSecOpenSSLInit() < 0) return false;
    return true;
  }();
  return ready;
}

// libxml2's default error handlers are per thread: silence them on whichever thread handles callbacks.
void quietLibxmlOnThisThread() {
  thread_local bool quiet = false;
  if (quiet) return;
  xmlSetGenericErrorFunc(nullptr, quietLibxmlGeneric);
  xmlSetStructuredErrorFunc(nullptr, quietLibxmlStructured);
  quiet = true;
}

struct DocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;
struct ParserFree {
  void operator()(xmlParserCtxt* ctxt) const { xmlFreeParserCtxt(ctxt); }
};
struct DsigFree {
  void operator()(xmlSecDSigCtx* ctx) const { xmlSecDSigCtxDestroy(ctx); }
};
struct XmlCharFree {
  void operator()(xmlChar* s) const { xmlFree(s); }
};

Reject malformed(std::string what) {
  return Reject{http::Response::text(400, "malformed allpay notification: " + what + "\n"), std::move(what),
                "malformed"};
}

Reject forged(std::string what) {
  return Reject{http::Response::text(403, "invalid signature\n"), std::move(what), "forged"};
}

bool isFormBody(const http::Request& request) {
  const std::string* type = request.header("content-type");
  if (!type) return false;
  std::string media = type->substr(0, type->find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.pop_back();
  media = lowerAscii(media);
  return media == "application/x-www-form-urlencoded";
}

// The decoded document: the raw body's base64, or else a form's single webshopResponse field.
Result<std::string> decodedDocument(const http::Request& request) {
  if (request.body.empty()) return Error{"the body is empty"};
  // Base64 as allpay's Java encoder writes it: the standard alphabet with padding, in lines of 76.
  if (auto xml = decodeBase64(request.body, " \t\r\n")) return std::move(*xml);
  if (!isFormBody(request)) return Error{"the body is not base64"};
  auto form = Form::parse(request.body);
  if (!form) return Error{"form: " + form.error().message};
  const std::string* field = form->get(kFormField);
  if (!field) return Error{"the body is neither base64 nor a form with a webshopResponse field"};
  if (auto xml = decodeBase64(*field, " \t\r\n")) return std::move(*xml);
  return Error{"the webshopResponse field is not base64"};
}

// Called by libxml2 as soon as it has read a DOCTYPE's name, before any of its internal subset: the
// document is refused there, so no entity is ever declared, let alone loaded or expanded.
void onDoctype(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) noexcept {
  auto* parser = static_cast<xmlParserCtxtPtr>(ctx);
  *static_cast<bool*>(parser->_private) = true;
  xmlStopParser(parser);
}

Result<DocPtr> parseDocument(const std::string& xml) {
  if (xml.size() > static_cast<size_t>(INT_MAX)) return Error{"the document is too large"};
  std::unique_ptr<xmlParserCtxt, ParserFree> ctxt(
      xmlCreateMemoryParserCtxt(xml.data(), static_cast<int>(xml.size())));
  if (!ctxt) return Error{"the decoded body is not XML"};
  // No network, no DTD loading, no entity substitution; errors go into the verdict, not to stderr.
  xmlCtxtUseOptions(ctxt.get(), XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  bool doctype = false;
  ctxt->_private = &doctype;
  ctxt->sax->internalSubset = onDoctype;
  xmlParseDocument(ctxt.get());
  DocPtr doc(ctxt->myDoc);
  ctxt->myDoc = nullptr;
  if (doctype) return Error{"a DOCTYPE is not allowed"};
  if (!ctxt->wellFormed || !doc) return Error{"the decoded body is not well-formed XML"};
  if (doc->intSubset || doc->extSubset) return Error{"a DOCTYPE is not allowed"};
  return doc;
}

bool isElement(const xmlNode* node, const char* ns, const char* name) {
  return node->type == XML_ELEMENT_NODE && node->ns && node->ns->href &&
         std::strcmp(reinterpret_cast<const char*>(node->ns->href), ns) == 0 &&
         std::strcmp(reinterpret_cast<const char*>(node->name), name) == 0;
}

std::string textOf(const xmlNode* node) {
  // All text below the element, comments left out: exactly what a canonicalization without comments
  // signs, so a comment planted inside a value cannot make a signed "123" read as "1".
  std::unique_ptr<xmlChar, XmlCharFree> text(xmlNodeGetContent(node));
  return text ? reinterpret_cast<const char*>(text.get()) : "";
}

// "StatusDescription" → "status_description", "PaidAmount" → "paid_amount", "URLPath" → "url_path".
std::string snakeCase(std::string_view name) {
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto lower = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (upper(c)) {
      const bool after_word =
          i > 0 && (lower(name[i - 1]) || (upper(name[i - 1]) && i + 1 < name.size() && lower(name[i + 1])));
      if (after_word && !out.empty() && out.back() != '_') out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else if (c == '-' || c == '.') {
      out += '_';
    } else {
      out += c;
    }
  }
  return out;
}

bool hasChildElements(const xmlNode* node) {
  for (const xmlNode* c = node->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE) return true;
  return false;
}

// A field payhook does not know, kept as its text, or as an object when it has elements of its own.
nlohmann::json unknownValue(const xmlNode* node);

// A repeated unknown name collects its values into an array.
void keep(nlohmann::json& object, const std::string& key, nlohmann::json value) {
  auto it = object.find(key);
  if (it == object.end()) {
    object[key] = std::move(value);
  } else if (it->is_array()) {
    it->push_back(std::move(value));
  } else {
    *it = nlohmann::json::array({std::move(*it), std::move(value)});
  }
}

nlohmann::json unknownValue(const xmlNode* node) {
  if (!hasChildElements(node)) return textOf(node);
  nlohmann::json object = nlohmann::json::object();
  for (const xmlNode* c = node->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE)
      keep(object, snakeCase(reinterpret_cast<const char*>(c->name)), unknownValue(c));
  return object;
}

struct Notification {
  std::string invoice_number;
  std::string transaction_id;
  std::string status;
  std::optional<std::string> status_description;
  nlohmann::json extra = nlohmann::json::object();  // unknown elements, snake_case keys
};

// Reads the fields from the document element only (never from anywhere else in the tree), so what is
// read is what the signature over the whole document covers. Each known field must appear exactly once.
Result<Notification> readNotification(const xmlNode* root) {
  // With the keys payhook itself writes into data: the normalised "payment" and a Decide flow's "decision".
  static const std::set<std::string> kKnownKeys = {
      "invoice_number", "transaction_id", "status",  "status_description",
      "paid",           "transaction",    "payment", "decision"};
  Notification n;
  const xmlNode* invoice = nullptr;
  const xmlNode* transaction = nullptr;
  const xmlNode* id = nullptr;
  const xmlNode* status = nullptr;
  const xmlNode* description = nullptr;
  std::vector<const xmlNode*> unknown;
  auto once = [](const xmlNode*& slot, const xmlNode* node) {
    if (slot) return false;
    slot = node;
    return true;
  };
  for (const xmlNode* c = root->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (isElement(c, kDsigNs, "Signature")) continue;  // checked by the verifier
    if (isElement(c, kResponseNs, "InvoiceNumber")) {
      if (!once(invoice, c)) return Error{"InvoiceNumber appears twice"};
    } else if (isElement(c, kResponseNs, "Transaction")) {
      if (!once(transaction, c)) return Error{"Transaction appears twice"};
    } else {
      unknown.push_back(c);
    }
  }
  if (!invoice) return Error{"InvoiceNumber is missing"};
  if (!transaction) return Error{"Transaction is missing"};
  for (const xmlNode* c = transaction->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (isElement(c, kResponseNs, "TransactionId")) {
      if (!once(id, c)) return Error{"TransactionId appears twice"};
    } else if (isElement(c, kResponseNs, "Status")) {
      if (!once(status, c)) return Error{"Status appears twice"};
    } else if (isElement(c, kResponseNs, "StatusDescription")) {
      if (!once(description, c)) return Error{"StatusDescription appears twice"};
    } else {
      unknown.push_back(c);
    }
  }
  if (!id) return Error{"TransactionId is missing"};
  if (!status) return Error{"Status is missing"};
  n.invoice_number = textOf(invoice);
  n.transaction_id = textOf(id);
  n.status = textOf(status);
  if (description) n.status_description = textOf(description);
  if (n.transaction_id.empty()) return Error{"TransactionId is empty"};
  if (n.status.empty()) return Error{"Status is empty"};
  for (const xmlNode* c : unknown) {
    std::string key = snakeCase(reinterpret_cast<const char*>(c->name));
    // An unknown element under a known field's name (say a second Status outside Transaction) would make
    // the stored data ambiguous about which one allpay meant.
    if (kKnownKeys.count(key)) return Error{"element " + quoteUntrusted(key) + " is ambiguous"};
    keep(n.extra, key, unknownValue(c));
  }
  return n;
}

// Every ds:Signature element in the tree (the document is small and its depth bounded by libxml2).
void findSignatures(xmlNode* node, std::vector<xmlNode*>& found) {
  for (xmlNode* c = node; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (isElement(c, kDsigNs, "Signature")) found.push_back(c);
    findSignatures(c->children, found);
  }
}

// The enveloped signature over the whole document: exactly one ds:Signature, a child of the document
// element, whose one Reference has URI "" (the whole document, so the document element is what it
// covers) and verifies with allpay's key. Only the algorithms of allpay's demos (and their SHA-256
// siblings) are allowed; the canonicalization is whichever SignedInfo names, as allpay's demos differ.
Status verifySignature(const AllpayKey& key, xmlDoc* doc) {
  xmlNode* root = xmlDocGetRootElement(doc);
  std::vector<xmlNode*> signatures;
  findSignatures(root, signatures);
  if (signatures.empty()) return Error{"no ds:Signature"};
  if (signatures.size() > 1) return Error{"more than one ds:Signature"};
  if (signatures[0]->parent != root) return Error{"ds:Signature is not a child of the document element"};

  std::unique_ptr<xmlSecDSigCtx, DsigFree> ctx(xmlSecDSigCtxCreate(nullptr));
  if (!ctx) return Error{"xmlsec: no context"};
  // With the key set, xmlsec never reads KeyInfo: a key the sender embeds is ignored.
  ctx->signKey = xmlSecKeyDuplicate(key.key);
  if (!ctx->signKey) return Error{"xmlsec: cannot copy the key"};
  ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty;
  const xmlSecTransformId c14n[] = {xmlSecTransformInclC14NId,   xmlSecTransformInclC14NWithCommentsId,
                                    xmlSecTransformInclC14N11Id, xmlSecTransformInclC14N11WithCommentsId,
                                    xmlSecTransformExclC14NId,   xmlSecTransformExclC14NWithCommentsId};
  for (xmlSecTransformId id : c14n) {
    if (xmlSecDSigCtxEnableReferenceTransform(ctx.get(), id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx.get(), id) < 0)
      return Error{"xmlsec: cannot restrict the transforms"};
  }
  for (xmlSecTransformId id :
       {xmlSecTransformEnvelopedId, xmlSecOpenSSLTransformSha1Id, xmlSecOpenSSLTransformSha256Id})
    if (xmlSecDSigCtxEnableReferenceTransform(ctx.get(), id) < 0)
      return Error{"xmlsec: cannot restrict the transforms"};
  for (xmlSecTransformId id : {xmlSecOpenSSLTransformRsaSha1Id, xmlSecOpenSSLTransformRsaSha256Id})
    if (xmlSecDSigCtxEnableSignatureTransform(ctx.get(), id) < 0)
      return Error{"xmlsec: cannot restrict the transforms"};

  const int rc = xmlSecDSigCtxVerify(ctx.get(), signatures[0]);
  ERR_clear_error();  // a refused signature leaves OpenSSL errors behind; they must not leak to others
  if (rc < 0) return Error{"the signature cannot be processed"};
  if (ctx->status != xmlSecDSigStatusSucceeded) return Error{"the signature does not verify"};
  // Verified: now make sure it was over the whole document and nothing else.
  xmlSecPtrListPtr refs = &ctx->signedInfoReferences;
  if (xmlSecPtrListGetSize(refs) != 1) return Error{"the signature has more than one reference"};
  auto* ref = static_cast<xmlSecDSigReferenceCtxPtr>(xmlSecPtrListGetItem(refs, 0));
  if (!ref || !ref->uri || ref->uri[0] != '\0') return Error{"the signature's reference is not URI \"\""};
  return Ok{};
}

// allpay's WebShopCustomerResponse.xsd: Status, then Reason (required by the schema; empty for DONE).
http::Response customerResponse(std::string_view status, std::string_view reason) {
  std::string body = std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?>") +
                     "<WSCResp:WebShopCustomerResponse xmlns:WSCResp=\"" + kCustomerResponseNs + "\">" +
                     "<WSCResp:Status>" + std::string(status) + "</WSCResp:Status><WSCResp:Reason>" +
                     xmlEscaped(reason, AllpayHandler::kMaxReason) +
                     "</WSCResp:Reason></WSCResp:WebShopCustomerResponse>";
  return http::Response{200, "application/xml; charset=utf-8", std::move(body), {}, false};
}

// Reasons sent when the shop gave none. What failed (a timeout, a refused connection) stays in the stored
// decision and the log: it is the shop's business, not allpay's.
constexpr std::string_view kRefusedReason = "the shop refused the payment";
constexpr std::string_view kUndecidedReason = "the shop has not confirmed the payment yet";

}  // namespace

Result<std::unique_ptr<AllpayHandler>> AllpayHandler::create(std::string route,
                                                             std::string_view public_key_pem, Answer answer,
                                                             StatusForm status_form, bool decide) {
  if (!xmlsecReady()) return Error{"xmlsec1 could not be initialised"};
  if (public_key_pem.empty()) return Error{"allpay's PEM public key is empty"};
  const auto* data = reinterpret_cast<const xmlSecByte*>(public_key_pem.data());
  const auto size = static_cast<xmlSecSize>(public_key_pem.size());
  auto key = std::make_unique<AllpayKey>();
  key->key = xmlSecOpenSSLAppKeyLoadMemory(data, size, xmlSecKeyDataFormatPem, nullptr, nullptr, nullptr);
  if (!key->key)
    key->key =
        xmlSecOpenSSLAppKeyLoadMemory(data, size, xmlSecKeyDataFormatCertPem, nullptr, nullptr, nullptr);
  ERR_clear_error();
  if (!key->key) return Error{"is not a PEM public key or certificate"};
  xmlSecKeyDataPtr value = xmlSecKeyGetValue(key->key);
  if (!value || !xmlSecKeyDataCheckId(value, xmlSecOpenSSLKeyDataRsaId))
    return Error{"is not an RSA key (allpay signs with RSA-SHA1)"};
  // A private key here means the secret half was copied where a public file was expected.
  if (xmlSecKeyDataGetType(value) & xmlSecKeyDataTypePrivate)
    return Error{"holds a private key; give allpay's public key only"};
  return std::unique_ptr<AllpayHandler>(
      new AllpayHandler(std::move(route), std::move(key), answer, status_form, decide));
}

AllpayHandler::AllpayHandler(std::string route, std::unique_ptr<AllpayKey> key, Answer answer,
                             StatusForm status_form, bool decide)
    : route_(std::move(route)),
      key_(std::move(key)),
      answer_(answer),
      status_form_(status_form),
      decide_(decide) {}

AllpayHandler::~AllpayHandler() = default;

std::vector<Endpoint> AllpayHandler::endpoints() const {
  return {{"/notify", {"POST"}}};
}

http::Response AllpayHandler::ack() const {
  if (answer_ == Answer::kV1) return http::Response::text(200, "OK");
  return customerResponse(status_form_ == StatusForm::kName ? "DONE" : "0", {});
}

void AllpayHandler::settle(Event& event, const Decision& decision) const {
  if (decision.kind == Decision::Kind::kAccept && !decision.pending) return;
  auto data = nlohmann::json::parse(event.data_json, nullptr, /*allow_exceptions=*/false);
  if (!data.is_object() || !data.contains("payment") || !data["payment"].is_object()) return;
  nlohmann::json& payment = data["payment"];
  // A Status that failed stays failed: no answer of the shop makes it money.
  if (payment.value("outcome", "") != outcomeName(Outcome::kSucceeded)) return;
  if (decision.kind == Decision::Kind::kRefuse && !decision.pending) {
    payment["outcome"] = outcomeName(Outcome::kFailed);
    payment["warnings"].push_back("refused_by_shop");
  } else {
    payment["outcome"] = outcomeName(Outcome::kPending);
  }
  event.listing.outcome = payment["outcome"].get<std::string>();
  event.data_json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

http::Response AllpayHandler::decided(const Event& /*event*/, const Decision& decision) const {
  // allpay's schema: DONE completes the payment, FAIL fails it (a Reason is required), PENDING makes allpay
  // send the notification again until it gets DONE or FAIL. No usable answer is PENDING: the shop is asked
  // again on allpay's next attempt instead of failing a payment on a timeout.
  if (decision.pending) return customerResponse("PENDING", decision.message);
  switch (decision.kind) {
    case Decision::Kind::kAccept:
      return ack();
    case Decision::Kind::kRefuse:
      return customerResponse("FAIL",
                              decision.message.empty() ? kRefusedReason : std::string_view(decision.message));
    case Decision::Kind::kFailed:
      break;
  }
  return customerResponse("PENDING", kUndecidedReason);
}

Verdict AllpayHandler::handle(size_t /*endpoint*/, const http::Request& request, int64_t /*now_ms*/) const {
  quietLibxmlOnThisThread();
  auto xml = decodedDocument(request);
  if (!xml) return malformed(xml.error().message);
  auto doc = parseDocument(*xml);
  if (!doc) return malformed(doc.error().message);
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  if (!root || !isElement(root, kResponseNs, "WebShopResponse"))
    return malformed("the document element is not allpay's WebShopResponse");
  auto notification = readNotification(root);
  if (!notification) return malformed(notification.error().message);
  if (auto verified = verifySignature(*key_, doc->get()); !verified) return forged(verified.error().message);

  const Notification& n = *notification;
  nlohmann::json data = n.extra;
  data["invoice_number"] = n.invoice_number;
  data["transaction_id"] = n.transaction_id;
  data["status"] = n.status;
  if (n.status_description) data["status_description"] = *n.status_description;
  // Status is opaque apart from these two (README "allpay.kz"): every other value is a failure.
  const bool paid = n.status == "0" || n.status == "SUCCESS";
  data["paid"] = paid;
  // The notification carries no amount and no currency (README "The normalised payment").
  Payment payment;
  payment.outcome = paid ? Outcome::kSucceeded : Outcome::kFailed;
  payment.order_id = n.invoice_number;
  payment.provider_payment_id = n.transaction_id;

  Event ev;
  ev.type = "allpay.payment_result";
  ev.route = route_;
  ev.provider = "allpay";
  ev.verified = true;
  // Length-prefixed: InvoiceNumber is the shop's free text, so ("A:B", "C") and ("A", "B:C") joined with
  // plain ':' would be one key and merge two payments.
  ev.idempotency_key = std::to_string(n.invoice_number.size()) + ":" + n.invoice_number + ":" +
                       std::to_string(n.transaction_id.size()) + ":" + n.transaction_id + ":" + n.status;
  ev.listing = listingOf(ev.provider, data, payment);
  ev.data_json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  payment.addTo(ev.data_json);
  if (answer_ == Answer::kV2 && decide_) return Decide{std::move(ev), /*deliver=*/true};
  return Accept{std::move(ev), ack()};
}

Result<std::unique_ptr<Handler>> makeAllpayHandler(const config::RouteConfig& route) {
  const auto* settings = route.settingsAs<allpay::Settings>();
  if (settings == nullptr) return Error{"provider: the route's settings are not allpay's"};
  auto handler = AllpayHandler::create(
      route.name, settings->public_key,
      settings->answer == "v2" ? AllpayHandler::Answer::kV2 : AllpayHandler::Answer::kV1,
      settings->status_form == "digit" ? AllpayHandler::StatusForm::kDigit : AllpayHandler::StatusForm::kName,
      /*decide=*/!route.decision.empty());
  if (!handler) return Error{"public_key_file: " + handler.error().message};
  return std::unique_ptr<Handler>(std::move(*handler));
}

Provider allpay::provider() {
  return {allpay::providerConfig(), makeAllpayHandler};
}

}  // namespace payhook::handlers
