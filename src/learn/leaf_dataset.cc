#include "murmur/learn/leaf_dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "murmur/learn/text_dataset.h"

namespace murmur {
namespace {

using Json = nlohmann::json;

constexpr int64_t kMaxClasses = int64_t{1} << 20;
// Text samples longer than this keep their last kMaxTextLength characters.
constexpr size_t kMaxTextLength = 4096;

enum class XKind { kUnknown, kNumbers, kText };
enum class YKind { kUnknown, kClassId, kChar };

// One split as read, before it becomes a Dataset.
struct RawSplit {
  XKind x_kind = XKind::kUnknown;
  YKind y_kind = YKind::kUnknown;
  int64_t dim = -1;             // numeric x: values per sample
  std::vector<float> numbers;   // numeric x, sample after sample
  std::vector<std::string> texts;
  std::vector<int64_t> labels;
  std::vector<int64_t> writers;
  std::unordered_map<std::string, int64_t> writer_ids;
};

// Where an error is: the file and, when known, the user and sample.
struct Place {
  const std::string& file;
  const std::string* user = nullptr;
  size_t sample = 0;

  std::string str() const {
    std::string s = "LEAF file '" + file + "'";
    if (user != nullptr) s += ", user '" + *user + "', sample " + std::to_string(sample);
    return s;
  }
};

Status AppendX(const Json& x, const Place& at, RawSplit& out) {
  const Json* text = x.is_string() ? &x : nullptr;
  if (x.is_array() && !x.empty() && x.back().is_string()) text = &x.back();
  const XKind kind = text != nullptr ? XKind::kText : XKind::kNumbers;
  if (out.x_kind != XKind::kUnknown && out.x_kind != kind) {
    return Status::Corrupt(at.str(), ": x mixes numbers and text across samples");
  }
  out.x_kind = kind;
  if (kind == XKind::kText) {
    out.texts.push_back(text->get<std::string>());
    return Status::Ok();
  }
  if (!x.is_array()) {
    return Status::Corrupt(at.str(), ": x must be a list of numbers, a string or a list ending "
                                     "in a string, not ", x.type_name());
  }
  if (out.dim >= 0 && static_cast<int64_t>(x.size()) != out.dim) {
    return Status::Corrupt(at.str(), ": x has ", x.size(), " values but earlier samples have ",
                           out.dim);
  }
  out.dim = static_cast<int64_t>(x.size());
  for (const Json& v : x) {
    if (!v.is_number()) {
      return Status::Corrupt(at.str(), ": x holds a ", v.type_name(), ", not a number");
    }
    const float f = v.get<float>();
    if (!std::isfinite(f)) return Status::Corrupt(at.str(), ": x holds a non-finite value");
    out.numbers.push_back(f);
  }
  return Status::Ok();
}

Status AppendY(const Json& y, const Place& at, RawSplit& out) {
  YKind kind;
  int64_t label;
  if (y.is_number_integer()) {
    kind = YKind::kClassId;
    label = y.get<int64_t>();
    if (label < 0 || label >= kMaxClasses) {
      return Status::Corrupt(at.str(), ": label ", label, " is not a class id in [0, ",
                             kMaxClasses, ")");
    }
  } else if (y.is_string() && y.get_ref<const std::string&>().size() == 1) {
    kind = YKind::kChar;
    label = CharId(static_cast<uint8_t>(y.get_ref<const std::string&>()[0]));
  } else {
    return Status::Corrupt(at.str(), ": y must be an integer class id or a one-character "
                                     "string, not ", y.dump());
  }
  if (out.y_kind != YKind::kUnknown && out.y_kind != kind) {
    return Status::Corrupt(at.str(), ": y mixes class ids and characters across samples");
  }
  out.y_kind = kind;
  out.labels.push_back(label);
  return Status::Ok();
}

Status AppendUser(const Json& data, const std::string& user, int64_t count, const Place& file,
                  RawSplit& out) {
  const std::string& path = file.file;
  if (!data.is_object() || !data.contains("x") || !data.contains("y") || !data["x"].is_array() ||
      !data["y"].is_array()) {
    return Status::Corrupt("LEAF file '", path, "', user '", user,
                           "': user_data entry must be an object with lists x and y");
  }
  const Json& xs = data["x"];
  const Json& ys = data["y"];
  if (static_cast<int64_t>(xs.size()) != count || static_cast<int64_t>(ys.size()) != count) {
    return Status::Corrupt("LEAF file '", path, "', user '", user, "': num_samples says ", count,
                           " but x has ", xs.size(), " and y has ", ys.size());
  }
  if (count == 0) return Status::Ok();  // no samples, so no writer id
  const auto [it, inserted] =
      out.writer_ids.emplace(user, static_cast<int64_t>(out.writer_ids.size()));
  for (size_t k = 0; k < xs.size(); ++k) {
    const Place at{path, &user, k};
    MURMUR_RETURN_IF_ERROR(AppendX(xs[k], at, out));
    MURMUR_RETURN_IF_ERROR(AppendY(ys[k], at, out));
    out.writers.push_back(it->second);
  }
  return Status::Ok();
}

Status ReadLeafFile(const std::string& path, RawSplit& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open LEAF file '", path, "'");
  Json doc = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return Status::Corrupt("LEAF file '", path, "' is not valid JSON (or is truncated)");
  }
  const Place file{path};
  if (!doc.is_object() || !doc.contains("users") || !doc.contains("num_samples") ||
      !doc.contains("user_data") || !doc["users"].is_array() ||
      !doc["num_samples"].is_array() || !doc["user_data"].is_object()) {
    return Status::Corrupt(file.str(),
                           ": expected an object with a list 'users', a list 'num_samples' and "
                           "an object 'user_data' (LEAF's layout)");
  }
  const Json& users = doc["users"];
  const Json& counts = doc["num_samples"];
  const Json& data = doc["user_data"];
  if (users.size() != counts.size()) {
    return Status::Corrupt(file.str(), ": ", users.size(), " users but ", counts.size(),
                           " num_samples entries");
  }
  for (size_t i = 0; i < users.size(); ++i) {
    if (!users[i].is_string() || !counts[i].is_number_integer() ||
        counts[i].get<int64_t>() < 0) {
      return Status::Corrupt(file.str(), ": users[", i, "] must be a string and num_samples[",
                             i, "] a non-negative integer");
    }
    const std::string& user = users[i].get_ref<const std::string&>();
    auto entry = data.find(user);
    if (entry == data.end()) {
      return Status::Corrupt(file.str(), ": user '", user, "' has no user_data entry");
    }
    MURMUR_RETURN_IF_ERROR(AppendUser(*entry, user, counts[i].get<int64_t>(), file, out));
  }
  return Status::Ok();
}

// The .json files of `dir` in name order; kNotFound when there are none.
Result<std::vector<std::string>> JsonFiles(const std::string& dir, const std::string& root) {
  std::vector<std::string> files;
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.is_regular_file(ec) && entry.path().extension() == ".json") {
        files.push_back(entry.path().string());
      }
    }
  }
  if (files.empty()) {
    return Status::NotFound(
        "LEAF dataset: no .json files in '", dir, "'; data.path = '", root,
        "' must hold LEAF's train/ and test/ folders of JSON files (LEAF's "
        "data/<task>/data/ after its preprocess.sh, e.g. for FEMNIST: git clone "
        "https://github.com/TalwalkarLab/leaf; cd leaf/data/femnist; "
        "./preprocess.sh -s niid --sf 0.05 -k 0 -t sample)");
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Character ids of `text`'s last `length` characters, left-padded.
void AppendTextFeatures(const std::string& text, size_t length, std::vector<float>& out) {
  const size_t take = std::min(text.size(), length);
  out.insert(out.end(), length - take, static_cast<float>(CharId('\n')));
  for (size_t i = text.size() - take; i < text.size(); ++i) {
    out.push_back(static_cast<float>(CharId(static_cast<uint8_t>(text[i]))));
  }
}

Dataset ToDataset(RawSplit& raw, size_t text_length, int64_t dim) {
  Dataset d;
  d.name = "leaf";
  d.channels = 1;
  d.height = 1;
  if (raw.x_kind == XKind::kText) {
    d.width = static_cast<int64_t>(text_length);
    d.features.reserve(raw.texts.size() * text_length);
    for (const std::string& t : raw.texts) AppendTextFeatures(t, text_length, d.features);
  } else {
    const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(dim))));
    if (side * side == dim && dim > 1) {
      d.height = d.width = side;
    } else {
      d.width = dim;
    }
    d.features = std::move(raw.numbers);
  }
  d.labels = std::move(raw.labels);
  return d;
}

}  // namespace

Result<TrainTestSplit> LoadLeaf(const std::string& dir) {
  RawSplit raw[2];
  const char* parts[2] = {"train", "test"};
  for (int k = 0; k < 2; ++k) {
    const std::string sub = (std::filesystem::path(dir) / parts[k]).string();
    MURMUR_ASSIGN_OR_RETURN(std::vector<std::string> files, JsonFiles(sub, dir));
    for (const std::string& file : files) {
      try {
        MURMUR_RETURN_IF_ERROR(ReadLeafFile(file, raw[k]));
      } catch (const Json::exception& e) {
        return Status::Corrupt("LEAF file '", file, "': ", e.what());
      }
    }
    if (raw[k].labels.empty()) {
      return Status::Corrupt("LEAF dataset '", sub, "' holds no samples");
    }
  }
  if (raw[0].x_kind != raw[1].x_kind || raw[0].y_kind != raw[1].y_kind ||
      (raw[0].x_kind == XKind::kNumbers && raw[0].dim != raw[1].dim)) {
    return Status::Corrupt("LEAF dataset '", dir,
                           "': train and test samples differ in kind or length");
  }
  size_t text_length = 1;
  for (const std::string& t : raw[0].texts) text_length = std::max(text_length, t.size());
  text_length = std::min(text_length, kMaxTextLength);
  int64_t classes = kCharVocabSize;
  if (raw[0].y_kind == YKind::kClassId) {
    classes = 0;
    for (const RawSplit& r : raw) {
      for (int64_t l : r.labels) classes = std::max(classes, l + 1);
    }
  }
  TrainTestSplit split;
  split.train = ToDataset(raw[0], text_length, raw[0].dim);
  split.test = ToDataset(raw[1], text_length, raw[1].dim);
  split.train.num_classes = split.test.num_classes = classes;
  split.train.writers = std::move(raw[0].writers);
  split.train.num_writers = static_cast<int64_t>(raw[0].writer_ids.size());
  return split;
}

}  // namespace murmur
