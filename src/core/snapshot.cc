#include "murmur/core/snapshot.h"

#include <cstring>

#include "murmur/core/host.h"

namespace murmur {
namespace {

template <typename T>
void Append(std::vector<uint8_t>& out, T v) {
  uint8_t raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));
  // Little-endian on every machine murmur builds on (x86-64, aarch64).
  out.insert(out.end(), raw, raw + sizeof(T));
}

template <typename T>
void AppendArray(std::vector<uint8_t>& out, std::span<const T> v) {
  Append<uint64_t>(out, v.size());
  const auto* raw = reinterpret_cast<const uint8_t*>(v.data());
  out.insert(out.end(), raw, raw + v.size_bytes());
}

}  // namespace

void SnapshotWriter::U32(uint32_t v) { Append(bytes_, v); }
void SnapshotWriter::U64(uint64_t v) { Append(bytes_, v); }
void SnapshotWriter::F64(double v) { Append(bytes_, v); }
void SnapshotWriter::Bytes(std::span<const uint8_t> v) { AppendArray(bytes_, v); }
void SnapshotWriter::Floats(std::span<const float> v) { AppendArray(bytes_, v); }
void SnapshotWriter::Doubles(std::span<const double> v) { AppendArray(bytes_, v); }
void SnapshotWriter::I64s(std::span<const int64_t> v) { AppendArray(bytes_, v); }
void SnapshotWriter::String(std::string_view v) {
  Bytes({reinterpret_cast<const uint8_t*>(v.data()), v.size()});
}

void SnapshotReader::Fail(Status status) {
  if (status_.ok()) status_ = std::move(status);
}

bool SnapshotReader::Need(size_t n, const char* field) {
  if (!status_.ok()) return false;
  if (n <= remaining()) return true;
  Fail(Status::Corrupt("snapshot truncated: ", field, " needs ", n, " bytes, ", remaining(),
                       " left at offset ", pos_));
  return false;
}

uint8_t SnapshotReader::U8(const char* field) {
  if (!Need(1, field)) return 0;
  return bytes_[pos_++];
}

bool SnapshotReader::Bool(const char* field) {
  const uint8_t v = U8(field);
  if (v > 1) Fail(Status::Corrupt("snapshot: ", field, " is ", int{v}, ", not a bool"));
  return v == 1;
}

template <typename T>
T SnapshotReader::Scalar(const char* field) {
  T v{};
  if (!Need(sizeof v, field)) return T{};
  std::memcpy(&v, bytes_.data() + pos_, sizeof v);
  pos_ += sizeof v;
  return v;
}

uint32_t SnapshotReader::U32(const char* field) { return Scalar<uint32_t>(field); }
uint64_t SnapshotReader::U64(const char* field) { return Scalar<uint64_t>(field); }
double SnapshotReader::F64(const char* field) { return Scalar<double>(field); }

uint64_t SnapshotReader::Count(const char* field, size_t min_element_bytes) {
  const uint64_t n = U64(field);
  if (!status_.ok()) return 0;
  if (min_element_bytes > 0 && n > remaining() / min_element_bytes) {
    Fail(Status::Corrupt("snapshot: ", field, " claims ", n, " elements, more than the ",
                         remaining(), " bytes left hold"));
    return 0;
  }
  return n;
}

uint64_t SnapshotReader::CountAtMost(const char* field, uint64_t max, size_t min_element_bytes) {
  const uint64_t n = Count(field, min_element_bytes);
  if (n > max) {
    Fail(Status::Corrupt("snapshot: ", field, " is ", n, ", at most ", max, " allowed"));
    return 0;
  }
  return n;
}

namespace {

template <typename T>
std::vector<T> ReadArray(SnapshotReader& r, const char* field, std::span<const uint8_t> bytes,
                         size_t& pos) {
  const uint64_t n = r.Count(field, sizeof(T));
  if (!r.ok()) return {};
  std::vector<T> out(n);
  if (n > 0) std::memcpy(out.data(), bytes.data() + pos, n * sizeof(T));  // data() may be null when n is 0
  pos += n * sizeof(T);
  return out;
}

}  // namespace

std::vector<uint8_t> SnapshotReader::Bytes(const char* field) {
  return ReadArray<uint8_t>(*this, field, bytes_, pos_);
}
std::vector<float> SnapshotReader::Floats(const char* field) {
  return ReadArray<float>(*this, field, bytes_, pos_);
}
std::vector<double> SnapshotReader::Doubles(const char* field) {
  return ReadArray<double>(*this, field, bytes_, pos_);
}
std::vector<int64_t> SnapshotReader::I64s(const char* field) {
  return ReadArray<int64_t>(*this, field, bytes_, pos_);
}

std::vector<PeerId> SnapshotReader::Peers(const char* field) {
  const uint64_t n = CountAtMost(field, uint64_t{1} << 32, sizeof(uint32_t));
  std::vector<PeerId> peers;
  peers.reserve(n);
  for (uint64_t i = 0; i < n && ok(); ++i) peers.emplace_back(U32(field));
  return peers;
}

void SnapshotReader::FloatsInto(const char* field, std::span<float> out) {
  const uint64_t n = Count(field, sizeof(float));
  if (!ok()) return;
  if (n != out.size()) {
    Fail(Status::Corrupt("snapshot: ", field, " has ", n, " floats, expected ", out.size()));
    return;
  }
  std::memcpy(out.data(), bytes_.data() + pos_, n * sizeof(float));
  pos_ += n * sizeof(float);
}

std::string SnapshotReader::String(const char* field) {
  const std::vector<uint8_t> raw = Bytes(field);
  return std::string(raw.begin(), raw.end());
}

void SnapshotReader::Random(const char* field, Rng& rng) {
  const uint64_t position = U64(field);
  if (!ok()) return;
  if (position < rng.position()) {
    Fail(Status::Corrupt("snapshot: random stream ", field, " at ", position,
                         " lies before its start ", rng.position()));
    return;
  }
  rng.Discard(position - rng.position());
}

void SnapshotReader::Section(uint32_t tag, const char* name) {
  const uint32_t got = U32(name);
  if (ok() && got != tag) {
    Fail(Status::Corrupt("snapshot: section ", name, " not found (marker ", got, ", expected ",
                         tag, ")"));
  }
}

}  // namespace murmur

namespace murmur {

Status Node::Restore(SnapshotReader& /*in*/) {
  return Status::InvalidArgument("this protocol's nodes cannot be restored from a snapshot");
}

}  // namespace murmur
