// The JSON documents of the operator's results: what `payhookctl --json` prints and the admin API v1
// answers, so scripts see one shape whichever they use. Times are ISO 8601 UTC text; absent ones are left
// out (or null where a reader expects the key). Stored JSON (normalised data, attempt records) is embedded
// as JSON, or as a string when it does not parse.
#pragma once

#include <nlohmann/json.hpp>

#include "queue/operator.h"

namespace payhook::queue {

nlohmann::ordered_json toJson(const QueueStats& s);
nlohmann::ordered_json toJson(const TargetState& t);
nlohmann::ordered_json toJson(const EventSummary& e);
nlohmann::ordered_json toJson(const EventDetail& d);
nlohmann::ordered_json toJson(const ListPage& p);
// {"key","route","events":[...],"more","next_cursor":null}: the list page's shape, so one reader takes both.
nlohmann::ordered_json findJson(const FindResult& f, const std::string& key, const std::string& route);
// {"read","indexed","batches","resumed"}.
nlohmann::ordered_json toJson(const ReindexReport& r);
// {"results":[{"id","result","revived","hurried","state"}...],"retried":N}: N events retried.
nlohmann::ordered_json toJson(const std::vector<RetryResult>& results);
nlohmann::ordered_json toJson(const ReplayResult& r);
// {"retried":N} (jobs) for retryDead.
nlohmann::ordered_json retryDeadJson(const BulkReport& r);
// {"purged":N,"skipped":M,"cutoff":"..."} for purgeDead.
nlohmann::ordered_json purgeJson(const BulkReport& r, int64_t cutoff_ms);

// Stored JSON text as JSON, or the text itself as a string when it does not parse.
nlohmann::ordered_json embedJson(const std::string& text);

}  // namespace payhook::queue
