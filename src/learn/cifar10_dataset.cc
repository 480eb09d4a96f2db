#include "murmur/learn/cifar10_dataset.h"

#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

namespace murmur {
namespace {

constexpr int64_t kSide = 32;
constexpr int64_t kPlane = kSide * kSide;
constexpr float kMean[3] = {0.4914f, 0.4822f, 0.4465f};
constexpr float kStd[3] = {0.2470f, 0.2435f, 0.2616f};

const char* const kTrainFiles[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                   "data_batch_4.bin", "data_batch_5.bin"};
const char* const kTestFile = "test_batch.bin";

Dataset EmptyCifar() {
  Dataset d;
  d.name = "cifar10";
  d.channels = 3;
  d.height = kSide;
  d.width = kSide;
  d.num_classes = 10;
  return d;
}

std::string NotFoundMessage(const std::string& dir, const std::string& missing) {
  return Status::Concat(
      "CIFAR-10 file '", missing, "' not found: data.path = '", dir,
      "' must hold data_batch_1.bin .. data_batch_5.bin and test_batch.bin, the binary "
      "version; get it with: wget https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz && "
      "tar xzf cifar-10-binary.tar.gz, then set data.path to the cifar-10-batches-bin "
      "directory");
}

Status LoadBatchFile(const std::string& path, Dataset& out) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::NotFound("cannot read '", path, "': ", ec.message());
  if (size == 0 || size % kCifar10RecordBytes != 0) {
    return Status::Corrupt("CIFAR-10 file '", path, "' has ", size,
                           " bytes, not a positive multiple of the 3073-byte record (label + "
                           "3x32x32 pixels); is it the binary version, unpacked whole?");
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in || static_cast<uint64_t>(in.gcount()) != size) {
    return Status::Unavailable("cannot read '", path, "'");
  }
  Status s = ParseCifar10Batch(bytes, out);
  if (!s.ok()) return Status(s.code(), Status::Concat("CIFAR-10 file '", path, "': ", s.message()));
  return Status::Ok();
}

}  // namespace

Status ParseCifar10Batch(std::span<const uint8_t> bytes, Dataset& out) {
  if (bytes.empty() || bytes.size() % kCifar10RecordBytes != 0) {
    return Status::Corrupt(bytes.size(), " bytes are not a positive multiple of the ",
                           kCifar10RecordBytes, "-byte record");
  }
  const size_t records = bytes.size() / kCifar10RecordBytes;
  std::array<std::array<float, 256>, 3> lut;
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) lut[c][v] = (static_cast<float>(v) / 255.0f - kMean[c]) / kStd[c];
  }
  out.labels.reserve(out.labels.size() + records);
  out.features.reserve(out.features.size() + records * 3 * kPlane);
  for (size_t r = 0; r < records; ++r) {
    const uint8_t* record = bytes.data() + r * kCifar10RecordBytes;
    if (record[0] >= 10) {
      return Status::Corrupt("record ", r, " has label ", int{record[0]}, ", not in [0, 10)");
    }
    out.labels.push_back(record[0]);
    for (int64_t i = 0; i < 3 * kPlane; ++i) {
      out.features.push_back(lut[i / kPlane][record[1 + i]]);
    }
  }
  return Status::Ok();
}

Result<TrainTestSplit> LoadCifar10(const std::string& dir) {
  std::vector<std::string> paths;
  for (const char* name : kTrainFiles) paths.push_back((std::filesystem::path(dir) / name).string());
  paths.push_back((std::filesystem::path(dir) / kTestFile).string());
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return Status::NotFound(NotFoundMessage(dir, path));
    }
  }
  TrainTestSplit split{EmptyCifar(), EmptyCifar()};
  for (size_t i = 0; i < paths.size(); ++i) {
    MURMUR_RETURN_IF_ERROR(LoadBatchFile(paths[i], i + 1 < paths.size() ? split.train : split.test));
  }
  return split;
}

}  // namespace murmur
