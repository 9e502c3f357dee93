// How an event sits in its Redis hash. The parts that never change after receipt are packed into one
// field, "e": a quarter less Redis CPU per stored event than one field each, and 35-40 % less memory once
// a part is over 64 bytes (bench/RESULTS.md); nothing but payhook reads them. The fields a delivery changes
// (state, targets, status:<t>, ...) stay separate. Events stored before this layout hold one field per part
// plus "id"; every reader takes both.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/event.h"

namespace payhook::queue::record {

// The hash field holding the packed parts. A later layout would take another name, not reuse this one.
inline constexpr std::string_view kPackedField = "e";

// The packed parts, in order; also the field names of the older layout. The Lua copies of this list (the
// claim script in job_queue.cpp, the operator scripts in operator.cpp) must match.
inline constexpr std::array<std::string_view, 12> kParts{
    "received_at", "type",       "route",    "provider",  "verified",         "data",
    "idem",        "raw_method", "raw_path", "raw_query", "raw_content_type", "raw_body"};
using Parts = std::array<std::string_view, kParts.size()>;

// An event's parts, viewing into `e` and into `received_at`, which must outlive them.
Parts partsOf(const Event& e, std::string& received_at);

// The packed form: each part as its length in decimal, ':', then its bytes.
size_t packedSize(const Parts& parts);
void appendPacked(std::string& out, const Parts& parts);

// The parts of a packed field, viewing into it; nullopt unless it is exactly twelve well-formed parts.
std::optional<Parts> unpack(std::string_view packed);

// Fills the event's stored parts (not its id) from either layout's parts; a received_at that is not a number
// reads as 0, as an absent one did before.
void fill(const Parts& parts, Event& e);

// The hash field holding the event's listing (common/event.h): its amount, currency, status and outcome,
// then its keys, one per line. The store script adds each key to the find index ({p}:find, members
// "<key>\n<id>"), and whatever deletes the event removes them again by this field.
inline constexpr std::string_view kListingField = "ix";
// A key longer than this, empty, or holding a control character is not indexed: no operator types it.
inline constexpr size_t kListingKeyMax = 200;

bool isListingKey(std::string_view key);
// The listing's packed form. Control characters in the four values become spaces; keys that fail
// isListingKey(), and repeats, are left out.
void appendListing(std::string& out, const EventListing& listing);
std::string packListing(const EventListing& listing);
// Back from the packed form (missing lines read as empty).
EventListing unpackListing(std::string_view packed);

}  // namespace payhook::queue::record
