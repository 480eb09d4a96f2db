#include "murmur/learn/checkpoint.h"

#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "murmur/core/bytes.h"

namespace murmur {
namespace {

constexpr char kMagic[8] = {'M', 'R', 'M', 'R', 'C', 'K', 'P', 'T'};
constexpr size_t kHeaderBytes = 8 + 4 + 8;
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

}  // namespace

std::vector<uint8_t> EncodeCheckpoint(std::span<const float> params) {
  ByteWriter out(kHeaderBytes + params.size_bytes() + kCrcBytes);
  out.WriteBytes({reinterpret_cast<const uint8_t*>(kMagic), sizeof kMagic});
  out.WriteU32(kCheckpointVersion);
  out.WriteU64(params.size());
  for (float v : params) out.WriteF32(v);
  const uint32_t crc = Crc32(out.bytes());
  out.WriteU32(crc);
  return std::move(out).Take();
}

Result<std::vector<float>> DecodeCheckpoint(std::span<const uint8_t> bytes,
                                            int64_t expected_params) {
  if (bytes.size() < kHeaderBytes + kCrcBytes) {
    return Status::Corrupt("checkpoint: ", bytes.size(),
                           " bytes is shorter than the header and CRC (",
                           kHeaderBytes + kCrcBytes, " bytes)");
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return Status::Corrupt("checkpoint: bad magic (not a murmur checkpoint)");
  }
  ByteReader in(bytes.subspan(sizeof kMagic));
  MURMUR_ASSIGN_OR_RETURN(uint32_t version, in.ReadU32());
  if (version != kCheckpointVersion) {
    return Status::Corrupt("checkpoint: unsupported format version ", version,
                           " (this build reads version ", kCheckpointVersion, ")");
  }
  MURMUR_ASSIGN_OR_RETURN(uint64_t count, in.ReadU64());
  const uint64_t payload = bytes.size() - kHeaderBytes - kCrcBytes;
  if (count > payload / sizeof(float) || count * sizeof(float) != payload) {
    return Status::Corrupt("checkpoint: header says ", count, " parameters (",
                           count > payload ? 0 : count * sizeof(float), " bytes) but the file holds ",
                           payload, " bytes of parameters: truncated or padded");
  }
  const size_t body = kHeaderBytes + payload;
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + body, sizeof stored_crc);
  const uint32_t crc = Crc32(bytes.first(body));
  if (crc != stored_crc) {
    return Status::Corrupt("checkpoint: CRC mismatch (stored ", stored_crc, ", computed ", crc,
                           "): the file is damaged");
  }
  if (static_cast<int64_t>(count) != expected_params) {
    return Status::InvalidArgument("checkpoint holds ", count, " parameters but the model has ",
                                   expected_params,
                                   ": it was saved from a different model.kind/hidden/data shape");
  }
  std::vector<float> params(count);
  // (An empty vector's data() may be null: no memcpy of nothing into it.)
  if (count > 0) std::memcpy(params.data(), bytes.data() + kHeaderBytes, payload);
  for (size_t i = 0; i < params.size(); ++i) {
    if (!std::isfinite(params[i])) {
      return Status::Corrupt("checkpoint: parameter ", i, " is not finite");
    }
  }
  return params;
}

Status SaveCheckpoint(const std::string& path, std::span<const float> params) {
  const std::vector<uint8_t> bytes = EncodeCheckpoint(params);
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

Result<std::vector<float>> LoadCheckpoint(const std::string& path, int64_t expected_params) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("checkpoint file ", path,
                            " not found; produce one with train.save_checkpoint");
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  Result<std::vector<float>> params = DecodeCheckpoint(bytes, expected_params);
  if (!params.ok()) {
    return Status(params.status().code(), path + ": " + params.status().message());
  }
  return params;
}

}  // namespace murmur
