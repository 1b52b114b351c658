#pragma once
// How the wiring prints the application's own channel and payload types in diagnostics.
//
// An application makes its enum printable by declaring, next to it, a function
// `std::string_view to_string(ChannelType)` that argument-dependent lookup finds:
//
//     enum class ChannelType { SchedulerToDispatcher, DispatcherToHarvester };
//     constexpr std::string_view to_string(ChannelType c) {
//       switch (c) {
//         case ChannelType::SchedulerToDispatcher: return "SchedulerToDispatcher";
//         case ChannelType::DispatcherToHarvester: return "DispatcherToHarvester";
//       }
//       return "?";
//     }
//
// Without one, a value prints as `#` and its number (`#3` for the value 3): diagnostics stay usable.

#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>

namespace swarmsync {

/// True when `to_string(value)` is found for `T` by argument-dependent lookup.
template <class T>
concept NamedByToString = requires(const T& value) {
  { to_string(value) } -> std::convertible_to<std::string_view>;
};

/// The printable name of `value`: its `to_string`, or its number for an enum without one.
template <class T>
std::string name_of(const T& value) {
  if constexpr (NamedByToString<T>) {
    return std::string(std::string_view(to_string(value)));
  } else if constexpr (std::is_enum_v<T>) {
    // Appended, not `"#" + ...`: g++ 12 at -O3 reports a false -Wrestrict on that operator+.
    std::string text = "#";
    text += std::to_string(static_cast<long long>(static_cast<std::underlying_type_t<T>>(value)));
    return text;
  } else {
    static_assert(NamedByToString<T>, "swarmsync: give the key type a to_string() found by ADL");
  }
}

}  // namespace swarmsync
