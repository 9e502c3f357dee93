// allpay.kz merchant notifications: signed WebShopResponse documents made by
// tests/fixtures/allpay/make-fixtures.sh with the xmlsec1 command (allpay publishes no test vector).
#include "handlers/allpay/allpay.h"
#include "support/listing_expect.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace payhook::handlers {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream f(std::string(PAYHOOK_FIXTURES_DIR) + "/allpay/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string base64(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();  // the terminating NUL
  return out;
}

// In lines of 76 with CRLF, as Java's sun.misc.BASE64Encoder (allpay's demo) writes it.
std::string base64Lines(std::string_view bytes) {
  const std::string flat = base64(bytes);
  std::string out;
  for (size_t i = 0; i < flat.size(); i += 76) out += flat.substr(i, 76) + "\r\n";
  return out;
}

http::Request notify(std::string body, std::string content_type = "application/xml") {
  http::Request r;
  r.method = "POST";
  r.path = "/allpay/notify";
  r.headers = {{"content-type", std::move(content_type)}};
  r.body = std::move(body);
  return r;
}

std::unique_ptr<AllpayHandler> handler(AllpayHandler::Answer answer = AllpayHandler::Answer::kV1,
                                       AllpayHandler::StatusForm form = AllpayHandler::StatusForm::kName,
                                       const std::string& key_file = "test-allpay.pub.pem") {
  auto h = AllpayHandler::create("shop", fixture(key_file), answer, form);
  EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error().message);
  return h.ok() ? std::move(*h) : nullptr;
}

Verdict handleXml(const AllpayHandler& h, const std::string& xml) {
  return h.handle(0, notify(base64(xml)), 0);
}

const Accept& accepted(const Verdict& v) {
  static const Accept kNone;
  if (const auto* a = std::get_if<Accept>(&v)) return *a;
  const auto* r = std::get_if<Reject>(&v);
  ADD_FAILURE() << "not accepted: " << (r ? std::to_string(r->reply.status) + " " + r->reason : "decide");
  return kNone;
}

int refusedWith(const Verdict& v) {
  if (const auto* r = std::get_if<Reject>(&v)) return r->reply.status;
  return 0;
}

std::string reasonOf(const Verdict& v) {
  if (const auto* r = std::get_if<Reject>(&v)) return r->reason;
  return "";
}

std::string replaceOnce(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

std::string between(const std::string& s, const std::string& open, const std::string& close) {
  const size_t a = s.find(open);
  const size_t b = s.find(close, a);
  EXPECT_TRUE(a != std::string::npos && b != std::string::npos);
  return s.substr(a, b + close.size() - a);
}

TEST(AllpayHandler, ServesPostNotify) {
  auto h = handler();
  ASSERT_TRUE(h);
  auto eps = h->endpoints();
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].suffix, "/notify");
  EXPECT_EQ(eps[0].methods, std::vector<std::string>{"POST"});
}

TEST(AllpayHandler, SignedPaidNotificationIsAcceptedWithItsFields) {
  auto h = handler();
  ASSERT_TRUE(h);
  const auto v = handleXml(*h, fixture("paid.xml"));
  const Accept& a = accepted(v);
  EXPECT_EQ(a.event.type, "allpay.payment_result");
  EXPECT_EQ(a.event.route, "shop");
  EXPECT_EQ(a.event.provider, "allpay");
  EXPECT_TRUE(a.event.verified);
  EXPECT_EQ(a.event.idempotency_key, "10:INV-100500:7:7730412:0");
  EXPECT_TRUE(a.event.raw.body.empty());  // the daemon moves the request in
  EXPECT_EQ(
      nlohmann::json::parse(a.event.data_json),
      nlohmann::json::parse(
          R"({"invoice_number":"INV-100500","paid":true,)"
          R"("payment":{"amount":null,"amount_minor":null,"currency":null,"order_id":"INV-100500",)"
          R"("outcome":"succeeded","provider_payment_id":"7730412","test":false,"warnings":[],"unsigned":[]},)"
          R"("status":"0","status_description":"buyer@example.kz","transaction_id":"7730412"})"));
  testing::expectListing(a.event, {"INV-100500", "7730412"}, "", "", "0", "succeeded");
}

// data.payment (README "The normalised payment"): Status 0 or SUCCESS is succeeded, any other failed; the
// notification carries no amount or currency.
TEST(AllpayHandler, NormalisedPaymentFollowsStatus) {
  auto h = handler();
  ASSERT_TRUE(h);
  const auto payment = [&](const std::string& xml) {
    const auto v = handleXml(*h, xml);
    return nlohmann::json::parse(accepted(v).event.data_json).value("payment", nlohmann::json());
  };
  const auto paid = payment(fixture("paid.xml"));
  EXPECT_EQ(paid, nlohmann::json::parse(R"({"outcome":"succeeded","amount":null,"amount_minor":null,
      "currency":null,"order_id":"INV-100500","provider_payment_id":"7730412","test":false,"warnings":[],"unsigned":[]})"));
  const auto success = payment(fixture("success-extra.xml"));
  EXPECT_EQ(success.value("outcome", ""), "succeeded");
  EXPECT_EQ(success.value("order_id", ""), "INV-200");
  EXPECT_EQ(success.value("provider_payment_id", ""), "991");
  EXPECT_TRUE(success["amount"].is_null());  // PaidAmount is an unknown element: kept in data, not read here
  const auto failed = payment(fixture("failed.xml"));
  EXPECT_EQ(failed, nlohmann::json::parse(R"({"outcome":"failed","amount":null,"amount_minor":null,
      "currency":null,"order_id":"INV-300","provider_payment_id":"7730499","test":false,"warnings":[],"unsigned":[]})"));
}

TEST(AllpayHandler, ExclusiveC14nSuccessAndUnknownElementsAreKept) {
  auto h = handler();
  ASSERT_TRUE(h);
  const auto v = handleXml(*h, fixture("success-extra.xml"));
  const Accept& a = accepted(v);
  EXPECT_EQ(a.event.idempotency_key, "7:INV-200:3:991:SUCCESS");
  auto data = nlohmann::json::parse(a.event.data_json);
  EXPECT_EQ(data["status"], "SUCCESS");
  EXPECT_EQ(data["paid"], true);
  EXPECT_FALSE(data.contains("status_description"));
  EXPECT_EQ(data["paid_amount"], "1500.50");  // exactly as received
  EXPECT_EQ(data["shop_name"], "Demo shop");
}

TEST(AllpayHandler, FailedPaymentIsStoredAsNotPaid) {
  auto h = handler();
  ASSERT_TRUE(h);
  const auto v = handleXml(*h, fixture("failed.xml"));
  const Accept& a = accepted(v);
  EXPECT_EQ(a.event.idempotency_key, "7:INV-300:7:7730499:ERROR_NOT_ENOUGH_MONEY");
  auto data = nlohmann::json::parse(a.event.data_json);
  EXPECT_EQ(data["paid"], false);
  EXPECT_EQ(data["status_description"], "");
  EXPECT_EQ(a.ack.status, 200);
}

TEST(AllpayHandler, AnswersV1AndV2ByteForByte) {
  const std::string xml = fixture("paid.xml");
  auto v1 = handler(AllpayHandler::Answer::kV1);
  ASSERT_TRUE(v1);
  const auto a1_verdict = handleXml(*v1, xml);
  const Accept& a1 = accepted(a1_verdict);
  EXPECT_EQ(a1.ack.status, 200);
  EXPECT_EQ(a1.ack.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(a1.ack.body, "OK");

  auto v2 = handler(AllpayHandler::Answer::kV2, AllpayHandler::StatusForm::kName);
  ASSERT_TRUE(v2);
  const auto a2_verdict = handleXml(*v2, xml);
  const Accept& a2 = accepted(a2_verdict);
  EXPECT_EQ(a2.ack.status, 200);
  EXPECT_EQ(a2.ack.content_type, "application/xml; charset=utf-8");
  EXPECT_EQ(a2.ack.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><WSCResp:WebShopCustomerResponse "
            "xmlns:WSCResp=\"http://allpay.kz/xsd/1.0.0/WebShopCustomerResponse.xsd\"><WSCResp:Status>DONE"
            "</WSCResp:Status><WSCResp:Reason></WSCResp:Reason></WSCResp:WebShopCustomerResponse>");

  auto digit = handler(AllpayHandler::Answer::kV2, AllpayHandler::StatusForm::kDigit);
  ASSERT_TRUE(digit);
  const auto a3_verdict = handleXml(*digit, xml);
  const Accept& a3 = accepted(a3_verdict);
  EXPECT_EQ(a3.ack.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><WSCResp:WebShopCustomerResponse "
            "xmlns:WSCResp=\"http://allpay.kz/xsd/1.0.0/WebShopCustomerResponse.xsd\"><WSCResp:Status>0"
            "</WSCResp:Status><WSCResp:Reason></WSCResp:Reason></WSCResp:WebShopCustomerResponse>");
  EXPECT_EQ(a3.ack.body, digit->ack().body);
}

TEST(AllpayHandler, OneByteChangedInsideTheSignedContentIs403) {
  auto h = handler();
  ASSERT_TRUE(h);
  const std::string xml = fixture("paid.xml");
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"INV-100500", "INV-100501"},
           {"7730412", "7730413"},
           {"<WSResp:Status>0<", "<WSResp:Status>1<"},
           {"buyer@example.kz", "buyer@example.kk"},
           {"schemaLocation=\"http://allpay.kz", "schemaLocation=\"http://allpay.kk"},
           {"</WSResp:Transaction>", "</WSResp:Transaction> "},
       }) {
    const auto v = handleXml(*h, replaceOnce(xml, from, to));
    EXPECT_EQ(refusedWith(v), 403) << from;
    if (const auto* r = std::get_if<Reject>(&v)) {
      EXPECT_EQ(r->outcome, "forged");
    }
  }
  // The signature value and the digest themselves.
  const std::string sig_value = between(xml, "<ds:SignatureValue>", "</ds:SignatureValue>");
  std::string bad_sig = sig_value;
  bad_sig[25] = bad_sig[25] == 'A' ? 'B' : 'A';
  EXPECT_EQ(refusedWith(handleXml(*h, replaceOnce(xml, sig_value, bad_sig))), 403);
  const std::string digest = between(xml, "<ds:DigestValue>", "</ds:DigestValue>");
  std::string bad_digest = digest;
  bad_digest[20] = bad_digest[20] == 'A' ? 'B' : 'A';
  EXPECT_EQ(refusedWith(handleXml(*h, replaceOnce(xml, digest, bad_digest))), 403);
}

TEST(AllpayHandler, AnotherKeysSignatureIs403) {
  auto h = handler();
  ASSERT_TRUE(h);
  EXPECT_EQ(refusedWith(handleXml(*h, fixture("wrong-key.xml"))), 403);
}

TEST(AllpayHandler, UnsignedDocumentIs403) {
  auto h = handler();
  ASSERT_TRUE(h);
  const std::string xml = fixture("paid.xml");
  const std::string sig = between(xml, "<ds:Signature ", "</ds:Signature>");
  EXPECT_EQ(refusedWith(handleXml(*h, replaceOnce(xml, sig, ""))), 403);
}

TEST(AllpayHandler, ACertificateWorksAsTheKey) {
  auto h = handler(AllpayHandler::Answer::kV1, AllpayHandler::StatusForm::kName, "test-allpay.cert.pem");
  ASSERT_TRUE(h);
  accepted(handleXml(*h, fixture("paid.xml")));
}

TEST(AllpayHandler, BadKeysAreRefusedWhenTheRouteIsBuilt) {
  using A = AllpayHandler;
  EXPECT_FALSE(A::create("r", "", A::Answer::kV1, A::StatusForm::kName).ok());
  EXPECT_FALSE(A::create("r", "not a key", A::Answer::kV1, A::StatusForm::kName).ok());
  auto priv = A::create("r", fixture("test-allpay.priv.pem"), A::Answer::kV1, A::StatusForm::kName);
  ASSERT_FALSE(priv.ok());
  EXPECT_NE(priv.error().message.find("private key"), std::string::npos);
}

// Signature wrapping: the signed document is kept intact somewhere, and forged fields are put where a
// careless reader would take them from. Every shape is refused.
TEST(AllpayHandler, SignatureWrappingAttemptsAreRefused) {
  auto h = handler();
  ASSERT_TRUE(h);
  const std::string xml = fixture("paid.xml");
  const std::string decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  const std::string signed_root = xml.substr(decl.size());
  const std::string ns = "xmlns:WSResp=\"http://allpay.kz/xsd/1.0.0/WebShopResponse.xsd\"";
  const std::string forged_fields =
      "<WSResp:InvoiceNumber>INV-EVIL</WSResp:InvoiceNumber><WSResp:Transaction><WSResp:TransactionId>1"
      "</WSResp:TransactionId><WSResp:Status>0</WSResp:Status></WSResp:Transaction>";

  // 1. A new, unsigned WebShopResponse around the signed one.
  const std::string wrapped = decl + "<WSResp:WebShopResponse " + ns + ">" + forged_fields + signed_root +
                              "</WSResp:WebShopResponse>";
  EXPECT_NE(refusedWith(handleXml(*h, wrapped)), 0);
  EXPECT_FALSE(std::holds_alternative<Accept>(handleXml(*h, wrapped)));

  // 2. The signed document's Signature moved into a new root (the signed content in an extra element).
  const std::string sig = between(xml, "<ds:Signature ", "</ds:Signature>");
  const std::string unsigned_root = replaceOnce(signed_root, sig, "");
  const std::string moved = decl + "<WSResp:WebShopResponse " + ns + ">" + forged_fields +
                            "<WSResp:Original>" + unsigned_root + "</WSResp:Original>" + sig +
                            "</WSResp:WebShopResponse>";
  EXPECT_EQ(refusedWith(handleXml(*h, moved)), 403);

  // 3. A second, forged Transaction before the signed one.
  const std::string second =
      replaceOnce(xml, "<WSResp:Transaction>",
                  "<WSResp:Transaction><WSResp:TransactionId>1</WSResp:TransactionId><WSResp:Status>0"
                  "</WSResp:Status></WSResp:Transaction><WSResp:Transaction>");
  EXPECT_NE(refusedWith(handleXml(*h, second)), 0);

  // 4. The Signature moved inside Transaction: the enveloped transform removes it wherever it stands, so
  // the digest still matches; only the structural check catches it.
  const std::string inside =
      replaceOnce(replaceOnce(xml, sig, ""), "</WSResp:Transaction>", sig + "</WSResp:Transaction>");
  EXPECT_EQ(refusedWith(handleXml(*h, inside)), 403);
  EXPECT_EQ(reasonOf(handleXml(*h, inside)), "ds:Signature is not a child of the document element");

  // 5. A valid signature whose reference covers the Transaction element only (URI "#t1").
  EXPECT_EQ(refusedWith(handleXml(*h, fixture("partial-reference.xml"))), 403);
  EXPECT_EQ(
      refusedWith(handleXml(*h, replaceOnce(fixture("partial-reference.xml"), "INV-100500", "INV-EVIL"))),
      403);

  // A Reference without URI verifies for xmlsec1 (it means the whole document there) but is not allpay's
  // shape: refused too.
  EXPECT_EQ(refusedWith(handleXml(*h, fixture("no-uri.xml"))), 403);
  EXPECT_EQ(reasonOf(handleXml(*h, fixture("no-uri.xml"))), "the signature's reference is not URI \"\"");

  // 6. A second Signature (copied), so a verifier might check one and a reader trust the other.
  const std::string two = replaceOnce(xml, "</WSResp:WebShopResponse>", sig + "</WSResp:WebShopResponse>");
  EXPECT_EQ(refusedWith(handleXml(*h, two)), 403);

  // 7. A comment planted inside a signed value. The reference URI "" leaves comments out of the digest,
  // so the signature still verifies; what is read must then be the signed value, not the text before the
  // comment ("INV-100").
  const auto commented = handleXml(*h, replaceOnce(xml, "INV-100500", "INV-100<!---->500"));
  const Accept& a = accepted(commented);
  EXPECT_EQ(nlohmann::json::parse(a.event.data_json)["invoice_number"], "INV-100500");
  EXPECT_EQ(a.event.idempotency_key, "10:INV-100500:7:7730412:0");
}

TEST(AllpayHandler, DoctypeAndExternalEntitiesAre400) {
  auto h = handler();
  ASSERT_TRUE(h);
  const std::string xml = fixture("paid.xml");
  const std::string decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  // A DOCTYPE is outside what the signature covers, so this one still verifies: refused for the DOCTYPE.
  const std::string doctype = replaceOnce(xml, decl, decl + "<!DOCTYPE WSResp:WebShopResponse>\n");
  EXPECT_EQ(refusedWith(handleXml(*h, doctype)), 400);
  const std::string xxe = replaceOnce(
      replaceOnce(xml, decl, decl + "<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"),
      "INV-100500", "&xxe;");
  EXPECT_EQ(refusedWith(handleXml(*h, xxe)), 400);
  const std::string external =
      replaceOnce(xml, decl, decl + "<!DOCTYPE r SYSTEM \"http://127.0.0.1:9/evil.dtd\">\n");
  EXPECT_EQ(refusedWith(handleXml(*h, external)), 400);
  const std::string laughs =
      "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
      "\"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>";
  EXPECT_EQ(refusedWith(handleXml(*h, laughs)), 400);
  // An entity reference without a DOCTYPE is undeclared: not well-formed.
  EXPECT_EQ(refusedWith(handleXml(*h, replaceOnce(xml, "INV-100500", "&xxe;"))), 400);
  const auto v = handleXml(*h, doctype);
  if (const auto* r = std::get_if<Reject>(&v)) {
    EXPECT_EQ(r->outcome, "malformed");
    EXPECT_NE(r->reason.find("DOCTYPE"), std::string::npos);
  }
}

TEST(AllpayHandler, MalformedBodiesAre400) {
  auto h = handler();
  ASSERT_TRUE(h);
  EXPECT_EQ(refusedWith(h->handle(0, notify(""), 0)), 400);
  EXPECT_EQ(refusedWith(h->handle(0, notify("not base64!"), 0)), 400);
  EXPECT_EQ(refusedWith(h->handle(0, notify(fixture("paid.xml")), 0)), 400);  // XML not base64-encoded
  EXPECT_EQ(refusedWith(handleXml(*h, "plain text, not XML")), 400);
  EXPECT_EQ(refusedWith(handleXml(*h, "<a><b></a>")), 400);
  // Signed properly, but without TransactionId.
  EXPECT_EQ(refusedWith(handleXml(*h, fixture("no-transaction-id.xml"))), 400);
  // Another document element or namespace.
  const std::string xml = fixture("paid.xml");
  EXPECT_EQ(refusedWith(handleXml(
                *h, replaceOnce(xml, "1.0.0/WebShopResponse.xsd\" xsi", "1.0.0/WebShopRequest.xsd\" xsi"))),
            400);
  EXPECT_EQ(refusedWith(handleXml(*h, "<WebShopResponse/>")), 400);
  // A known field given twice, or an unknown one under a known name: ambiguous.
  EXPECT_EQ(refusedWith(handleXml(*h, replaceOnce(xml, "<WSResp:InvoiceNumber>",
                                                  "<WSResp:InvoiceNumber>1</WSResp:InvoiceNumber>"
                                                  "<WSResp:InvoiceNumber>"))),
            400);
  EXPECT_EQ(refusedWith(handleXml(*h, replaceOnce(xml, "<WSResp:Transaction>",
                                                  "<WSResp:Status>0</WSResp:Status><WSResp:Transaction>"))),
            400);
  EXPECT_EQ(refusedWith(handleXml(*h, replaceOnce(xml, "<WSResp:Status>0</WSResp:Status>", ""))), 400);
  // The keys payhook writes itself ("payment", and "decision" in a Decide flow) are not an element's to take.
  for (const std::string element : {"Payment", "Decision"}) {
    const std::string extra = "<WSResp:" + element + ">x</WSResp:" + element + ">";
    EXPECT_EQ(
        refusedWith(handleXml(*h, replaceOnce(xml, "<WSResp:Transaction>", extra + "<WSResp:Transaction>"))),
        400)
        << element;
  }
  const auto v = h->handle(0, notify("%%%"), 0);
  if (const auto* r = std::get_if<Reject>(&v)) {
    EXPECT_EQ(r->outcome, "malformed");
  }
}

TEST(AllpayHandler, Base64WithLineBreaksIsAccepted) {
  auto h = handler();
  ASSERT_TRUE(h);
  const std::string xml = fixture("paid.xml");
  accepted(h->handle(0, notify(base64Lines(xml)), 0));
  accepted(h->handle(0, notify(" " + base64(xml) + "\n"), 0));
}

TEST(AllpayHandler, AFormFieldWebshopResponseIsAcceptedOnceOnly) {
  auto h = handler();
  ASSERT_TRUE(h);
  const std::string b64 = base64(fixture("paid.xml"));
  std::string encoded;  // '+', '/' and '=' percent-encoded, as a form encoder writes them
  for (char c : b64) {
    if (c == '+')
      encoded += "%2B";
    else if (c == '/')
      encoded += "%2F";
    else if (c == '=')
      encoded += "%3D";
    else
      encoded += c;
  }
  const std::string form = "application/x-www-form-urlencoded";
  accepted(h->handle(0, notify("webshopResponse=" + encoded, form), 0));
  accepted(h->handle(0, notify("webshopResponse=" + encoded, form + "; charset=UTF-8"), 0));
  // A raw base64 body is still read as such when a client labels it a form.
  accepted(h->handle(0, notify(b64, form), 0));
  EXPECT_EQ(refusedWith(
                h->handle(0, notify("webshopResponse=" + encoded + "&webshopResponse=" + encoded, form), 0)),
            400);
  EXPECT_EQ(refusedWith(h->handle(0, notify("other=" + encoded, form), 0)), 400);
  // Not a form: the field is not looked for.
  EXPECT_EQ(refusedWith(h->handle(0, notify("webshopResponse=" + encoded, "text/plain"), 0)), 400);
}

TEST(AllpayHandler, SnakeCaseNamesForUnknownElements) {
  // Exercised through the handler: the unknown elements of success-extra.xml.
  auto h = handler();
  ASSERT_TRUE(h);
  const auto a_verdict = handleXml(*h, fixture("success-extra.xml"));
  const Accept& a = accepted(a_verdict);
  auto data = nlohmann::json::parse(a.event.data_json);
  EXPECT_TRUE(data.contains("paid_amount"));
  EXPECT_TRUE(data.contains("shop_name"));
  EXPECT_EQ(data.size(), 7u);  // invoice_number transaction_id status paid payment paid_amount shop_name
}

// v2 with a decision target: the verified notification waits for the shop, and is delivered as well.
TEST(AllpayHandler, V2WithADecisionTargetDecidesAndDelivers) {
  using A = AllpayHandler;
  auto decide = A::create("shop", fixture("test-allpay.pub.pem"), A::Answer::kV2, A::StatusForm::kName, true);
  ASSERT_TRUE(decide.ok());
  const auto v = handleXml(**decide, fixture("paid.xml"));
  const auto* d = std::get_if<Decide>(&v);
  ASSERT_NE(d, nullptr) << "not a Decide verdict";
  EXPECT_TRUE(d->deliver);
  EXPECT_EQ(d->event.type, "allpay.payment_result");
  EXPECT_EQ(d->event.idempotency_key, "10:INV-100500:7:7730412:0");  // the usual key: a repeat is a duplicate
  const auto data = nlohmann::json::parse(d->event.data_json);
  EXPECT_EQ(data["paid"], true);
  EXPECT_EQ(data["payment"]["outcome"], "succeeded");
  // Verification comes first: a forged document is refused, not asked about.
  EXPECT_EQ(refusedWith(handleXml(**decide, fixture("wrong-key.xml"))), 403);

  // v1 has no answer to carry a decision: the target is ignored and the route acknowledges as before. And
  // v2 without a target answers DONE as before.
  auto v1 = A::create("shop", fixture("test-allpay.pub.pem"), A::Answer::kV1, A::StatusForm::kName, true);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(accepted(handleXml(**v1, fixture("paid.xml"))).ack.body, "OK");
  auto v2 = handler(A::Answer::kV2);
  ASSERT_TRUE(v2);
  EXPECT_TRUE(std::holds_alternative<Accept>(handleXml(*v2, fixture("paid.xml"))));
}

std::string customerResponse(const std::string& status, const std::string& reason) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><WSCResp:WebShopCustomerResponse "
         "xmlns:WSCResp=\"http://allpay.kz/xsd/1.0.0/WebShopCustomerResponse.xsd\"><WSCResp:Status>" +
         status + "</WSCResp:Status><WSCResp:Reason>" + reason +
         "</WSCResp:Reason></WSCResp:WebShopCustomerResponse>";
}

Decision decision(Decision::Kind kind, std::string message = {}, bool pending = false) {
  Decision d;
  d.kind = kind;
  d.message = std::move(message);
  d.pending = pending;
  return d;
}

TEST(AllpayHandler, DecidedAnswersDoneFailOrPendingInBothStatusForms) {
  using A = AllpayHandler;
  using K = Decision::Kind;
  const Event ev;
  for (auto form : {A::StatusForm::kName, A::StatusForm::kDigit}) {
    auto h = A::create("shop", fixture("test-allpay.pub.pem"), A::Answer::kV2, form, true);
    ASSERT_TRUE(h.ok());
    const std::string done = form == A::StatusForm::kName ? "DONE" : "0";
    SCOPED_TRACE(done);
    const auto accepted_answer = (*h)->decided(ev, decision(K::kAccept));
    EXPECT_EQ(accepted_answer.status, 200);
    EXPECT_EQ(accepted_answer.content_type, "application/xml; charset=utf-8");
    EXPECT_EQ(accepted_answer.body, customerResponse(done, ""));
    EXPECT_EQ(accepted_answer.body, (*h)->ack().body);
    // allpay defines no digit form for FAIL and PENDING: they are written by name in both forms.
    EXPECT_EQ((*h)->decided(ev, decision(K::kRefuse, "out of stock")).body,
              customerResponse("FAIL", "out of stock"));
    EXPECT_EQ((*h)->decided(ev, decision(K::kRefuse)).body,
              customerResponse("FAIL", "the shop refused the payment"));
    EXPECT_EQ((*h)->decided(ev, decision(K::kRefuse, "stock is being checked", true)).body,
              customerResponse("PENDING", "stock is being checked"));
    EXPECT_EQ((*h)->decided(ev, decision(K::kRefuse, "", true)).body, customerResponse("PENDING", ""));
    // No usable answer: what failed stays in the stored decision; allpay gets PENDING and a fixed reason.
    const auto timeout = (*h)->decided(ev, decision(K::kFailed, "no answer: timed out"));
    EXPECT_EQ(timeout.status, 200);
    EXPECT_EQ(timeout.body, customerResponse("PENDING", "the shop has not confirmed the payment yet"));
  }
}

TEST(AllpayHandler, DecidedReasonIsEscapedAndBounded) {
  using A = AllpayHandler;
  using K = Decision::Kind;
  auto h = A::create("shop", fixture("test-allpay.pub.pem"), A::Answer::kV2, A::StatusForm::kName, true);
  ASSERT_TRUE(h.ok());
  const Event ev;
  auto reason = [&](const std::string& message, bool pending = false) {
    const std::string body = (*h)->decided(ev, decision(K::kRefuse, message, pending)).body;
    return between(body, "<WSCResp:Reason>", "</WSCResp:Reason>");
  };
  auto wrapped = [](const std::string& text) { return "<WSCResp:Reason>" + text + "</WSCResp:Reason>"; };
  EXPECT_EQ(
      reason("</WSCResp:Reason><WSCResp:Status>DONE</WSCResp:Status> & \"'"),
      wrapped("&lt;/WSCResp:Reason&gt;&lt;WSCResp:Status&gt;DONE&lt;/WSCResp:Status&gt; &amp; &quot;&apos;"));
  EXPECT_EQ(reason("<b>pending</b>", true), wrapped("&lt;b&gt;pending&lt;/b&gt;"));
  // Characters XML forbids and bytes that are not UTF-8 become U+FFFD; line ends and tabs are references, so
  // that no normalisation can change them.
  EXPECT_EQ(reason(std::string("a\x01"
                               "b\xFF"
                               "c\xC0\xBC"
                               "d\r\n\te")),
            wrapped("a\xEF\xBF\xBD"
                    "b\xEF\xBF\xBD"
                    "c\xEF\xBF\xBD\xEF\xBF\xBD"
                    "d&#13;&#10;&#9;e"));
  // At most 255 characters, counted in code points: a multi-byte character is never split.
  std::string cyrillic;
  for (int i = 0; i < 300; ++i) cyrillic += "\xD0\x96";  // Ж
  const std::string bounded = reason(cyrillic);
  EXPECT_EQ(bounded.size(), wrapped("").size() + 255 * 2);
  EXPECT_EQ(reason(std::string(300, 'x')), wrapped(std::string(255, 'x')));
}

}  // namespace
}  // namespace payhook::handlers
