#pragma once
// A short description of a bad JSON value for an error message (job files, payloads):
//
//     "priority must be an integer 0-9, got " + core::json_excerpt(value)   // got "high"
//
// Scalars as written, cut at 60 characters (invalid UTF-8 replaced); arrays and objects by their
// size. Never throws but for std::bad_alloc.

#include <nlohmann/json.hpp>
#include <string>

namespace core {

inline std::string json_excerpt(const nlohmann::json& value) {
  if (value.is_array()) return "an array of " + std::to_string(value.size()) + " element(s)";
  if (value.is_object()) return "an object of " + std::to_string(value.size()) + " field(s)";
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

}  // namespace core
