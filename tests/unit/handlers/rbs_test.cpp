#include "handlers/rbs/rbs.h"
#include "handlers/rbs/settings.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "handlers/digest.h"
#include "support/listing_expect.h"

namespace payhook::handlers {
namespace {

// The RBS gateway's published HMAC test vector.
constexpr const char* kToken = "ooc7slpvc61k7sf7ma7p4hrefr";
constexpr const char* kHmacQuery =
    "mdOrder=06cf5599-3f17-7c86-bdbc-bd7d00a8b38b&operation=approved&orderNumber=2003&status=1";
constexpr const char* kHmacChecksum = "EAF2FB72CAB99FD5067F4BA493DD84F4D79C1589FDE8ED29622F0F07215AA972";
constexpr int64_t kNowMs = 1'700'000'000'000;

std::string fixture(const std::string& name) {
  std::ifstream f(std::string(PAYHOOK_FIXTURES_DIR) + "/rbs/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

http::Request get(std::string query) {
  http::Request r;
  r.method = "GET";
  r.path = "/rbs/callback";
  r.query = std::move(query);
  r.peer = "127.0.0.1";
  return r;
}

http::Request post(std::string body, std::string content_type = "application/x-www-form-urlencoded") {
  http::Request r;
  r.method = "POST";
  r.path = "/rbs/callback";
  if (!content_type.empty()) r.headers.push_back({"content-type", std::move(content_type)});
  r.body = std::move(body);
  r.peer = "127.0.0.1";
  return r;
}

RbsHandler hmacHandler(std::vector<std::string> tokens = {kToken}) {
  RbsHandler::Options o;
  o.route = "bank";
  o.checksum = rbs::Checksum::kHmacSha256;
  for (auto& t : tokens) o.tokens.emplace_back(std::move(t));
  return RbsHandler(std::move(o));
}

RbsHandler rsaHandler(const std::string& pem, rbs::RsaHash hash = rbs::RsaHash::kSha512) {
  RbsHandler::Options o;
  o.route = "bank";
  o.checksum = rbs::Checksum::kRsa;
  auto keys = rbs::RsaPublicKeys::parse(pem);
  EXPECT_TRUE(keys.ok()) << keys.error().message;
  o.rsa_keys = std::move(keys.value());
  o.rsa_hash = hash;
  return RbsHandler(std::move(o));
}

RbsHandler noneHandler() {
  RbsHandler::Options o;
  o.route = "bank";
  o.checksum = rbs::Checksum::kNone;
  return RbsHandler(std::move(o));
}

int statusOf(const Verdict& v) {
  if (const auto* a = std::get_if<Accept>(&v)) return a->ack.status;
  if (const auto* r = std::get_if<Reject>(&v)) return r->reply.status;
  return -1;
}

// The event's data without the normalised `payment` (and the shop's own parameters): the provider's own
// fields, which must stay exactly as they were before `payment` was added.
// The bank's signed fields alone: without payhook's payment, and without "unsigned" when the URL carried no
// parameters of the shop's (every callback has it, an object).
std::string withoutPayment(const std::string& data_json) {
  auto data = nlohmann::json::parse(data_json);
  data.erase("payment");
  EXPECT_TRUE(data["unsigned"].is_object()) << data_json;
  if (data["unsigned"].empty()) data.erase("unsigned");
  return data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string signedQuery(const std::string& query, const std::string& token = kToken) {
  auto form = Form::parse(query);
  EXPECT_TRUE(form.ok());
  return query + "&checksum=" + hmacSha256Hex(Secret(token), rbs::signedString(*form), HexCase::kUpper);
}

// Test-only signing with the committed test key (tests/fixtures/rbs/README.md).
std::string rsaSign(const std::string& message, const EVP_MD* md) {
  const std::string pem = fixture("test-private.pem");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  EXPECT_TRUE(key);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.get()), 1);
  size_t len = 0;
  const auto* msg = reinterpret_cast<const unsigned char*>(message.data());
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, msg, message.size()), 1);
  std::string sig(len, '\0');
  EXPECT_EQ(
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, msg, message.size()), 1);
  sig.resize(len);
  return toHex(sig, HexCase::kUpper);
}

std::string rsaSignedQuery(const std::string& query, const EVP_MD* md) {
  auto form = Form::parse(query);
  EXPECT_TRUE(form.ok());
  return query + "&checksum=" + rsaSign(rbs::signedString(*form), md);
}

// A certificate for the test key that expired yesterday: the handler must not care.
std::string expiredCertificate() {
  const std::string pem = fixture("test-private.pem");
  std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                               BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -30L * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), -86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("expired test"),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  EXPECT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(out.get(), cert.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// --- The published vectors ------------------------------------------------------------------------------

TEST(Rbs, PublishedHmacVectorSignedStringAndDigest) {
  auto form = Form::parse(kHmacQuery);
  ASSERT_TRUE(form.ok());
  const std::string s = rbs::signedString(*form);
  EXPECT_EQ(s, "mdOrder;06cf5599-3f17-7c86-bdbc-bd7d00a8b38b;operation;approved;orderNumber;2003;status;1;");
  EXPECT_EQ(hmacSha256Hex(Secret(kToken), s, HexCase::kUpper), kHmacChecksum);
}

TEST(Rbs, PublishedHmacVectorIsAcceptedWithTheExactAnswer) {
  auto v = hmacHandler().handle(0, get(std::string(kHmacQuery) + "&checksum=" + kHmacChecksum), kNowMs);
  auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr) << std::get<Reject>(v).reason;
  EXPECT_EQ(a->ack.status, 200);
  EXPECT_EQ(a->ack.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(a->ack.body, "OK");
  EXPECT_TRUE(a->ack.headers.empty());
  EXPECT_EQ(a->event.type, "rbs.approved");
  EXPECT_EQ(a->event.route, "bank");
  EXPECT_EQ(a->event.provider, "rbs");
  EXPECT_TRUE(a->event.verified);
  EXPECT_EQ(a->event.idempotency_key, "06cf5599-3f17-7c86-bdbc-bd7d00a8b38b:approved:1");
  testing::expectListing(a->event, {"2003", "06cf5599-3f17-7c86-bdbc-bd7d00a8b38b"}, "", "RUB", "approved/1",
                         "held");
  EXPECT_EQ(withoutPayment(a->event.data_json),
            R"({"md_order":"06cf5599-3f17-7c86-bdbc-bd7d00a8b38b","operation":"approved",)"
            R"("order_number":"2003","status":"1"})");
  EXPECT_EQ(nlohmann::json::parse(a->event.data_json)["payment"],
            nlohmann::json::parse(
                R"({"outcome":"held","amount":null,"amount_minor":null,"currency":"RUB",)"
                R"("order_id":"2003","provider_payment_id":"06cf5599-3f17-7c86-bdbc-bd7d00a8b38b",)"
                R"("test":false,"warnings":[],"unsigned":[]})"));
  EXPECT_TRUE(a->event.raw.body.empty());
  EXPECT_TRUE(a->event.id.empty());
}

TEST(Rbs, PublishedHmacVectorOneByteChangedIsRefused) {
  auto h = hmacHandler();
  // The checksum's last digit.
  std::string bad_sum(kHmacChecksum);
  bad_sum.back() = '3';
  auto v = h.handle(0, get(std::string(kHmacQuery) + "&checksum=" + bad_sum), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Reject>(v));
  EXPECT_EQ(std::get<Reject>(v).reply.status, 403);
  EXPECT_EQ(std::get<Reject>(v).reply.body, "invalid checksum\n");
  EXPECT_EQ(std::get<Reject>(v).outcome, "forged");
  // A signed value.
  std::string q = std::string(kHmacQuery) + "&checksum=" + kHmacChecksum;
  q.replace(q.find("2003"), 4, "2004");
  EXPECT_EQ(statusOf(h.handle(0, get(q), kNowMs)), 403);
  // A signed name.
  q = std::string(kHmacQuery) + "&checksum=" + kHmacChecksum;
  q.replace(q.find("orderNumber"), 11, "orderNumbeR");
  EXPECT_EQ(statusOf(h.handle(0, get(q), kNowMs)), 403);
  // An extra unsigned pair.
  EXPECT_EQ(
      statusOf(h.handle(0, get(std::string(kHmacQuery) + "&amount=1&checksum=" + kHmacChecksum), kNowMs)),
      403);
  // Another token.
  EXPECT_EQ(statusOf(hmacHandler({"ooc7slpvc61k7sf7ma7p4hrefR"})
                         .handle(0, get(std::string(kHmacQuery) + "&checksum=" + kHmacChecksum), kNowMs)),
            403);
}

TEST(Rbs, HmacChecksumIsComparedIgnoringCase) {
  std::string lower(kHmacChecksum);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(statusOf(hmacHandler().handle(0, get(std::string(kHmacQuery) + "&checksum=" + lower), kNowMs)),
            200);
}

TEST(Rbs, AnyTokenOfTheSecretFileVerifies) {
  auto h = hmacHandler({"old-token", kToken});
  EXPECT_EQ(statusOf(h.handle(0, get(std::string(kHmacQuery) + "&checksum=" + kHmacChecksum), kNowMs)), 200);
}

TEST(Rbs, PublishedRsaVectorVerifiesWithSha512) {
  const std::string query = fixture("rsa-sha512-callback.query");
  auto v = rsaHandler(fixture("bank-public.pem")).handle(0, get(query), kNowMs);
  auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr) << std::get<Reject>(v).reason;
  EXPECT_EQ(a->ack.body, "OK");
  EXPECT_EQ(a->event.type, "rbs.deposited");
  EXPECT_EQ(a->event.idempotency_key, "12b59da8-f68f-7c8d-12b5-9da8000826ea:deposited:1");
  EXPECT_EQ(withoutPayment(a->event.data_json),
            R"({"amount":"35000099","md_order":"12b59da8-f68f-7c8d-12b5-9da8000826ea",)"
            R"("operation":"deposited","status":"1"})");
  const auto payment = nlohmann::json::parse(a->event.data_json)["payment"];
  EXPECT_EQ(payment["outcome"], "succeeded");
  EXPECT_EQ(payment["amount"], "350000.99");
  EXPECT_EQ(payment["amount_minor"], 35000099);
  EXPECT_EQ(payment["currency"], "RUB");
  EXPECT_EQ(payment["order_id"], nullptr);
  EXPECT_EQ(payment["provider_payment_id"], "12b59da8-f68f-7c8d-12b5-9da8000826ea");
}

TEST(Rbs, PublishedRsaVectorWithAmountChangedFails) {
  std::string query = fixture("rsa-sha512-callback.query");
  ASSERT_NE(query.find("amount=35000099"), std::string::npos);
  query.replace(query.find("amount=35000099"), 15, "amount=935000099");
  auto v = rsaHandler(fixture("bank-public.pem")).handle(0, get(query), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Reject>(v));
  EXPECT_EQ(std::get<Reject>(v).reply.status, 403);
}

TEST(Rbs, PublishedRsaVectorSignatureByteChangedFails) {
  std::string query = fixture("rsa-sha512-callback.query");
  query.back() = query.back() == 'B' ? 'C' : 'B';
  EXPECT_EQ(statusOf(rsaHandler(fixture("bank-public.pem")).handle(0, get(query), kNowMs)), 403);
  // Not hex at all, odd length, empty.
  std::string base = query.substr(0, query.find("&checksum="));
  auto h = rsaHandler(fixture("bank-public.pem"));
  EXPECT_EQ(statusOf(h.handle(0, get(base + "&checksum=XYZ"), kNowMs)), 403);
  EXPECT_EQ(statusOf(h.handle(0, get(base + "&checksum=ABC"), kNowMs)), 403);
  EXPECT_EQ(statusOf(h.handle(0, get(base + "&checksum="), kNowMs)), 403);
}

TEST(Rbs, SignAliasIsNeitherSignedNorTrustedNorStored) {
  // The published example claims SHA-256 in sign_alias yet verifies only with SHA-512.
  const std::string query = fixture("rsa-sha512-callback.query") + "&sign_alias=SHA-256%20with%20RSA";
  auto v = rsaHandler(fixture("bank-public.pem")).handle(0, get(query), kNowMs);
  auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr) << std::get<Reject>(v).reason;
  EXPECT_EQ(a->event.data_json.find("sign_alias"), std::string::npos);
  EXPECT_EQ(a->event.data_json.find("checksum"), std::string::npos);
  // And with rsa_hash = "sha256" configured, the SHA-512 signature fails whatever sign_alias says.
  EXPECT_EQ(
      statusOf(rsaHandler(fixture("bank-public.pem"), rbs::RsaHash::kSha256).handle(0, get(query), kNowMs)),
      403);
}

// --- RSA keys made for the tests ------------------------------------------------------------------------

constexpr const char* kTestQuery =
    "mdOrder=0a1b2c3d-0000-7c86-bdbc-bd7d00a8b38b&orderNumber=A-17&operation=deposited&status=1&amount=150000"
    "&currency=643&maskedPan=411111**1111";

TEST(Rbs, CertificateFormVerifies) {
  auto h = rsaHandler(fixture("test-cert.pem"));
  EXPECT_EQ(statusOf(h.handle(0, get(rsaSignedQuery(kTestQuery, EVP_sha512())), kNowMs)), 200);
  EXPECT_EQ(statusOf(h.handle(0, get(rsaSignedQuery(kTestQuery, EVP_sha256())), kNowMs)), 403);
}

TEST(Rbs, PublicKeyFormVerifies) {
  auto h = rsaHandler(fixture("test-public.pem"));
  EXPECT_EQ(statusOf(h.handle(0, get(rsaSignedQuery(kTestQuery, EVP_sha512())), kNowMs)), 200);
}

TEST(Rbs, RsaHashSha256IsUsedWhenConfigured) {
  auto h = rsaHandler(fixture("test-cert.pem"), rbs::RsaHash::kSha256);
  EXPECT_EQ(statusOf(h.handle(0, get(rsaSignedQuery(kTestQuery, EVP_sha256())), kNowMs)), 200);
  EXPECT_EQ(statusOf(h.handle(0, get(rsaSignedQuery(kTestQuery, EVP_sha512())), kNowMs)), 403);
  std::string tampered = rsaSignedQuery(kTestQuery, EVP_sha256());
  tampered.replace(tampered.find("amount=150000"), 13, "amount=150001");
  EXPECT_EQ(statusOf(h.handle(0, get(tampered), kNowMs)), 403);
}

TEST(Rbs, AnExpiredCertificateStillCarriesTheKey) {
  auto h = rsaHandler(expiredCertificate());
  EXPECT_EQ(statusOf(h.handle(0, get(rsaSignedQuery(kTestQuery, EVP_sha512())), kNowMs)), 200);
}

TEST(Rbs, SeveralKeysInOneFileAnyVerifies) {
  auto h = rsaHandler(fixture("bank-public.pem") + "\n" + fixture("test-cert.pem"));
  EXPECT_EQ(statusOf(h.handle(0, get(fixture("rsa-sha512-callback.query")), kNowMs)), 200);
  EXPECT_EQ(statusOf(h.handle(0, get(rsaSignedQuery(kTestQuery, EVP_sha512())), kNowMs)), 200);
}

TEST(Rbs, KeyParsingRefusesWhatIsNotAnRsaPublicKey) {
  EXPECT_FALSE(rbs::RsaPublicKeys::parse("").ok());
  EXPECT_FALSE(rbs::RsaPublicKeys::parse("not a key\n").ok());
  auto priv = rbs::RsaPublicKeys::parse(fixture("test-private.pem"));
  ASSERT_FALSE(priv.ok());
  EXPECT_NE(priv.error().message.find("private key"), std::string::npos) << priv.error().message;
  // No key material is quoted back.
  EXPECT_EQ(priv.error().message.find("MII"), std::string::npos);
  std::string broken = fixture("test-public.pem");
  broken.replace(broken.find("MII"), 3, "M!I");
  EXPECT_FALSE(rbs::RsaPublicKeys::parse(broken).ok());
  std::string truncated = fixture("test-public.pem");
  truncated.resize(truncated.find("-----END"));
  EXPECT_FALSE(rbs::RsaPublicKeys::parse(truncated).ok());
  // An EC key is not what the bank signs with.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ec(EVP_EC_gen("P-256"), EVP_PKEY_free);
  ASSERT_TRUE(ec);
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(out.get(), ec.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(out.get(), &data);
  auto ec_keys = rbs::RsaPublicKeys::parse(std::string(data, static_cast<size_t>(len)));
  ASSERT_FALSE(ec_keys.ok());
  EXPECT_NE(ec_keys.error().message.find("not an RSA key"), std::string::npos) << ec_keys.error().message;
  // A PEM without a final newline is fine.
  std::string no_newline = fixture("test-public.pem");
  while (no_newline.back() == '\n') no_newline.pop_back();
  auto ok = rbs::RsaPublicKeys::parse(no_newline);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->size(), 1u);
}

// --- The factory ----------------------------------------------------------------------------------------

config::RouteConfig route(const std::string& checksum) {
  config::RouteConfig r;
  r.name = "bank";
  r.provider = "rbs";
  r.path = "/rbs";
  auto settings = std::make_shared<rbs::Settings>();
  settings->checksum = checksum;
  r.settings = settings;
  return r;
}

// The settings route() made, to change between factory calls (created non-const, so the cast is sound).
rbs::Settings& settingsOf(config::RouteConfig& r) {
  return const_cast<rbs::Settings&>(*r.settingsAs<rbs::Settings>());
}

TEST(Rbs, FactoryParsesTheKeyOnceAndNamesTheKeyOnErrors) {
  auto r = route("rsa");
  settingsOf(r).public_key = fixture("bank-public.pem");
  auto h = makeRbsHandler(r);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(statusOf((*h)->handle(0, get(fixture("rsa-sha512-callback.query")), kNowMs)), 200);
  ASSERT_EQ((*h)->endpoints().size(), 1u);
  EXPECT_EQ((*h)->endpoints()[0].suffix, "/callback");
  EXPECT_EQ((*h)->endpoints()[0].methods, (std::vector<std::string>{"GET", "POST"}));

  settingsOf(r).rsa_hash = "sha256";
  ASSERT_TRUE(makeRbsHandler(r).ok());
  EXPECT_EQ(statusOf((*makeRbsHandler(r))->handle(0, get(fixture("rsa-sha512-callback.query")), kNowMs)),
            403);

  settingsOf(r).public_key = fixture("test-private.pem");
  auto bad = makeRbsHandler(r);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("public_key_file: ", 0), 0u) << bad.error().message;

  auto hmac = route("hmac-sha256");
  EXPECT_EQ(makeRbsHandler(hmac).error().message.rfind("secret_file: ", 0), 0u);
  settingsOf(hmac).secret.emplace_back(std::string(kToken));
  auto hh = makeRbsHandler(hmac);
  ASSERT_TRUE(hh.ok());
  EXPECT_EQ(statusOf((*hh)->handle(0, get(std::string(kHmacQuery) + "&checksum=" + kHmacChecksum), kNowMs)),
            200);

  EXPECT_TRUE(makeRbsHandler(route("none")).ok());
  EXPECT_FALSE(makeRbsHandler(route("md5")).ok());
}

TEST(Rbs, FactoryPassesOwnParamsAndCurrency) {
  auto r = route("hmac-sha256");
  settingsOf(r).secret.emplace_back(std::string(kToken));
  settingsOf(r).own_params = {"shop"};
  settingsOf(r).currency = "KZT";
  auto h = makeRbsHandler(r);
  ASSERT_TRUE(h.ok()) << h.error().message;
  auto v = (*h)->handle(0, get("shop=42&" + std::string(kHmacQuery) + "&checksum=" + kHmacChecksum), kNowMs);
  auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr) << std::get<Reject>(v).reason;
  auto data = nlohmann::json::parse(a->event.data_json);
  EXPECT_EQ(data["unsigned"]["shop_params"]["shop"], "42");
  EXPECT_EQ(data["payment"]["currency"], "KZT");
}

// --- Transport: GET, POST, and what is refused ----------------------------------------------------------

TEST(Rbs, PostFormBodyIsTheSameAsTheQuery) {
  auto h = hmacHandler();
  const std::string pairs = std::string(kHmacQuery) + "&checksum=" + kHmacChecksum;
  auto v = h.handle(0, post(pairs), kNowMs);
  auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr) << std::get<Reject>(v).reason;
  EXPECT_EQ(a->event.idempotency_key, "06cf5599-3f17-7c86-bdbc-bd7d00a8b38b:approved:1");
  EXPECT_EQ(statusOf(h.handle(0, post(pairs, "Application/X-WWW-Form-Urlencoded; charset=UTF-8"), kNowMs)),
            200);
  EXPECT_EQ(statusOf(h.handle(0, post(pairs, ""), kNowMs)), 200);  // no content-type at all
}

TEST(Rbs, PostWithAnotherContentTypeIs400) {
  const std::string pairs = std::string(kHmacQuery) + "&checksum=" + kHmacChecksum;
  auto v = hmacHandler().handle(0, post(pairs, "application/json"), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Reject>(v));
  EXPECT_EQ(std::get<Reject>(v).reply.status, 400);
  EXPECT_EQ(std::get<Reject>(v).outcome, "malformed");
}

TEST(Rbs, PercentEncodedValuesAreSignedDecoded) {
  auto form =
      Form::parse("mdOrder=m-1&operation=deposited&status=1&description=Order%205%3A%20%2Btea&x=a%3Bb");
  ASSERT_TRUE(form.ok());
  EXPECT_EQ(rbs::signedString(*form),
            "description;Order 5: +tea;mdOrder;m-1;operation;deposited;status;1;x;a;b;");
  const std::string sum = hmacSha256Hex(Secret(kToken), rbs::signedString(*form), HexCase::kUpper);
  auto v = hmacHandler().handle(
      0,
      get("mdOrder=m-1&operation=deposited&status=1&description=Order+5%3A+%2Btea&x=a%3Bb&checksum=" + sum),
      kNowMs);
  auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr) << std::get<Reject>(v).reason;
  auto data = nlohmann::json::parse(a->event.data_json);
  EXPECT_EQ(data["description"], "Order 5: +tea");
  EXPECT_EQ(data["x"], "a;b");
}

TEST(Rbs, SignedStringSortsByBytes) {
  auto form = Form::parse("b=2&a=1&B=3&_=4&checksum=X&sign_alias=Y&%C3%A9=5");
  ASSERT_TRUE(form.ok());
  EXPECT_EQ(rbs::signedString(*form), "B;3;_;4;a;1;b;2;\xC3\xA9;5;");
}

TEST(Rbs, MissingRequiredParametersAre400) {
  auto h = hmacHandler();
  for (const char* q : {"operation=approved&status=1", "mdOrder=x&status=1", "mdOrder=x&operation=approved",
                        "mdOrder=&operation=approved&status=1", "mdOrder=x&operation=&status=1",
                        "mdOrder=x&operation=approved&status=", "mdOrder&operation=approved&status=1", ""}) {
    auto v = h.handle(0, get(std::string(q) + (std::string(q).empty() ? "" : "&checksum=00")), kNowMs);
    ASSERT_TRUE(std::holds_alternative<Reject>(v)) << q;
    EXPECT_EQ(std::get<Reject>(v).reply.status, 400) << q;
    EXPECT_EQ(std::get<Reject>(v).reply.body, "mdOrder, operation and status are required\n") << q;
  }
  EXPECT_EQ(statusOf(h.handle(0, post(""), kNowMs)), 400);
}

TEST(Rbs, RepeatedOrMalformedParametersAre400) {
  auto h = hmacHandler();
  EXPECT_EQ(
      statusOf(h.handle(0, get(std::string(kHmacQuery) + "&status=0&checksum=" + kHmacChecksum), kNowMs)),
      400);
  EXPECT_EQ(statusOf(h.handle(0, get(std::string(kHmacQuery) + "&checksum=" + kHmacChecksum + "&checksum=00"),
                              kNowMs)),
            400);
  EXPECT_EQ(statusOf(h.handle(0, get(std::string(kHmacQuery) + "&x=%zz&checksum=" + kHmacChecksum), kNowMs)),
            400);
}

TEST(Rbs, OperationMustBeAWordAndStatusAlphanumeric) {
  auto h = hmacHandler();
  for (const char* op : {"approved.x", "appr%20oved", "deposited2", "a:b", "%D0%B0"}) {
    const std::string q = "mdOrder=m&operation=" + std::string(op) + "&status=1";
    EXPECT_EQ(statusOf(h.handle(0, get(signedQuery(q)), kNowMs)), 400) << op;
  }
  EXPECT_EQ(statusOf(h.handle(
                0, get(signedQuery("mdOrder=m&operation=" + std::string(65, 'a') + "&status=1")), kNowMs)),
            400);
  EXPECT_EQ(statusOf(h.handle(0, get(signedQuery("mdOrder=m&operation=deposited&status=1:2")), kNowMs)), 400);
  // An operation the documentation does not list is still an event.
  auto v = h.handle(0, get(signedQuery("mdOrder=m&operation=somethingNew&status=0")), kNowMs);
  auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->event.type, "rbs.somethingNew");
  EXPECT_EQ(a->event.idempotency_key, "m:somethingNew:0");
}

TEST(Rbs, IdempotencyKeyReadsBackFromTheRightEvenWhenMdOrderHasColons) {
  auto v = hmacHandler().handle(0, get(signedQuery("mdOrder=a:b:c&operation=refunded&status=1")), kNowMs);
  auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->event.idempotency_key, "a:b:c:refunded:1");
  EXPECT_EQ(a->event.type, "rbs.refunded");
}

TEST(Rbs, ChecksumPresenceMustMatchTheMode) {
  // hmac route, no checksum: 403.
  auto v = hmacHandler().handle(0, get(kHmacQuery), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Reject>(v));
  EXPECT_EQ(std::get<Reject>(v).reply.status, 403);
  EXPECT_EQ(statusOf(rsaHandler(fixture("bank-public.pem")).handle(0, get(kHmacQuery), kNowMs)), 403);
  // none route with a checksum: 403.
  EXPECT_EQ(
      statusOf(noneHandler().handle(0, get(std::string(kHmacQuery) + "&checksum=" + kHmacChecksum), kNowMs)),
      403);
  // none route without one: stored, marked unverified.
  auto n = noneHandler().handle(0, get(kHmacQuery), kNowMs);
  auto* a = std::get_if<Accept>(&n);
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(a->event.verified);
  EXPECT_EQ(a->ack.body, "OK");
  EXPECT_EQ(a->event.idempotency_key, "06cf5599-3f17-7c86-bdbc-bd7d00a8b38b:approved:1");
}

TEST(Rbs, DataIsSnakeCaseWithEveryFieldKept) {
  const std::string q =
      "mdOrder=m-9&orderNumber=77&operation=deposited&status=1&amount=0000150&callbackCreationDate=Mon+Jan+31"
      "&approvalCode=123456&bindingId=b-1&clientId=c-1&maskedPan=411111**1111&depositedAmount=150"
      "&refundedAmount=0&paymentState=DEPOSITED&actionCode=0&currency=643&my_param=x&customerIP=1.2.3.4"
      "&sign_alias=SHA-256";
  auto v = hmacHandler().handle(0, get(signedQuery(q)), kNowMs);
  auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr) << std::get<Reject>(v).reason;
  EXPECT_EQ(
      withoutPayment(a->event.data_json),
      R"({"action_code":"0","amount":"0000150","approval_code":"123456","binding_id":"b-1",)"
      R"("callback_creation_date":"Mon Jan 31","client_id":"c-1","currency":"643","customer_ip":"1.2.3.4",)"
      R"("deposited_amount":"150","masked_pan":"411111**1111","md_order":"m-9","my_param":"x",)"
      R"("operation":"deposited","order_number":"77","payment_state":"DEPOSITED","refunded_amount":"0",)"
      R"("status":"1"})");
}

TEST(Rbs, NamesThatMeetInOneSnakeCaseNameAre400) {
  auto v =
      hmacHandler().handle(0, get(signedQuery("mdOrder=m&md_order=n&operation=deposited&status=1")), kNowMs);
  ASSERT_TRUE(std::holds_alternative<Reject>(v));
  EXPECT_EQ(std::get<Reject>(v).reply.status, 400);
}

TEST(Rbs, NamesThatWouldBeStoredAsChecksumOrSignAliasAre400) {
  auto h = hmacHandler();
  EXPECT_EQ(
      statusOf(h.handle(0, get(signedQuery("mdOrder=m&operation=deposited&status=1&Checksum=1")), kNowMs)),
      400);
  EXPECT_EQ(
      statusOf(h.handle(0, get(signedQuery("mdOrder=m&operation=deposited&status=1&sign_Alias=x")), kNowMs)),
      400);
}

TEST(Rbs, BytesThatAreNotUtf8StayJson) {
  auto v =
      hmacHandler().handle(0, get(signedQuery("mdOrder=m&operation=deposited&status=1&note=%FF%FE")), kNowMs);
  auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(nlohmann::json::parse(a->event.data_json).is_object());
}

TEST(Rbs, SnakeCase) {
  EXPECT_EQ(rbs::snakeCase("mdOrder"), "md_order");
  EXPECT_EQ(rbs::snakeCase("orderNumber"), "order_number");
  EXPECT_EQ(rbs::snakeCase("callbackCreationDate"), "callback_creation_date");
  EXPECT_EQ(rbs::snakeCase("maskedPAN"), "masked_pan");
  EXPECT_EQ(rbs::snakeCase("PANCode"), "pan_code");
  EXPECT_EQ(rbs::snakeCase("sign_alias"), "sign_alias");
  EXPECT_EQ(rbs::snakeCase("param2Value"), "param2_value");
  EXPECT_EQ(rbs::snakeCase("Amount"), "amount");
  EXPECT_EQ(rbs::snakeCase("a_B"), "a_b");
  EXPECT_EQ(rbs::snakeCase("x-Custom"), "x-custom");
  EXPECT_EQ(rbs::snakeCase(""), "");
}

TEST(Rbs, ReasonsAndRepliesNeverCarryTheToken) {
  auto v = hmacHandler().handle(0, get(std::string(kHmacQuery) + "&checksum=00"), kNowMs);
  const auto& r = std::get<Reject>(v);
  EXPECT_EQ(r.reason.find(kToken), std::string::npos);
  EXPECT_EQ(r.reply.body.find(kToken), std::string::npos);
}

}  // namespace
}  // namespace payhook::handlers

namespace payhook::handlers {
namespace {

std::string keyOf(const Verdict& v) {
  return std::holds_alternative<Accept>(v) ? std::get<Accept>(v).event.idempotency_key : std::string();
}

TEST(RbsReview, TwoPartialRefundsOfOneOrderAreTwoEvents) {
  auto h = hmacHandler();
  auto first = h.handle(0, get(signedQuery("mdOrder=M1&operation=refunded&status=1&refundedAmount=100")), 0);
  auto second = h.handle(0, get(signedQuery("mdOrder=M1&operation=refunded&status=1&refundedAmount=250")), 0);
  ASSERT_EQ(statusOf(first), 200);
  ASSERT_EQ(statusOf(second), 200);
  EXPECT_NE(keyOf(first), keyOf(second));
  // The bank's retry of one callback is still one event.
  auto retry = h.handle(0, get(signedQuery("mdOrder=M1&operation=refunded&status=1&refundedAmount=100")), 0);
  EXPECT_EQ(keyOf(first), keyOf(retry));
  EXPECT_EQ(keyOf(first), "M1:refunded:1:100");
  // An amount that is not digits has its ':' (and '%') escaped in the key, so the key still reads back
  // from the right (operation and status never hold ':').
  auto odd =
      h.handle(0, get(signedQuery("mdOrder=M1&operation=refunded&status=1&refundedAmount=x%3A1%25")), 0);
  EXPECT_EQ(keyOf(odd), "M1:refunded:1:x%3A1%25");
}

TEST(RbsReview, SemicolonsCannotMoveFieldBoundaries) {
  auto h = hmacHandler();
  // Both would sign exactly like "amount=935000&approvalCode=ABC123".
  EXPECT_EQ(
      statusOf(h.handle(
          0,
          get(signedQuery("mdOrder=M1&operation=deposited&status=1&amount%3B935000%3BapprovalCode=ABC123")),
          0)),
      400);
  EXPECT_EQ(
      statusOf(h.handle(
          0,
          get(signedQuery("mdOrder=M1&operation=deposited&status=1&amount=935000%3BapprovalCode%3BABC123")),
          0)),
      400);
  EXPECT_EQ(
      statusOf(h.handle(
          0, get(signedQuery("mdOrder=M1&operation=deposited&status=1&amount=935000&approvalCode=ABC123")),
          0)),
      200);
}

}  // namespace
}  // namespace payhook::handlers

// --- data.payment, the shop's own parameters, what is accepted, and ';' in the signed string ------------

namespace payhook::handlers {
namespace {

RbsHandler hmacHandlerWith(std::vector<std::string> own_params, std::string currency = "RUB") {
  RbsHandler::Options o;
  o.route = "bank";
  o.checksum = rbs::Checksum::kHmacSha256;
  o.tokens.emplace_back(std::string(kToken));
  o.own_params = std::move(own_params);
  o.currency = std::move(currency);
  return RbsHandler(std::move(o));
}

// The accepted event's data, or a failure naming the refusal.
nlohmann::json dataOf(const Verdict& v) {
  const auto* a = std::get_if<Accept>(&v);
  EXPECT_NE(a, nullptr) << (std::holds_alternative<Reject>(v) ? std::get<Reject>(v).reason : "");
  return a ? nlohmann::json::parse(a->event.data_json) : nlohmann::json();
}

nlohmann::json paymentOf(const RbsHandler& h, const std::string& pairs) {
  return dataOf(h.handle(0, get(signedQuery(pairs)), kNowMs))["payment"];
}

const Reject* rejectOf(const Verdict& v) {
  return std::get_if<Reject>(&v);
}

TEST(RbsPayment, OutcomeFollowsOperationAndStatus) {
  struct Row {
    const char* operation;
    const char* status;
    const char* outcome;
    std::vector<std::string> warnings;
  };
  const std::vector<Row> rows = {
      {"approved", "1", "held", {}},
      {"approved", "0", "failed", {}},
      {"deposited", "1", "succeeded", {}},
      {"deposited", "0", "failed", {}},
      {"reversed", "1", "reversed", {}},
      {"reversed", "0", "pending", {"operation_failed"}},
      {"refunded", "1", "refunded", {}},
      {"refunded", "0", "pending", {"operation_failed"}},
      {"declinedByTimeout", "1", "failed", {}},
      {"declinedByTimeout", "0", "pending", {}},
      {"declinedCardPresent", "1", "failed", {}},
      {"declinedCardPresent", "0", "pending", {}},
      {"bindingCreated", "1", "pending", {}},
      {"bindingCreated", "0", "pending", {}},
      {"somethingNew", "1", "pending", {}},
      // A status other than "1" or "0" settles nothing.
      {"deposited", "2", "pending", {}},
      {"deposited", "01", "pending", {}},
      {"approved", "A", "pending", {}},
      {"refunded", "X", "pending", {}},
  };
  auto h = hmacHandler();
  for (const auto& row : rows) {
    const std::string q = std::string("mdOrder=M-1&orderNumber=77&operation=") + row.operation +
                          "&status=" + row.status + "&amount=150000";
    auto v = h.handle(0, get(signedQuery(q)), kNowMs);
    const auto* a = std::get_if<Accept>(&v);
    ASSERT_NE(a, nullptr) << q;
    // The type and the provider's fields are what they always were.
    EXPECT_EQ(a->event.type, std::string("rbs.") + row.operation);
    EXPECT_EQ(withoutPayment(a->event.data_json),
              std::string(R"({"amount":"150000","md_order":"M-1","operation":")") + row.operation +
                  R"(","order_number":"77","status":")" + row.status + R"("})");
    const auto payment = nlohmann::json::parse(a->event.data_json)["payment"];
    EXPECT_EQ(payment["outcome"], row.outcome) << q;
    EXPECT_EQ(payment["warnings"], nlohmann::json(row.warnings)) << q;
  }
}

TEST(RbsPayment, AFailedDepositIsNeverSucceeded) {
  const auto p =
      paymentOf(hmacHandler(), "mdOrder=M-1&orderNumber=77&operation=deposited&status=0&amount=150000");
  EXPECT_EQ(p, nlohmann::json::parse(R"({"outcome":"failed","amount":"1500.00","amount_minor":150000,)"
                                     R"("currency":"RUB","order_id":"77","provider_payment_id":"M-1",)"
                                     R"("test":false,"warnings":[],"unsigned":[]})"));
}

TEST(RbsPayment, CurrencyFromTheCallbackElseTheRoute) {
  const std::string base = "mdOrder=M-1&operation=deposited&status=1&amount=150000";
  // No currency in the callback: the route's (default RUB).
  auto p = paymentOf(hmacHandler(), base);
  EXPECT_EQ(p["currency"], "RUB");
  EXPECT_EQ(p["amount"], "1500.00");
  EXPECT_EQ(p["amount_minor"], 150000);
  p = paymentOf(hmacHandlerWith({}, "KZT"), base);
  EXPECT_EQ(p["currency"], "KZT");
  EXPECT_EQ(p["amount"], "1500.00");
  // The callback's currency wins, numeric or letters, in either case.
  for (const auto& [code, alpha] : std::vector<std::pair<std::string, std::string>>{
           {"643", "RUB"}, {"398", "KZT"}, {"840", "USD"}, {"RUB", "RUB"}, {"usd", "USD"}}) {
    p = paymentOf(hmacHandlerWith({}, "KZT"), base + "&currency=" + code);
    EXPECT_EQ(p["currency"], alpha) << code;
    EXPECT_EQ(p["amount"], "1500.00") << code;
    EXPECT_EQ(p["amount_minor"], 150000) << code;
  }
  // A currency without minor units.
  p = paymentOf(hmacHandler(), "mdOrder=M-1&operation=deposited&status=1&amount=500&currency=392");
  EXPECT_EQ(p["currency"], "JPY");
  EXPECT_EQ(p["amount"], "500");
  EXPECT_EQ(p["amount_minor"], 500);
  // Letters outside payhook's table: known currency, unknown minor digits.
  p = paymentOf(hmacHandler(), base + "&currency=XAU");
  EXPECT_EQ(p["currency"], "XAU");
  EXPECT_EQ(p["amount"], nullptr);
  EXPECT_EQ(p["amount_minor"], 150000);
  // A code money::currencyAlpha cannot read: no currency (not the route's), the amount in minor units only.
  for (const std::string code : {"999", "", "RUBL", "R1B", "6430"}) {
    p = paymentOf(hmacHandler(), base + "&currency=" + code);
    EXPECT_EQ(p["currency"], nullptr) << code;
    EXPECT_EQ(p["amount"], nullptr) << code;
    EXPECT_EQ(p["amount_minor"], 150000) << code;
  }
}

TEST(RbsPayment, AmountIsMinorUnitsWhenDigits) {
  auto h = hmacHandler();
  auto p = paymentOf(h, "mdOrder=M-1&operation=deposited&status=1&amount=0000150");
  EXPECT_EQ(p["amount"], "1.50");
  EXPECT_EQ(p["amount_minor"], 150);
  p = paymentOf(h, "mdOrder=M-1&operation=deposited&status=1&amount=0");
  EXPECT_EQ(p["amount"], "0.00");
  EXPECT_EQ(p["amount_minor"], 0);
  // Absent, empty, not digits, too long for int64: no amount at all, and the callback is still accepted.
  for (const std::string tail :
       {"", "&amount=", "&amount=12.50", "&amount=-5", "&amount=1e3", "&amount=1234567890123456789"}) {
    p = paymentOf(h, "mdOrder=M-1&operation=deposited&status=1" + tail);
    EXPECT_EQ(p["amount"], nullptr) << tail;
    EXPECT_EQ(p["amount_minor"], nullptr) << tail;
    EXPECT_EQ(p["outcome"], "succeeded") << tail;
  }
  // The ids: order_id is the shop's orderNumber (null without one), provider_payment_id the bank's mdOrder.
  p = paymentOf(h, "mdOrder=M-1&operation=deposited&status=1");
  EXPECT_EQ(p["order_id"], nullptr);
  EXPECT_EQ(p["provider_payment_id"], "M-1");
  EXPECT_EQ(p["test"], false);
}

TEST(RbsAccepts, LetterCurrencyEmptyAmountAndNonDigitAmountsAreSignedInput) {
  auto h = hmacHandler();
  for (const std::string tail : {"&currency=RUB", "&amount=", "&amount=12.50", "&depositedAmount=abc",
                                 "&refundedAmount=1%2C5", "&currency=", "&amount=150000&currency=rub"}) {
    const std::string q = "mdOrder=M-1&orderNumber=7&operation=deposited&status=1" + tail;
    auto v = h.handle(0, get(signedQuery(q)), kNowMs);
    EXPECT_EQ(statusOf(v), 200) << tail;
  }
  // As sent in data, whatever payment makes of them.
  auto data = dataOf(h.handle(
      0, get(signedQuery("mdOrder=M-1&operation=refunded&status=1&amount=&refundedAmount=1.5&currency=RUB")),
      kNowMs));
  EXPECT_EQ(data["amount"], "");
  EXPECT_EQ(data["refunded_amount"], "1.5");
  EXPECT_EQ(data["currency"], "RUB");
  EXPECT_EQ(data["payment"]["amount"], nullptr);
  EXPECT_EQ(data["payment"]["currency"], "RUB");
  // A forgery of them is still a forgery.
  std::string forged = signedQuery("mdOrder=M-1&operation=deposited&status=1&amount=12.50");
  forged.replace(forged.find("12.50"), 5, "99.50");
  EXPECT_EQ(statusOf(h.handle(0, get(forged), kNowMs)), 403);
}

TEST(RbsAccepts, ParameterNamesOfAnyCharacterAreSignedLikeAnyOther) {
  auto h = hmacHandler();
  const std::string q =
      "mdOrder=M-1&operation=deposited&status=1&customer+IP=1.2.3.4&items%5B0%5D=tea&%D0%BA%D0%BB%D1%8E%D1%"
      "87=v"
      "&a%3Ab=c&x%26y=z";
  auto v = h.handle(0, get(signedQuery(q)), kNowMs);
  auto data = dataOf(v);
  EXPECT_EQ(data[rbs::snakeCase("customer IP")], "1.2.3.4");
  EXPECT_EQ(data["items[0]"], "tea");
  EXPECT_EQ(data["\xD0\xBA\xD0\xBB\xD1\x8E\xD1\x87"], "v");
  EXPECT_EQ(data["a:b"], "c");
  EXPECT_EQ(data["x&y"], "z");
  // Still covered by the checksum.
  std::string forged = signedQuery(q);
  forged.replace(forged.find("items%5B0%5D"), 12, "items%5B1%5D");
  EXPECT_EQ(statusOf(h.handle(0, get(forged), kNowMs)), 403);
  // Bytes that are not UTF-8, or a NUL, in a name: still signed, still JSON.
  auto odd = dataOf(
      h.handle(0, get(signedQuery("mdOrder=M-1&operation=deposited&status=1&n%FFme=1&na%00me=2")), kNowMs));
  EXPECT_EQ(odd["payment"]["outcome"], "succeeded");
  EXPECT_EQ(odd[std::string("na\0me", 5)], "2");
  // The collision checks stay.
  EXPECT_EQ(
      statusOf(h.handle(0, get(signedQuery("mdOrder=M-1&operation=deposited&status=1&a+B=1&a+b=2")), kNowMs)),
      400);
  // An empty name is no parameter.
  EXPECT_EQ(statusOf(h.handle(0, get(signedQuery("mdOrder=M-1&operation=deposited&status=1&=x")), kNowMs)),
            400);
}

TEST(RbsAccepts, NamesStoredAsPaymentOrUnsignedAreRefused) {
  // They would overwrite, or be taken for, the normalised payment or the fields the bank does not sign.
  auto h = hmacHandler();
  for (const char* name : {"payment", "Payment", "unsigned", "Unsigned"}) {
    auto v = h.handle(
        0, get(signedQuery(std::string("mdOrder=M-1&operation=deposited&status=1&") + name + "=x")), kNowMs);
    ASSERT_NE(rejectOf(v), nullptr) << name;
    EXPECT_EQ(rejectOf(v)->reply.status, 400) << name;
    EXPECT_EQ(rejectOf(v)->outcome, "malformed") << name;
  }
}

// --- The shop's own parameters --------------------------------------------------------------------------

TEST(RbsOwnParams, OnGetTheListedPairsAreLeftOutOfTheSignedString) {
  auto h = hmacHandlerWith({"shop", "utm"});
  // The bank signs its own pairs only: the published vector, with the shop's parameters around it.
  const std::string query = "shop=42&" + std::string(kHmacQuery) + "&utm=a%3Bb&checksum=" + kHmacChecksum;
  auto v = h.handle(0, get(query), kNowMs);
  auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr) << std::get<Reject>(v).reason;
  EXPECT_EQ(a->event.idempotency_key, "06cf5599-3f17-7c86-bdbc-bd7d00a8b38b:approved:1");
  auto data = nlohmann::json::parse(a->event.data_json);
  EXPECT_EQ(data["unsigned"]["shop_params"], nlohmann::json::parse(R"({"shop":"42","utm":"a;b"})"));
  EXPECT_FALSE(data.contains("shop"));
  EXPECT_FALSE(data.contains("utm"));
  data["unsigned"].erase("shop_params");
  EXPECT_EQ(withoutPayment(data.dump()), R"({"md_order":"06cf5599-3f17-7c86-bdbc-bd7d00a8b38b",)"
                                         R"("operation":"approved","order_number":"2003","status":"1"})");
  // Absent own parameters: no shop_params at all.
  auto plain = dataOf(h.handle(0, get(std::string(kHmacQuery) + "&checksum=" + kHmacChecksum), kNowMs));
  EXPECT_FALSE(plain["unsigned"].contains("shop_params"));
  // A checksum over the shop's parameters too does not verify: the bank never signs them.
  EXPECT_EQ(statusOf(h.handle(0, get(signedQuery("shop=42&" + std::string(kHmacQuery))), kNowMs)), 403);
  // A parameter the route does not list is the bank's, and signed.
  EXPECT_EQ(statusOf(hmacHandler().handle(0, get(query), kNowMs)), 403);
  EXPECT_EQ(
      statusOf(h.handle(0, get("other=1&" + std::string(kHmacQuery) + "&checksum=" + kHmacChecksum), kNowMs)),
      403);
}

TEST(RbsOwnParams, OnPostEveryQueryPairIsTheShopsAndNeverSigned) {
  // No own_params needed: the body is the bank's, the query the shop's URL.
  auto h = hmacHandler();
  auto r = post(signedQuery("mdOrder=M-1&orderNumber=7&operation=deposited&status=0&amount=150000"));
  r.query = "shop=42&amount=1&mdOrder=forged&checksum=x";
  auto v = h.handle(0, r, kNowMs);
  auto* a = std::get_if<Accept>(&v);
  ASSERT_NE(a, nullptr) << std::get<Reject>(v).reason;
  EXPECT_EQ(a->event.type, "rbs.deposited");
  EXPECT_EQ(a->event.idempotency_key, "M-1:deposited:0");
  auto data = nlohmann::json::parse(a->event.data_json);
  // Under unsigned.shop_params as sent; never shadowing a signed field.
  EXPECT_EQ(data["unsigned"]["shop_params"],
            nlohmann::json::parse(R"({"shop":"42","amount":"1","mdOrder":"forged","checksum":"x"})"));
  EXPECT_FALSE(data.contains("shop"));
  EXPECT_FALSE(data.contains("checksum"));
  EXPECT_EQ(data["md_order"], "M-1");
  EXPECT_EQ(data["amount"], "150000");
  EXPECT_EQ(data["payment"]["outcome"], "failed");
  EXPECT_EQ(data["payment"]["amount_minor"], 150000);
  EXPECT_EQ(data["payment"]["provider_payment_id"], "M-1");
  // The same signed pairs in both halves: the body is the bank's, the query a copy kept as the shop's.
  r = post(std::string(kHmacQuery) + "&checksum=" + kHmacChecksum);
  r.query = r.body;
  auto copy = dataOf(h.handle(0, r, kNowMs));
  EXPECT_EQ(copy["md_order"], "06cf5599-3f17-7c86-bdbc-bd7d00a8b38b");
  EXPECT_EQ(copy["unsigned"]["shop_params"]["checksum"], kHmacChecksum);
  // The body still carries the signature: a forged body with a genuine query is refused.
  r = post(std::string(kHmacQuery) + "&checksum=" + std::string(64, '0'));
  r.query = std::string(kHmacQuery) + "&checksum=" + kHmacChecksum;
  EXPECT_EQ(statusOf(h.handle(0, r, kNowMs)), 403);
  // A query that cannot be read is malformed.
  r = post(std::string(kHmacQuery) + "&checksum=" + kHmacChecksum);
  r.query = "shop=%zz";
  EXPECT_EQ(statusOf(h.handle(0, r, kNowMs)), 400);
}

TEST(RbsOwnParams, PostWithAnEmptyBodyIsReadLikeGet) {
  auto h = hmacHandlerWith({"shop"});
  http::Request r = post("", "");
  r.query = "shop=42&" + std::string(kHmacQuery) + "&checksum=" + kHmacChecksum;
  auto data = dataOf(h.handle(0, r, kNowMs));
  EXPECT_EQ(data["unsigned"]["shop_params"], nlohmann::json::parse(R"({"shop":"42"})"));
  EXPECT_EQ(data["md_order"], "06cf5599-3f17-7c86-bdbc-bd7d00a8b38b");
  EXPECT_EQ(statusOf(hmacHandler().handle(0, r, kNowMs)), 403);
}

TEST(RbsOwnParams, OwnParamsNeverSupplyTheBanksFields) {
  // A body pair named in own_params is the bank's (signed) and stays at the top level.
  auto h = hmacHandlerWith({"shop"});
  auto v = h.handle(0, post(signedQuery("mdOrder=M-1&operation=deposited&status=1&shop=9")), kNowMs);
  auto data = dataOf(v);
  EXPECT_EQ(data["shop"], "9");
  EXPECT_FALSE(data["unsigned"].contains("shop_params"));
  // Required fields come from the bank's pairs only.
  http::Request r = post(signedQuery("orderNumber=7&operation=deposited&status=1"));
  r.query = "mdOrder=M-1";
  EXPECT_EQ(statusOf(h.handle(0, r, kNowMs)), 400);
}

// --- ';' in the signed string ---------------------------------------------------------------------------

constexpr const char* kDocumented[] = {"mdOrder",      "orderNumber", "operation",           "status",
                                       "amount",       "currency",    "approvalCode",        "bindingId",
                                       "clientId",     "maskedPan",   "depositedAmount",     "refundedAmount",
                                       "paymentState", "actionCode",  "callbackCreationDate"};

TEST(RbsSemicolon, ANameWithASemicolonIs400) {
  auto v =
      hmacHandler().handle(0, get(signedQuery("mdOrder=M-1&operation=deposited&status=1&a%3Bb=c")), kNowMs);
  ASSERT_NE(rejectOf(v), nullptr);
  EXPECT_EQ(rejectOf(v)->reply.status, 400);
  EXPECT_EQ(rejectOf(v)->outcome, "malformed");
}

TEST(RbsSemicolon, ADocumentedFieldWithASemicolonIs400) {
  auto h = hmacHandler();
  for (const std::string name : kDocumented) {
    std::map<std::string, std::string> pairs = {
        {"mdOrder", "M-1"}, {"operation", "deposited"}, {"status", "1"}};
    pairs[name] = "12%3B34";
    std::string q;
    for (const auto& [n, value] : pairs) q += (q.empty() ? "" : "&") + n + "=" + value;
    auto v = h.handle(0, get(signedQuery(q)), kNowMs);
    ASSERT_NE(rejectOf(v), nullptr) << name;
    EXPECT_EQ(rejectOf(v)->reply.status, 400) << name;
    EXPECT_EQ(rejectOf(v)->outcome, "malformed") << name;
  }
}

TEST(RbsSemicolon, AValueThatWouldCutADocumentedFieldIs400) {
  auto h = hmacHandler();
  for (const std::string value :
       {"x%3Bamount%3B5", "%3BmdOrder%3B", "a%3BcallbackCreationDate%3Bb", "x%3BorderNumber%3Bz%3Bq"}) {
    auto v = h.handle(0, get(signedQuery("mdOrder=M-1&operation=deposited&status=1&description=" + value)),
                      kNowMs);
    ASSERT_NE(rejectOf(v), nullptr) << value;
    EXPECT_EQ(rejectOf(v)->reply.status, 400) << value;
  }
}

TEST(RbsSemicolon, AMergedAmountIsRefusedEvenWithAValidChecksum) {
  // The bank signed "a;1;amount;100;mdOrder;M-1;operation;deposited;status;1;". A forger moves "amount;100"
  // into the value before it: the same string, so the same checksum, and the amount gone.
  const std::string genuine = signedQuery("a=1&amount=100&mdOrder=M-1&operation=deposited&status=1");
  const std::string checksum = genuine.substr(genuine.find("checksum="));
  const std::string forged = "a=1%3Bamount%3B100&mdOrder=M-1&operation=deposited&status=1&" + checksum;
  ASSERT_EQ(rbs::signedString(*Form::parse(forged)), rbs::signedString(*Form::parse(genuine)));
  EXPECT_EQ(statusOf(hmacHandler().handle(0, get(genuine), kNowMs)), 200);
  EXPECT_EQ(statusOf(hmacHandler().handle(0, get(forged), kNowMs)), 400);
}

TEST(RbsSemicolon, ADocumentedNameAtAValuesEdgeIsACutToo) {
  // The bank signed "0;x;amount;100;b;y;mdOrder;M-1;...". Re-cut as 0="x;amount", 100="b;y": the same
  // string and checksum, the amount gone, and no value holds ";amount;" itself: the value is read between
  // the ';' that delimit it in the signed string.
  const std::string genuine = signedQuery("0=x&amount=100&b=y&mdOrder=M-1&operation=deposited&status=1");
  const std::string checksum = genuine.substr(genuine.find("checksum="));
  const std::string forged = "0=x%3Bamount&100=b%3By&mdOrder=M-1&operation=deposited&status=1&" + checksum;
  ASSERT_EQ(rbs::signedString(*Form::parse(forged)), rbs::signedString(*Form::parse(genuine)));
  EXPECT_EQ(statusOf(hmacHandler().handle(0, get(genuine), kNowMs)), 200);
  EXPECT_EQ(statusOf(hmacHandler().handle(0, get(forged), kNowMs)), 400);
  // At the start of a value, and a whole value once another value holds a ';'.
  auto h = hmacHandler();
  EXPECT_EQ(statusOf(h.handle(0, get(signedQuery("mdOrder=M-1&operation=deposited&status=1&d=amount%3Bx")),
                              kNowMs)),
            400);
  EXPECT_EQ(statusOf(h.handle(
                0, get(signedQuery("mdOrder=M-1&operation=deposited&status=1&d=a%3Bb&e=amount")), kNowMs)),
            400);
}

TEST(RbsSemicolon, OtherSemicolonsAreAccepted) {
  auto h = hmacHandler();
  for (const std::string tail :
       {"&description=a%3Bb", "&note=1%3B2%3B3", "&x=%3B", "&x=%3B%3B", "&x=amounts%3Bfoo", "&x=amount"}) {
    auto v = h.handle(0, get(signedQuery("mdOrder=M-1&operation=deposited&status=1" + tail)), kNowMs);
    EXPECT_EQ(statusOf(v), 200) << tail;
  }
  // The shop's own parameters are never signed, so a ';' there moves nothing.
  auto own = hmacHandlerWith({"shop"});
  EXPECT_EQ(
      statusOf(own.handle(
          0, get("shop=x%3Bamount%3B5&" + signedQuery("mdOrder=M-1&operation=deposited&status=1")), kNowMs)),
      200);
  auto r = post(signedQuery("mdOrder=M-1&operation=deposited&status=1"));
  r.query = "a%3Bb=x%3Bstatus%3B0";
  EXPECT_EQ(statusOf(h.handle(0, r, kNowMs)), 200);
}

}  // namespace
}  // namespace payhook::handlers
