#pragma once
// How a payload type travels: a codec turns a `T` into bytes and back.
//
//     struct Job { int id; std::string name; };
//     NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Job, id, name)     // or to_json/from_json found by ADL
//
//     swarmsync::nats::JsonCodec<Job> codec;
//     std::string bytes = codec.encode(Job{1, "a"});        // {"id":1,"name":"a"}
//     auto job = codec.decode(bytes);                       // Result<Job, DecodeError>
//     if (!job) log(job.error().message);                   // bad bytes: an error value, no throw
//
//     swarmsync::nats::MsgPackCodec<Job> binary;             // the same to_json/from_json, as MessagePack
//
// A codec `C` for `T` (the `Codec` concept) has `std::string encode(const T&)` and
// `Result<T, DecodeError> decode(std::string_view)`. `decode` never throws: bytes that are not a
// `T` come back as a `DecodeError`; the inbound bridge counts such a message, reports it with its
// subject and terminates it (it is never redelivered). `encode` may throw (a value that has no
// encoding, such as a string that is not UTF-8 for JSON); the outbound bridge catches that and
// gives the value back. Codecs are used from the bridges' threads: a codec object must be safe
// to use from one thread at a time (JsonCodec is stateless).

#include <boost/assert/source_location.hpp>
#include <concepts>
#include <exception>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "swarmsync/channels/result.hpp"

namespace swarmsync::nats {

/// Bytes that do not decode to the expected type; `message` says why.
struct DecodeError {
  std::string message;
};

[[noreturn]] inline void throw_exception_from_error(const DecodeError& e, const boost::source_location&) {
  throw std::invalid_argument("swarmsync::nats: decode failed: " + e.message);
}

/// What the bridges need of a codec for `T`.
template <class C, class T>
concept Codec = requires(C& codec, const T& value, std::string_view bytes) {
  { codec.encode(value) } -> std::convertible_to<std::string>;
  { codec.decode(bytes) } -> std::same_as<Result<T, DecodeError>>;
};

/// The default codec: JSON through nlohmann::json, with the `to_json`/`from_json` of `T` found by
/// argument-dependent lookup (or an `adl_serializer` specialisation). Stateless.
template <class T>
struct JsonCodec {
  /// The JSON text of `value`. Throws what nlohmann::json throws (e.g. invalid UTF-8).
  std::string encode(const T& value) const { return nlohmann::json(value).dump(); }

  /// The `T` in `bytes`, or why not (not JSON, or JSON of another shape). Never throws.
  Result<T, DecodeError> decode(std::string_view bytes) const {
    nlohmann::json j = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Result<T, DecodeError>(in_place_error, DecodeError{"not valid JSON"});
    try {
      return Result<T, DecodeError>(in_place_value, j.template get<T>());
    } catch (const std::exception& e) {
      return Result<T, DecodeError>(in_place_error, DecodeError{e.what()});
    }
  }
};

/// A binary codec: the JSON value of `T` (the same `to_json`/`from_json` as `JsonCodec`) written
/// as MessagePack (nlohmann's `to_msgpack`/`from_msgpack`): numbers take their size, not their
/// digits, and nothing is escaped. Both sides of a channel must use the same codec. Stateless.
template <class T>
struct MsgPackCodec {
  /// The MessagePack bytes of `value`. Throws what nlohmann::json throws (e.g. invalid UTF-8).
  std::string encode(const T& value) const {
    std::string bytes;
    nlohmann::json::to_msgpack(nlohmann::json(value), bytes);
    return bytes;
  }

  /// The `T` in `bytes`, or why not (not MessagePack, trailing bytes, or another shape). Never
  /// throws.
  Result<T, DecodeError> decode(std::string_view bytes) const {
    nlohmann::json j = nlohmann::json::from_msgpack(bytes.begin(), bytes.end(), /*strict=*/true,
                                                    /*allow_exceptions=*/false);
    if (j.is_discarded()) return Result<T, DecodeError>(in_place_error, DecodeError{"not valid MessagePack"});
    try {
      return Result<T, DecodeError>(in_place_value, j.template get<T>());
    } catch (const std::exception& e) {
      return Result<T, DecodeError>(in_place_error, DecodeError{e.what()});
    }
  }
};

}  // namespace swarmsync::nats
