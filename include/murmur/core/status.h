// Status and Result<T>: the error values of every fallible operation
// (network, peers, time, input bytes, configs, files). A lost peer is a value,
// not an exception. Broken invariants use MURMUR_CHECK instead.
#pragma once

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "murmur/core/check.h"

namespace murmur {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,
  kCorrupt,
  kTimeout,
  kPeerLost,
  kAborted,
  kUnavailable,
  kNotFound,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

// An error code plus a message naming the operation and the bad value.
// Cheap to move; thread-compatible.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  template <typename... Args>
  static Status InvalidArgument(const Args&... args) {
    return Status(StatusCode::kInvalidArgument, Concat(args...));
  }
  template <typename... Args>
  static Status Corrupt(const Args&... args) {
    return Status(StatusCode::kCorrupt, Concat(args...));
  }
  template <typename... Args>
  static Status Timeout(const Args&... args) {
    return Status(StatusCode::kTimeout, Concat(args...));
  }
  template <typename... Args>
  static Status PeerLost(const Args&... args) {
    return Status(StatusCode::kPeerLost, Concat(args...));
  }
  template <typename... Args>
  static Status Aborted(const Args&... args) {
    return Status(StatusCode::kAborted, Concat(args...));
  }
  template <typename... Args>
  static Status Unavailable(const Args&... args) {
    return Status(StatusCode::kUnavailable, Concat(args...));
  }
  template <typename... Args>
  static Status NotFound(const Args&... args) {
    return Status(StatusCode::kNotFound, Concat(args...));
  }
  template <typename... Args>
  static Status Internal(const Args&... args) {
    return Status(StatusCode::kInternal, Concat(args...));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CODE: message", or "OK".
  std::string ToString() const;

  template <typename... Args>
  static std::string Concat(const Args&... args) {
    std::ostringstream out;
    (out << ... << args);
    return out.str();
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    MURMUR_CHECK(!status_.ok());
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & {
    MURMUR_CHECK(ok());
    return *value_;
  }
  const T& value() const& {
    MURMUR_CHECK(ok());
    return *value_;
  }
  T&& value() && {
    MURMUR_CHECK(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace murmur

#define MURMUR_CONCAT_INNER(a, b) a##b
#define MURMUR_CONCAT(a, b) MURMUR_CONCAT_INNER(a, b)

#define MURMUR_RETURN_IF_ERROR(expr)            \
  do {                                          \
    ::murmur::Status murmur_status_ = (expr);   \
    if (!murmur_status_.ok()) return murmur_status_; \
  } while (0)

#define MURMUR_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

#define MURMUR_ASSIGN_OR_RETURN(lhs, expr) \
  MURMUR_ASSIGN_OR_RETURN_IMPL(MURMUR_CONCAT(murmur_result_, __LINE__), lhs, expr)
