#include "murmur/learn/checkpoint.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "murmur/core/bytes.h"

namespace murmur {
namespace {

constexpr char kMagic[8] = {'M', 'R', 'M', 'R', 'C', 'K', 'P', 'T'};
constexpr size_t kCrcBytes = 4;

uint32_t Crc32(std::span<const uint8_t> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large buffers in pieces.
  constexpr size_t kPiece = size_t{1} << 30;
  for (size_t at = 0; at < bytes.size(); at += kPiece) {
    const size_t n = std::min(kPiece, bytes.size() - at);
    crc = crc32(crc, bytes.data() + at, static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(crc);
}

// "mlp-128 [100352,128,1280,10]" -> "mlp-128"; a name longer than a line
// is cut, for messages.
std::string NameOf(std::string_view architecture) {
  std::string name(architecture.substr(0, architecture.rfind(" [")));
  return name.size() > 200 ? name.substr(0, 200) + "..." : name;
}

// The first tensor whose size differs, as " (tensor 3: 1280 values, not
// 640)", when both architectures list their sizes; else "".
std::string FirstDifference(std::string_view saved, std::string_view expected) {
  auto sizes = [](std::string_view a) {
    std::vector<std::string> out;
    const size_t open = a.rfind(" [");
    if (open == std::string_view::npos || a.back() != ']') return out;
    std::string_view list = a.substr(open + 2, a.size() - open - 3);
    size_t from = 0;
    while (from <= list.size()) {
      const size_t comma = std::min(list.find(',', from), list.size());
      out.emplace_back(list.substr(from, comma - from));
      from = comma + 1;
    }
    return out;
  };
  const std::vector<std::string> a = sizes(saved);
  const std::vector<std::string> b = sizes(expected);
  if (a.empty() || b.empty()) return "";
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] != b[i]) {
      return " (parameter tensor " + std::to_string(i) + ": " + a[i] + " values in the checkpoint, " +
             b[i] + " in the model)";
    }
  }
  return " (" + std::to_string(a.size()) + " parameter tensors in the checkpoint, " +
         std::to_string(b.size()) + " in the model)";
}

Status ArchitectureMismatch(std::string_view saved, uint64_t saved_count,
                            std::string_view expected, int64_t expected_params) {
  return Status::InvalidArgument(
      "checkpoint was saved from model ", NameOf(saved), " (", saved_count,
      " parameters) but the config builds ", NameOf(expected), " (", expected_params,
      " parameters)", FirstDifference(saved, expected),
      ": set the model.* keys (and data) it was trained with, or drop model.init_checkpoint");
}

}  // namespace

std::string CheckpointArchitecture(const Model& model) {
  std::string out = model.architecture() + " [";
  const std::vector<ParamTensor> tensors = model.tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(tensors[i].size);
  }
  return out + "]";
}

std::vector<uint8_t> EncodeCheckpoint(std::span<const float> params,
                                      std::string_view architecture) {
  MURMUR_CHECK(architecture.size() <= kMaxArchitectureBytes);
  ByteWriter out(8 + 4 + 4 + architecture.size() + 8 + params.size_bytes() + kCrcBytes);
  out.WriteBytes({reinterpret_cast<const uint8_t*>(kMagic), sizeof kMagic});
  out.WriteU32(kCheckpointVersion);
  out.WriteU32(static_cast<uint32_t>(architecture.size()));
  out.WriteBytes({reinterpret_cast<const uint8_t*>(architecture.data()), architecture.size()});
  out.WriteU64(params.size());
  for (float v : params) out.WriteF32(v);
  const uint32_t crc = Crc32(out.bytes());
  out.WriteU32(crc);
  return std::move(out).Take();
}

Result<std::vector<float>> DecodeCheckpoint(std::span<const uint8_t> bytes,
                                            std::string_view expected_architecture,
                                            int64_t expected_params) {
  if (bytes.size() < sizeof kMagic + 4 + kCrcBytes) {
    return Status::Corrupt("checkpoint: ", bytes.size(),
                           " bytes is shorter than the magic, version and CRC");
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return Status::Corrupt("checkpoint: bad magic (not a murmur checkpoint)");
  }
  // Everything up to the CRC; the reader never sees the CRC's bytes.
  const std::span<const uint8_t> body = bytes.first(bytes.size() - kCrcBytes);
  ByteReader in(body.subspan(sizeof kMagic));
  MURMUR_ASSIGN_OR_RETURN(uint32_t version, in.ReadU32());
  if (version != 1 && version != kCheckpointVersion) {
    return Status::Corrupt("checkpoint: unsupported format version ", version,
                           " (this build reads versions 1 and ", kCheckpointVersion, ")");
  }
  std::string_view architecture;  // version 1 records none
  if (version >= 2) {
    MURMUR_ASSIGN_OR_RETURN(uint32_t length, in.ReadU32());
    if (length > kMaxArchitectureBytes || length > in.remaining()) {
      return Status::Corrupt("checkpoint: architecture of ", length, " bytes exceeds the ",
                             in.remaining(), " bytes left (or the limit of ",
                             kMaxArchitectureBytes, ")");
    }
    const size_t at = sizeof kMagic + in.position();
    architecture = {reinterpret_cast<const char*>(body.data() + at), length};
    in = ByteReader(body.subspan(at + length));
  }
  MURMUR_ASSIGN_OR_RETURN(uint64_t count, in.ReadU64());
  const uint64_t payload = in.remaining();
  if (count > payload / sizeof(float) || count * sizeof(float) != payload) {
    return Status::Corrupt("checkpoint: header says ", count, " parameters (",
                           count > payload ? 0 : count * sizeof(float), " bytes) but the file holds ",
                           payload, " bytes of parameters: truncated or padded");
  }
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + body.size(), sizeof stored_crc);
  const uint32_t crc = Crc32(body);
  if (crc != stored_crc) {
    return Status::Corrupt("checkpoint: CRC mismatch (stored ", stored_crc, ", computed ", crc,
                           "): the file is damaged");
  }
  if (version >= 2 && architecture != expected_architecture) {
    return ArchitectureMismatch(architecture, count, expected_architecture, expected_params);
  }
  if (static_cast<int64_t>(count) != expected_params) {
    return Status::InvalidArgument("checkpoint holds ", count, " parameters but the model (",
                                   NameOf(expected_architecture), ") has ", expected_params,
                                   ": it was saved from a different model.kind/hidden/data shape");
  }
  std::vector<float> params(count);
  // (An empty vector's data() may be null: no memcpy of nothing into it.)
  if (count > 0) std::memcpy(params.data(), body.data() + (body.size() - payload), payload);
  for (size_t i = 0; i < params.size(); ++i) {
    if (!std::isfinite(params[i])) {
      return Status::Corrupt("checkpoint: parameter ", i, " is not finite");
    }
  }
  return params;
}

Status SaveCheckpoint(const std::string& path, std::span<const float> params,
                      std::string_view architecture) {
  const std::vector<uint8_t> bytes = EncodeCheckpoint(params, architecture);
  const std::string tmp = path + ".tmp";
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::Unavailable("cannot write checkpoint file ", tmp);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) return Status::Unavailable("writing checkpoint file ", tmp, " failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Unavailable("cannot rename ", tmp, " to ", path);
  }
  return Status::Ok();
}

Result<std::vector<float>> LoadCheckpoint(const std::string& path,
                                          std::string_view expected_architecture,
                                          int64_t expected_params) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("checkpoint file ", path,
                            " not found; produce one with train.save_checkpoint");
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  Result<std::vector<float>> params = DecodeCheckpoint(bytes, expected_architecture, expected_params);
  if (!params.ok()) {
    return Status(params.status().code(), path + ": " + params.status().message());
  }
  return params;
}

}  // namespace murmur
