#include "murmur/core/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "murmur/core/suggest.h"

namespace murmur {

struct Config::Impl {
  toml::table table;
};

Config::Config() : impl_(std::make_unique<Impl>()) {}
Config::~Config() = default;
Config::Config(const Config& other)
    : impl_(std::make_unique<Impl>(*other.impl_)) {}
Config& Config::operator=(const Config& other) {
  *impl_ = *other.impl_;
  return *this;
}

Result<Config> Config::FromString(std::string_view text,
                                  std::string_view source_name) {
  Config config;
  try {
    config.impl_->table = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::InvalidArgument(source_name, ":", where.line, ":",
                                   where.column, ": ", e.description());
  }
  return config;
}

Result<Config> Config::FromFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument("'", path, "' is a directory; pass a TOML file such as ",
                                   path, "/config.toml");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("config file '", path,
                            "' cannot be opened; check the path");
  }
  // A bounded loop rather than the file's size: a FIFO or a device has
  // none, and /dev/zero never ends.
  std::string text;
  char chunk[64 * 1024];
  while (in) {
    in.read(chunk, sizeof chunk);
    const auto n = static_cast<size_t>(in.gcount());
    if (text.size() + n > kMaxFileBytes) {
      return Status::InvalidArgument("config file '", path, "' is larger than ",
                                     kMaxFileBytes >> 20,
                                     " MiB; pass a TOML config file (is it the right path?)");
    }
    text.append(chunk, n);
  }
  if (in.bad()) {
    return Status::Unavailable("config file '", path, "' could not be read");
  }
  return FromString(text, path);
}

namespace {

std::vector<std::string> SplitKey(std::string_view key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    parts.emplace_back(key.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Status Config::Set(std::string_view assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return Status::InvalidArgument("--set '", assignment,
                                   "' must look like key=value");
  }
  std::string_view key = Trim(assignment.substr(0, eq));
  std::string_view value = Trim(assignment.substr(eq + 1));
  std::vector<std::string> parts = SplitKey(key);
  for (const auto& p : parts) {
    if (p.empty()) {
      return Status::InvalidArgument("--set '", assignment,
                                     "' has an empty key part");
    }
  }
  // Parse the value as TOML by wrapping it in a one-line document; a value
  // that is not valid TOML (a bare word such as ring) is taken as a string.
  toml::table doc;
  try {
    doc = toml::parse("v = " + std::string(value));
  } catch (const toml::parse_error&) {
    doc.insert_or_assign("v", std::string(value));
  }
  toml::table* table = &impl_->table;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    toml::node* child = table->get(parts[i]);
    if (child == nullptr) {
      table->insert(parts[i], toml::table{});
      child = table->get(parts[i]);
    }
    if (!child->is_table()) {
      return Status::InvalidArgument("--set '", assignment, "': '", parts[i],
                                     "' is a value, not a section");
    }
    table = child->as_table();
  }
  doc.get("v")->visit([&](auto&& node) {
    table->insert_or_assign(parts.back(), std::move(node));
  });
  return Status::Ok();
}

struct ConfigReader::Impl {
  const toml::table* source;
  std::set<std::string> used;
  toml::table resolved;

  const toml::node* Find(std::string_view key) const {
    return source->at_path(key).node();
  }

  template <typename T>
  void Record(std::string_view key, T value) {
    used.insert(std::string(key));
    std::vector<std::string> parts = SplitKey(key);
    toml::table* table = &resolved;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (table->get(parts[i]) == nullptr) table->insert(parts[i], toml::table{});
      table = table->get(parts[i])->as_table();
    }
    table->insert_or_assign(parts.back(), std::move(value));
  }

  static std::string Describe(const toml::node& node) {
    std::ostringstream out;
    node.visit([&](auto&& n) { out << n; });
    return out.str();
  }
};

ConfigReader::ConfigReader(const Config& config)
    : impl_(std::make_unique<Impl>()) {
  impl_->source = &config.impl().table;
}
ConfigReader::~ConfigReader() = default;

Result<int64_t> ConfigReader::Int(std::string_view key, int64_t fallback,
                                  int64_t min, int64_t max) {
  int64_t value = fallback;
  if (const toml::node* node = impl_->Find(key)) {
    auto v = node->value<int64_t>();
    if (!node->is_integer() || !v) {
      return Status::InvalidArgument("config key '", key, "' = ",
                                     Impl::Describe(*node),
                                     " must be an integer");
    }
    value = *v;
  }
  if (value < min || value > max) {
    return Status::InvalidArgument("config key '", key, "' = ", value,
                                   " is out of range [", min, ", ", max, "]");
  }
  impl_->Record(key, value);
  return value;
}

Result<double> ConfigReader::Double(std::string_view key, double fallback,
                                    double min, double max) {
  double value = fallback;
  if (const toml::node* node = impl_->Find(key)) {
    if (!node->is_number()) {
      return Status::InvalidArgument("config key '", key, "' = ",
                                     Impl::Describe(*node),
                                     " must be a number");
    }
    value = *node->value<double>();
  }
  if (!(value >= min && value <= max)) {
    return Status::InvalidArgument("config key '", key, "' = ", value,
                                   " is out of range [", min, ", ", max, "]");
  }
  impl_->Record(key, value);
  return value;
}

Result<bool> ConfigReader::Bool(std::string_view key, bool fallback) {
  bool value = fallback;
  if (const toml::node* node = impl_->Find(key)) {
    if (!node->is_boolean()) {
      return Status::InvalidArgument("config key '", key, "' = ",
                                     Impl::Describe(*node),
                                     " must be true or false");
    }
    value = *node->value<bool>();
  }
  impl_->Record(key, value);
  return value;
}

Result<std::string> ConfigReader::String(
    std::string_view key, std::string_view fallback,
    const std::vector<std::string>& choices) {
  std::string value(fallback);
  if (const toml::node* node = impl_->Find(key)) {
    if (!node->is_string()) {
      return Status::InvalidArgument("config key '", key, "' = ",
                                     Impl::Describe(*node),
                                     " must be a string");
    }
    value = *node->value<std::string>();
  }
  if (!choices.empty()) {
    bool found = false;
    std::string list;
    for (const auto& c : choices) {
      found = found || c == value;
      list += (list.empty() ? "" : ", ") + c;
    }
    if (!found) {
      return Status::InvalidArgument("config key '", key, "' = \"", value,
                                     "\" is not one of: ", list);
    }
  }
  impl_->Record(key, value);
  return value;
}

Result<std::vector<int64_t>> ConfigReader::IntList(
    std::string_view key, const std::vector<int64_t>& fallback, int64_t min,
    int64_t max) {
  std::vector<int64_t> values = fallback;
  if (const toml::node* node = impl_->Find(key)) {
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      return Status::InvalidArgument("config key '", key, "' = ",
                                     Impl::Describe(*node),
                                     " must be an array of integers");
    }
    values.clear();
    for (const auto& element : *array) {
      auto v = element.value<int64_t>();
      if (!element.is_integer() || !v) {
        return Status::InvalidArgument("config key '", key, "' = ",
                                       Impl::Describe(*node),
                                       " must be an array of integers");
      }
      values.push_back(*v);
    }
  }
  toml::array recorded;
  for (int64_t v : values) {
    if (v < min || v > max) {
      return Status::InvalidArgument("config key '", key, "' has element ", v,
                                     " out of range [", min, ", ", max, "]");
    }
    recorded.push_back(v);
  }
  impl_->Record(key, std::move(recorded));
  return values;
}

Result<std::vector<std::string>> ConfigReader::StringList(
    std::string_view key, const std::vector<std::string>& fallback,
    const std::vector<std::string>& choices) {
  std::vector<std::string> values = fallback;
  if (const toml::node* node = impl_->Find(key)) {
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      return Status::InvalidArgument("config key '", key, "' = ", Impl::Describe(*node),
                                     " must be an array of strings");
    }
    values.clear();
    for (const auto& element : *array) {
      if (!element.is_string()) {
        return Status::InvalidArgument("config key '", key, "' = ", Impl::Describe(*node),
                                       " must be an array of strings");
      }
      values.push_back(*element.value<std::string>());
    }
  }
  toml::array recorded;
  for (const std::string& v : values) {
    if (!choices.empty() && std::find(choices.begin(), choices.end(), v) == choices.end()) {
      std::string list;
      for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
      return Status::InvalidArgument("config key '", key, "' has element \"", v,
                                     "\", which is not one of: ", list);
    }
    recorded.push_back(v);
  }
  impl_->Record(key, std::move(recorded));
  return values;
}

Status ConfigReader::CheckNoUnknownKeys() const {
  Status result;
  std::function<void(const toml::table&, const std::string&)> walk =
      [&](const toml::table& table, const std::string& prefix) {
        for (const auto& [k, node] : table) {
          if (!result.ok()) return;
          std::string key = prefix.empty() ? std::string(k.str())
                                           : prefix + "." + std::string(k.str());
          if (const toml::table* sub = node.as_table()) {
            walk(*sub, key);
          } else if (!impl_->used.count(key)) {
            std::string known;
            std::string section = prefix.empty() ? "" : prefix + ".";
            for (const auto& u : impl_->used) {
              if (u.rfind(section, 0) == 0 &&
                  u.find('.', section.size()) == std::string::npos) {
                known += (known.empty() ? "" : ", ") + u;
              }
            }
            const std::vector<std::string> all(impl_->used.begin(), impl_->used.end());
            const std::string suggestion = DidYouMean(key, all);
            result = Status::InvalidArgument(
                "unknown config key '", key, "'", suggestion,
                known.empty()        ? std::string()
                : suggestion.empty() ? "; known keys here: " + known
                                     : " Known keys here: " + known);
          }
        }
      };
  walk(*impl_->source, "");
  return result;
}

std::vector<std::string> ConfigReader::UnreadKeys() const {
  std::vector<std::string> out;
  std::function<void(const toml::table&, const std::string&)> walk =
      [&](const toml::table& table, const std::string& prefix) {
        for (const auto& [k, node] : table) {
          std::string key = prefix.empty() ? std::string(k.str())
                                           : prefix + "." + std::string(k.str());
          if (const toml::table* sub = node.as_table()) {
            walk(*sub, key);
          } else if (!impl_->used.count(key)) {
            out.push_back(std::move(key));
          }
        }
      };
  walk(*impl_->source, "");
  return out;
}

bool ConfigReader::Has(std::string_view key) const { return impl_->Find(key) != nullptr; }

bool ConfigReader::WasRead(std::string_view key) const {
  return impl_->used.count(std::string(key)) > 0;
}

void ConfigReader::Ignore(std::string_view key) { impl_->used.insert(std::string(key)); }

std::string ConfigReader::ResolvedToml() const {
  std::ostringstream out;
  out << impl_->resolved << "\n";
  return out.str();
}

}  // namespace murmur
