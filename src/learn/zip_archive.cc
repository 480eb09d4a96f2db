#include "learn/zip_archive.h"

#include <unzip.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace murmur {
namespace {

// Deflate's best case is about 1032:1 (a 258-byte match in ~2 bits); no real
// stream inflates further, so a larger declared size is a lie.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr uint64_t kDeflateSlack = 1024;
constexpr size_t kReadChunk = size_t{1} << 20;

}  // namespace

Result<std::unique_ptr<ZipArchive>> ZipArchive::Open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::NotFound("file '", path, "' not found");
  }
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::NotFound("cannot read the size of '", path, "': ", ec.message());
  unzFile handle = unzOpen64(path.c_str());
  if (handle == nullptr) {
    return Status::Corrupt("'", path,
                           "' is not a zip archive (an .npz is one: numpy.savez or "
                           "numpy.savez_compressed writes it)");
  }
  return std::unique_ptr<ZipArchive>(new ZipArchive(path, handle, size));
}

ZipArchive::~ZipArchive() { unzClose(static_cast<unzFile>(handle_)); }

bool ZipArchive::Has(const std::string& name) {
  return unzLocateFile(static_cast<unzFile>(handle_), name.c_str(), /*iCaseSensitivity=*/1) ==
         UNZ_OK;
}

Result<std::vector<uint8_t>> ZipArchive::Read(const std::string& name) {
  unzFile zip = static_cast<unzFile>(handle_);
  if (unzLocateFile(zip, name.c_str(), 1) != UNZ_OK) {
    return Status::NotFound("'", path_, "' has no member '", name, "'");
  }
  unz_file_info64 info;
  if (unzGetCurrentFileInfo64(zip, &info, nullptr, 0, nullptr, 0, nullptr, 0) != UNZ_OK) {
    return Status::Corrupt("'", path_, "': cannot read the header of member '", name, "'");
  }
  const std::string where = "'" + path_ + "', member '" + name + "'";
  if ((info.flag & 1) != 0) return Status::Corrupt(where, " is encrypted");
  if (info.compression_method != 0 && info.compression_method != Z_DEFLATED) {
    return Status::Corrupt(where, " uses compression method ", info.compression_method,
                           " (only stored and deflate are read)");
  }
  if (info.compressed_size > file_size_) {
    return Status::Corrupt(where, " declares ", info.compressed_size,
                           " compressed bytes but the file has ", file_size_);
  }
  const uint64_t limit = info.compression_method == 0
                             ? info.compressed_size
                             : info.compressed_size * kMaxDeflateRatio + kDeflateSlack;
  if (info.uncompressed_size > limit) {
    return Status::Corrupt(where, " declares ", info.uncompressed_size, " bytes from ",
                           info.compressed_size, " compressed ones, more than ",
                           info.compression_method == 0 ? "a stored member holds"
                                                        : "deflate can produce");
  }
  if (unzOpenCurrentFile(zip) != UNZ_OK) {
    return Status::Corrupt(where, ": cannot open its data");
  }
  std::vector<uint8_t> out;
  while (out.size() < info.uncompressed_size) {
    const size_t chunk =
        static_cast<size_t>(std::min<uint64_t>(kReadChunk, info.uncompressed_size - out.size()));
    const size_t old = out.size();
    out.resize(old + chunk);
    const int n = unzReadCurrentFile(zip, out.data() + old, static_cast<unsigned>(chunk));
    if (n < 0) {
      unzCloseCurrentFile(zip);
      return Status::Corrupt(where, " is damaged (minizip error ", n, ")");
    }
    out.resize(old + static_cast<size_t>(n));
    if (n == 0) break;
  }
  const int closed = unzCloseCurrentFile(zip);
  if (out.size() != info.uncompressed_size) {
    return Status::Corrupt(where, " is truncated: ", out.size(), " of ", info.uncompressed_size,
                           " bytes");
  }
  if (closed == UNZ_CRCERROR) return Status::Corrupt(where, " fails its CRC check");
  if (closed != UNZ_OK) return Status::Corrupt(where, " is damaged (minizip error ", closed, ")");
  return out;
}

}  // namespace murmur
