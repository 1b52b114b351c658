#pragma once
// `swarmsync::Result<T, E>`: the outcome of an operation that can fail, as a value.
//
//     Result<void, SendError<std::unique_ptr<Job>>> sent = tx.send(std::move(job));
//     if (!sent) keep(std::move(sent).error().value);   // the very object comes back
//
// It holds a `T` (success) or an `E` (error). Unlike `boost::system::result` in Boost 1.81, whose
// `error()` returns a copy, `error()` here returns a reference (an rvalue reference on an rvalue
// result), so an error that carries the caller's value, such as `SendError<T>`, gives back that
// very object, move-only types included. `value()` on an error throws what
// `throw_exception_from_error(error, location)`, found by argument-dependent lookup, throws; every
// error type of swarmsync has one.
//
// Construction: implicitly from anything convertible to exactly one of `T` and `E`, or explicitly
// with `in_place_value` / `in_place_error` (Boost.System's tags). `Result<void, E>` is a success
// when default-constructed. Not thread-safe, like any value.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <concepts>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace swarmsync {

using boost::system::in_place_error;
using boost::system::in_place_error_t;
using boost::system::in_place_value;
using boost::system::in_place_value_t;

/// A `T` or an error `E`. `T` and `E` must differ.
template <class T, class E>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<T, E>, "swarmsync::Result: T and E must differ");

 public:
  /// A success holding a default-constructed `T`.
  Result() requires std::default_initializable<T> : v_(std::in_place_index<0>) {}

  /// A success holding `T(args...)`.
  template <class... A>
    requires std::constructible_from<T, A...>
  explicit Result(in_place_value_t, A&&... args) : v_(std::in_place_index<0>, std::forward<A>(args)...) {}

  /// An error holding `E(args...)`.
  template <class... A>
    requires std::constructible_from<E, A...>
  explicit Result(in_place_error_t, A&&... args) : v_(std::in_place_index<1>, std::forward<A>(args)...) {}

  /// A success from a value convertible to `T` but not to `E`.
  template <class U>
    requires(!std::is_same_v<std::remove_cvref_t<U>, Result> && std::convertible_to<U, T> &&
             !std::convertible_to<U, E>)
  Result(U&& u) : v_(std::in_place_index<0>, std::forward<U>(u)) {}  // NOLINT: implicit by design

  /// An error from a value convertible to `E` but not to `T`.
  template <class U>
    requires(!std::is_same_v<std::remove_cvref_t<U>, Result> && std::convertible_to<U, E> &&
             !std::convertible_to<U, T>)
  Result(U&& u) : v_(std::in_place_index<1>, std::forward<U>(u)) {}  // NOLINT: implicit by design

  bool has_value() const noexcept { return v_.index() == 0; }
  bool has_error() const noexcept { return v_.index() == 1; }
  explicit operator bool() const noexcept { return has_value(); }

  /// The value; throws (see the header comment) if this holds an error.
  T& value(const boost::source_location& loc = BOOST_CURRENT_LOCATION) & {
    check(loc);
    return *std::get_if<0>(&v_);
  }
  const T& value(const boost::source_location& loc = BOOST_CURRENT_LOCATION) const& {
    check(loc);
    return *std::get_if<0>(&v_);
  }
  T&& value(const boost::source_location& loc = BOOST_CURRENT_LOCATION) && {
    check(loc);
    return std::move(*std::get_if<0>(&v_));
  }

  /// The value, unchecked: only on a success.
  T& operator*() & noexcept { return *std::get_if<0>(&v_); }
  const T& operator*() const& noexcept { return *std::get_if<0>(&v_); }
  T&& operator*() && noexcept { return std::move(*std::get_if<0>(&v_)); }
  T* operator->() noexcept { return std::get_if<0>(&v_); }
  const T* operator->() const noexcept { return std::get_if<0>(&v_); }

  /// The error, unchecked: only on a failure. On an rvalue it can be moved out whole.
  E& error() & noexcept { return *std::get_if<1>(&v_); }
  const E& error() const& noexcept { return *std::get_if<1>(&v_); }
  E&& error() && noexcept { return std::move(*std::get_if<1>(&v_)); }

 private:
  void check(const boost::source_location& loc) const {
    if (has_error()) throw_exception_from_error(*std::get_if<1>(&v_), loc);
  }

  std::variant<T, E> v_;
};

/// A success with nothing in it, or an error `E`.
template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  /// A success.
  Result() noexcept = default;
  explicit Result(in_place_value_t) noexcept {}

  /// An error holding `E(args...)`.
  template <class... A>
    requires std::constructible_from<E, A...>
  explicit Result(in_place_error_t, A&&... args) : e_(std::in_place, std::forward<A>(args)...) {}

  /// An error from a value convertible to `E`.
  template <class U>
    requires(!std::is_same_v<std::remove_cvref_t<U>, Result> && std::convertible_to<U, E>)
  Result(U&& u) : e_(std::in_place, std::forward<U>(u)) {}  // NOLINT: implicit by design

  bool has_value() const noexcept { return !e_.has_value(); }
  bool has_error() const noexcept { return e_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }

  /// Throws (see the header comment) if this holds an error.
  void value(const boost::source_location& loc = BOOST_CURRENT_LOCATION) const {
    if (e_) throw_exception_from_error(*e_, loc);
  }

  /// The error, unchecked: only on a failure. On an rvalue it can be moved out whole.
  E& error() & noexcept { return *e_; }
  const E& error() const& noexcept { return *e_; }
  E&& error() && noexcept { return std::move(*e_); }

 private:
  std::optional<E> e_;
};

}  // namespace swarmsync
