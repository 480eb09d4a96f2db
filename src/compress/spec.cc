// MakeCodec: the spec-string grammar documented in codec.h.
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "murmur/compress/codec.h"
#include "murmur/compress/fedzip.h"
#include "murmur/compress/float_cast.h"
#include "murmur/compress/powersgd.h"
#include "murmur/compress/quantize.h"
#include "murmur/compress/rqm_codec.h"
#include "murmur/compress/sign.h"
#include "murmur/compress/sparsify.h"
#include "murmur/compress/zstd.h"

namespace murmur {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    parts.push_back(Trim(s.substr(start, at == std::string_view::npos ? std::string_view::npos
                                                                      : at - start)));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

struct Arg {
  std::string_view key;  // empty for the positional argument
  std::string_view value;
};

// One stage, with its arguments; every lookup marks the argument used so
// that leftovers can be reported as unknown.
class Stage {
 public:
  Stage(std::string_view spec, size_t index, std::string_view text)
      : spec_(spec), index_(index), text_(text) {}

  Status Parse() {
    const size_t colon = text_.find(':');
    name_ = Trim(text_.substr(0, colon));
    if (name_.empty()) return Error("missing codec name");
    if (colon == std::string_view::npos) return Status::Ok();
    for (std::string_view part : Split(text_.substr(colon + 1), ',')) {
      if (part.empty()) return Error("empty argument");
      const size_t eq = part.find('=');
      Arg arg;
      if (eq == std::string_view::npos) {
        arg.value = part;
      } else {
        arg.key = Trim(part.substr(0, eq));
        arg.value = Trim(part.substr(eq + 1));
        if (arg.key.empty() || arg.value.empty()) {
          return Error("argument '", part, "' is not key=value");
        }
      }
      for (const Arg& other : args_) {
        if (other.key == arg.key) {
          return Error(arg.key.empty() ? std::string("more than one positional argument")
                                       : "argument '" + std::string(arg.key) + "' given twice");
        }
      }
      args_.push_back(arg);
    }
    used_.assign(args_.size(), false);
    return Status::Ok();
  }

  std::string_view name() const { return name_; }

  // The value of `key` ("" = positional), if present.
  std::optional<std::string_view> Get(std::string_view key) {
    for (size_t i = 0; i < args_.size(); ++i) {
      if (args_[i].key == key) {
        used_[i] = true;
        return args_[i].value;
      }
    }
    return std::nullopt;
  }

  Status CheckAllUsed() const {
    for (size_t i = 0; i < args_.size(); ++i) {
      if (!used_[i]) {
        if (args_[i].key.empty()) {
          return Error("'", name_, "' takes no positional argument (got '",
                       args_[i].value, "')");
        }
        return Error("unknown argument '", args_[i].key, "' for '", name_, "'");
      }
    }
    return Status::Ok();
  }

  Result<double> Double(std::string_view what, std::string_view text) const {
    double v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
      return Error(what, " '", text, "' is not a number");
    }
    return v;
  }

  Result<uint64_t> Unsigned(std::string_view what, std::string_view text, uint64_t lo,
                            uint64_t hi) const {
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Error(what, " '", text, "' is not a non-negative integer");
    }
    if (v < lo || v > hi) {
      return Error(what, " ", v, " is outside [", lo, ", ", hi, "]");
    }
    return v;
  }

  // topk/randk/fedzip: a positional fraction or k=<count>.
  Result<SparsityLevel> Level() {
    const auto fraction = Get("");
    const auto count = Get("k");
    if (fraction.has_value() == count.has_value()) {
      return Error("'", name_, "' needs a fraction (", name_, ":0.01) or a count (", name_,
                   ":k=1000)");
    }
    if (count) {
      MURMUR_ASSIGN_OR_RETURN(uint64_t k, Unsigned("k", *count, 1, kMaxCodecDimension));
      return SparsityLevel::Count(k);
    }
    MURMUR_ASSIGN_OR_RETURN(double f, Double("fraction", *fraction));
    if (!(f > 0 && f <= 1)) return Error("fraction ", f, " must be in (0, 1]");
    return SparsityLevel::Fraction(f);
  }

  template <typename... Args>
  Status Error(const Args&... args) const {
    return Status::InvalidArgument("codec spec \"", spec_, "\": stage ", index_ + 1, " \"",
                                   text_, "\": ", args...);
  }

 private:
  std::string_view spec_;
  size_t index_;
  std::string_view text_;
  std::string_view name_;
  std::vector<Arg> args_;
  std::vector<bool> used_;
};

enum class Kind { kStructure, kValues, kZstd };

std::optional<Kind> KindOf(std::string_view name) {
  if (name == "topk" || name == "randk" || name == "powersgd" || name == "fedzip") {
    return Kind::kStructure;
  }
  if (name == "fp32" || name == "fp16" || name == "bf16" || name == "sign" ||
      name == "int8" || name == "int4" || name == "int2" || name == "rqm") {
    return Kind::kValues;
  }
  if (name == "zstd") return Kind::kZstd;
  return std::nullopt;
}

Result<std::unique_ptr<Codec>> MakeValues(Stage& stage) {
  const std::string_view name = stage.name();
  std::unique_ptr<Codec> codec;
  if (name == "fp32") codec = std::make_unique<Fp32Codec>();
  if (name == "fp16") codec = std::make_unique<Fp16Codec>();
  if (name == "bf16") codec = std::make_unique<Bf16Codec>();
  if (name == "sign") codec = std::make_unique<ScaledSignCodec>();
  if (name == "int8" || name == "int4" || name == "int2") {
    QsgdOptions options;
    options.bits = name[3] - '0';
    if (auto block = stage.Get("block")) {
      MURMUR_ASSIGN_OR_RETURN(uint64_t b, stage.Unsigned("block", *block, 0, kMaxCodecDimension));
      options.block = static_cast<uint32_t>(b);
    }
    if (auto round = stage.Get("round")) {
      if (*round == "stochastic") {
        options.rounding = Rounding::kStochastic;
      } else if (*round == "nearest") {
        options.rounding = Rounding::kNearest;
      } else {
        return stage.Error("round '", *round, "' is not stochastic or nearest");
      }
    }
    codec = std::make_unique<QsgdCodec>(options);
  }
  if (name == "rqm") {
    RqmConfig config;
    if (auto v = stage.Get("clip")) {
      MURMUR_ASSIGN_OR_RETURN(config.clip, stage.Double("clip", *v));
    }
    if (auto v = stage.Get("delta")) {
      MURMUR_ASSIGN_OR_RETURN(config.delta, stage.Double("delta", *v));
    }
    if (auto v = stage.Get("levels")) {
      MURMUR_ASSIGN_OR_RETURN(uint64_t m, stage.Unsigned("levels", *v, 3, 1u << 16));
      config.levels = static_cast<uint32_t>(m);
    }
    if (auto v = stage.Get("keep")) {
      MURMUR_ASSIGN_OR_RETURN(config.keep_probability, stage.Double("keep", *v));
    }
    if (Status s = Validate(config); !s.ok()) return stage.Error(s.message());
    codec = std::make_unique<RqmCodec>(config);
  }
  MURMUR_RETURN_IF_ERROR(stage.CheckAllUsed());
  return codec;
}

Result<std::unique_ptr<Codec>> MakeStructure(Stage& stage, std::unique_ptr<Codec> values) {
  const std::string_view name = stage.name();
  std::unique_ptr<Codec> codec;
  if (name == "topk") {
    MURMUR_ASSIGN_OR_RETURN(SparsityLevel level, stage.Level());
    codec = std::make_unique<TopKCodec>(level, std::move(values));
  } else if (name == "randk") {
    MURMUR_ASSIGN_OR_RETURN(SparsityLevel level, stage.Level());
    RandKScaling scaling = RandKScaling::kUnbiased;
    if (auto s = stage.Get("scaling")) {
      if (*s == "unbiased") {
        scaling = RandKScaling::kUnbiased;
      } else if (*s == "none") {
        scaling = RandKScaling::kNone;
      } else {
        return stage.Error("scaling '", *s, "' is not unbiased or none");
      }
    }
    codec = std::make_unique<RandKCodec>(level, scaling, std::move(values));
  } else if (name == "powersgd") {
    PowerSgdOptions options;
    const auto positional = stage.Get("");
    const auto keyed = stage.Get("rank");
    if (positional && keyed) return stage.Error("rank given twice");
    if (!positional && !keyed) return stage.Error("'powersgd' needs a rank (powersgd:4)");
    MURMUR_ASSIGN_OR_RETURN(uint64_t rank,
                            stage.Unsigned("rank", positional ? *positional : *keyed, 1, 1024));
    options.rank = static_cast<uint32_t>(rank);
    if (auto rows = stage.Get("rows")) {
      MURMUR_ASSIGN_OR_RETURN(uint64_t r, stage.Unsigned("rows", *rows, 1, kMaxCodecDimension));
      options.rows = static_cast<uint32_t>(r);
    }
    codec = std::make_unique<PowerSgdCodec>(options, std::move(values));
  } else {  // fedzip
    if (values != nullptr) {
      return stage.Error("'fedzip' quantizes its own values; drop the values stage after it");
    }
    MURMUR_ASSIGN_OR_RETURN(SparsityLevel level, stage.Level());
    int clusters = 8;
    if (auto c = stage.Get("clusters")) {
      MURMUR_ASSIGN_OR_RETURN(uint64_t n, stage.Unsigned("clusters", *c, FedZipCodec::kMinClusters,
                                                         FedZipCodec::kMaxClusters));
      clusters = static_cast<int>(n);
    }
    codec = std::make_unique<FedZipCodec>(level, clusters);
  }
  MURMUR_RETURN_IF_ERROR(stage.CheckAllUsed());
  return codec;
}

}  // namespace

Result<std::unique_ptr<Codec>> MakeCodec(std::string_view spec) {
  const std::string_view trimmed = Trim(spec);
  if (trimmed.empty()) {
    return Status::InvalidArgument(
        "codec spec is empty; try \"fp32\", \"int8\" or \"topk:0.01|int8|zstd\"");
  }
  std::vector<Stage> stages;
  const std::vector<std::string_view> parts = Split(trimmed, '|');
  for (size_t i = 0; i < parts.size(); ++i) {
    stages.emplace_back(spec, i, parts[i]);
    if (parts[i].empty()) return stages.back().Error("empty stage");
    MURMUR_RETURN_IF_ERROR(stages.back().Parse());
  }
  // Order: [structure] [values] [zstd], each at most once.
  Stage* structure = nullptr;
  Stage* values = nullptr;
  Stage* zstd = nullptr;
  int last = -1;
  for (Stage& stage : stages) {
    const std::optional<Kind> kind = KindOf(stage.name());
    if (!kind) {
      return stage.Error("unknown codec '", stage.name(),
                         "' (known: topk, randk, powersgd, fedzip, fp32, fp16, bf16, "
                         "sign, int8, int4, int2, rqm, zstd)");
    }
    const int rank = static_cast<int>(*kind);
    if (rank <= last) {
      return stage.Error("'", stage.name(),
                         "' is out of place: stages go [topk|randk|powersgd|fedzip] then "
                         "[fp32|fp16|bf16|sign|int8|int4|int2|rqm] then [zstd], each at most once");
    }
    last = rank;
    if (*kind == Kind::kStructure) structure = &stage;
    if (*kind == Kind::kValues) values = &stage;
    if (*kind == Kind::kZstd) zstd = &stage;
  }

  std::unique_ptr<Codec> codec;
  if (values != nullptr) {
    MURMUR_ASSIGN_OR_RETURN(codec, MakeValues(*values));
  }
  if (structure != nullptr) {
    if (codec != nullptr && codec->id() == CodecId::kRqm) {
      // A structure stage hands its values codec the kept values, whose
      // privacy RQM alone does not cover (the support is data-dependent).
      return values->Error("'rqm' is a DP mechanism over the whole vector: drop the '",
                           structure->name(), "' stage before it");
    }
    MURMUR_ASSIGN_OR_RETURN(codec, MakeStructure(*structure, std::move(codec)));
  }
  if (codec == nullptr) codec = std::make_unique<Fp32Codec>();
  if (zstd != nullptr) {
    int level = ZstdCodec::kDefaultLevel;
    const auto positional = zstd->Get("");
    const auto keyed = zstd->Get("level");
    if (positional && keyed) return zstd->Error("level given twice");
    if (positional || keyed) {
      MURMUR_ASSIGN_OR_RETURN(uint64_t l, zstd->Unsigned("level", positional ? *positional : *keyed,
                                                         ZstdCodec::kMinLevel,
                                                         ZstdCodec::kMaxLevel));
      level = static_cast<int>(l);
    }
    MURMUR_RETURN_IF_ERROR(zstd->CheckAllUsed());
    codec = std::make_unique<ZstdCodec>(std::move(codec), level);
  }
  return codec;
}

}  // namespace murmur
