#pragma once
// Errors of the channels, as values.
//
// Convention of the whole library: an operation that can fail at run time returns its outcome as a
// value (`swarmsync::Result<T, E>`, see result.hpp), and an error that concerns a value the caller
// handed over gives that very object back inside the error, so that nothing is lost. Exceptions are used only where Asio's model calls for them: an awaited operation that is
// cancelled throws `boost::system::system_error` with `asio::error::operation_aborted`, and a
// broken precondition (a capacity of 0) throws `std::invalid_argument`. Calling `.value()` on a
// failed result throws `swarmsync::ChannelError`.
//
//     auto sent = tx.send(std::make_unique<Job>());
//     if (!sent) handle(std::move(sent).error().value);   // the very object comes back

#include "swarmsync/channels/result.hpp"

#include <boost/assert/source_location.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace swarmsync {

/// The base of what swarmsync throws from `Result::value()` on a failed result.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown by `Result::value()` when a channel operation's result holds an error.
class ChannelError : public Error {
 public:
  using Error::Error;
};

/// A send that could not be delivered because nobody can receive it any more (the mpsc receiver is
/// closed or gone; a broadcast channel has no receiver). Holds the value that was not sent.
template <class T>
struct SendError {
  T value;
};

/// Why a `try_send` did not send.
enum class TrySendErrorKind {
  full,    ///< a bounded channel has no room now
  closed,  ///< the receiver is closed or gone
};

/// A `try_send` that did not send; holds the value that was not sent.
template <class T>
struct TrySendError {
  TrySendErrorKind kind;
  T value;
};

template <class T>
[[noreturn]] void throw_exception_from_error(const SendError<T>&, const boost::source_location&) {
  throw ChannelError("swarmsync: send failed: no receiver (channel closed)");
}

template <class T>
[[noreturn]] void throw_exception_from_error(const TrySendError<T>& e, const boost::source_location&) {
  throw ChannelError(e.kind == TrySendErrorKind::full ? "swarmsync: try_send failed: channel full"
                                                      : "swarmsync: try_send failed: channel closed");
}

/// Why a `send_timeout` did not send.
enum class SendTimeoutErrorKind {
  timed_out,  ///< no room came before the timeout
  closed,     ///< the receiver is closed or gone
};

/// A `send_timeout` that did not send; holds the value that was not sent.
template <class T>
struct SendTimeoutError {
  SendTimeoutErrorKind kind;
  T value;
};

template <class T>
[[noreturn]] void throw_exception_from_error(const SendTimeoutError<T>& e, const boost::source_location&) {
  throw ChannelError(e.kind == SendTimeoutErrorKind::timed_out ? "swarmsync: send_timeout failed: timed out"
                                                               : "swarmsync: send_timeout failed: channel closed");
}

/// Thrown by `Result::value()` on a failed `try_reserve` (whose error holds no value).
[[noreturn]] inline void throw_exception_from_error(TrySendErrorKind e, const boost::source_location&) {
  throw ChannelError(e == TrySendErrorKind::full ? "swarmsync: try_reserve failed: channel full"
                                                 : "swarmsync: try_reserve failed: channel closed");
}

namespace oneshot {

/// Why a oneshot receive returned no value.
enum class RecvError {
  closed,  ///< the sender is gone without sending, the receiver was closed first, or the value was taken
};

/// Why a oneshot `try_recv` returned no value.
enum class TryRecvError {
  empty,   ///< no value yet; the sender is still there
  closed,  ///< no value will come (see `RecvError::closed`)
};

[[noreturn]] inline void throw_exception_from_error(RecvError, const boost::source_location&) {
  throw ChannelError("swarmsync: oneshot receive: closed");
}

[[noreturn]] inline void throw_exception_from_error(TryRecvError e, const boost::source_location&) {
  throw ChannelError(e == TryRecvError::empty ? "swarmsync: oneshot try_recv: empty"
                                              : "swarmsync: oneshot try_recv: closed");
}

}  // namespace oneshot

namespace mpsc {

/// Why an mpsc `try_recv` returned no value.
enum class TryRecvError {
  empty,         ///< nothing queued now; senders remain
  disconnected,  ///< nothing queued and every sender is gone (or the receiver was closed)
};

/// Why an mpsc `recv_until` / `recv_for` returned no value.
enum class RecvTimeoutError {
  timed_out,     ///< the deadline passed first; senders remain
  disconnected,  ///< every sender is gone (or the receiver was closed) and nothing is left
};

[[noreturn]] inline void throw_exception_from_error(RecvTimeoutError e, const boost::source_location&) {
  throw ChannelError(e == RecvTimeoutError::timed_out ? "swarmsync: mpsc receive: timed out"
                                                      : "swarmsync: mpsc receive: disconnected");
}

[[noreturn]] inline void throw_exception_from_error(TryRecvError e, const boost::source_location&) {
  throw ChannelError(e == TryRecvError::empty ? "swarmsync: mpsc try_recv: empty"
                                              : "swarmsync: mpsc try_recv: disconnected");
}

}  // namespace mpsc

namespace broadcast {

/// Why a broadcast receive returned no value.
struct RecvError {
  enum Kind {
    empty,   ///< (`try_recv` only) nothing new now; senders remain
    lagged,  ///< the receiver fell behind; `skipped` values were overwritten before it saw them
    closed,     ///< every sender is gone and the receiver has seen everything that was left
    timed_out,  ///< (`recv_until` / `recv_for` only) the deadline passed first
  };
  Kind kind;
  std::uint64_t skipped = 0;  ///< for `lagged`: how many values were missed

  friend bool operator==(const RecvError&, const RecvError&) = default;
};

[[noreturn]] inline void throw_exception_from_error(const RecvError& e, const boost::source_location&) {
  switch (e.kind) {
    case RecvError::empty: throw ChannelError("swarmsync: broadcast receive: empty");
    case RecvError::lagged:
      throw ChannelError("swarmsync: broadcast receive: lagged by " + std::to_string(e.skipped));
    case RecvError::timed_out: throw ChannelError("swarmsync: broadcast receive: timed out");
    default: throw ChannelError("swarmsync: broadcast receive: closed");
  }
}

}  // namespace broadcast
}  // namespace swarmsync
