// Run configuration from TOML (toml++) with `--set key=value` overrides.
// Values are read through ConfigReader, which checks types and ranges, names
// the key and the bad value in every error, rejects unknown keys, and records
// every value it hands out (defaults included) so the fully resolved config
// can be written next to a run's results.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/status.h"

namespace murmur {

// A parsed TOML document. Copyable.
class Config {
 public:
  Config();
  ~Config();
  Config(const Config&);
  Config& operator=(const Config&);

  // The largest config file FromFile reads; a bigger one (or an endless
  // stream such as /dev/zero) is refused before it is held in memory.
  static constexpr size_t kMaxFileBytes = size_t{16} << 20;

  // Returns kNotFound for a missing file, kInvalidArgument for bad TOML
  // (with line and column) or for a file (regular or not: a FIFO, a
  // device) longer than kMaxFileBytes, kUnavailable for a read error.
  static Result<Config> FromFile(const std::string& path);
  static Result<Config> FromString(std::string_view text,
                                   std::string_view source_name);

  // Applies "dotted.key=value". The value is parsed as a TOML value (number,
  // boolean, "string", [array]); anything that does not parse is taken as a
  // bare string. Returns kInvalidArgument for a missing '=' or empty key.
  Status Set(std::string_view assignment);

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Typed access to a Config. Not thread-safe.
class ConfigReader {
 public:
  explicit ConfigReader(const Config& config);
  ~ConfigReader();

  // Each getter returns the value at `key` ("section.name"), or `fallback`
  // when absent, and records the result. kInvalidArgument on a wrong type or
  // a value outside [min, max].
  Result<int64_t> Int(std::string_view key, int64_t fallback,
                      int64_t min = INT64_MIN, int64_t max = INT64_MAX);
  Result<double> Double(std::string_view key, double fallback,
                        double min = -1e300, double max = 1e300);
  Result<bool> Bool(std::string_view key, bool fallback);
  // With non-empty `choices`, the value must be one of them.
  Result<std::string> String(std::string_view key, std::string_view fallback,
                             const std::vector<std::string>& choices = {});
  Result<std::vector<int64_t>> IntList(std::string_view key,
                                       const std::vector<int64_t>& fallback,
                                       int64_t min = INT64_MIN,
                                       int64_t max = INT64_MAX);
  // An array of strings; with non-empty `choices`, each must be one of them.
  Result<std::vector<std::string>> StringList(std::string_view key,
                                              const std::vector<std::string>& fallback,
                                              const std::vector<std::string>& choices = {});

  // kInvalidArgument naming the first key present in the config that no
  // getter asked for (a typo, or an option that does not exist).
  Status CheckNoUnknownKeys() const;
  // Keys present in the config that no getter asked for, in table order.
  std::vector<std::string> UnreadKeys() const;
  // Whether the config has `key` (read or not): lets a caller tell an
  // explicit value, zero included, from an absent one.
  bool Has(std::string_view key) const;
  // Whether a getter asked for `key`.
  bool WasRead(std::string_view key) const;
  // Accepts `key` without reading it: CheckNoUnknownKeys no longer names it
  // and ResolvedToml leaves it out (a key that another mode of the run
  // reads, e.g. another protocol's).
  void Ignore(std::string_view key);
  // Every value read so far as a TOML document.
  std::string ResolvedToml() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace murmur
