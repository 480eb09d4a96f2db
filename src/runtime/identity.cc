#include "murmur/runtime/identity.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace murmur::net {
namespace {

// Reads a small secret file holding 64 hex digits into `out`, refusing one
// that group or others can access.
Status ReadSecretHex(const std::string& path, std::span<uint8_t, 32> out, const char* what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound(what, " file '", path, "' not found");
  }
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument(what, " file '", path, "' has mode 0", std::oct,
                                   (st.st_mode & 0777), std::dec,
                                   ", readable by others; run: chmod 600 ", path);
  }
  std::ifstream in(path);
  if (!in) return Status::Unavailable("cannot read ", what, " file '", path, "'");
  std::string hex;
  in >> hex;
  if (Status s = FromHex(hex, out); !s.ok()) {
    return Status::InvalidArgument(what, " file '", path, "': ", s.message());
  }
  return Status::Ok();
}

Status WriteSecretHex(const std::string& path, std::span<const uint8_t> bytes,
                      const char* what) {
  const std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    return Status::Unavailable("cannot create ", what, " file '", path, "': ",
                               std::strerror(errno));
  }
  const std::string text = ToHex(bytes) + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) return Status::Unavailable("cannot write ", what, " file '", path, "'");
  return Status::Ok();
}

}  // namespace

Status InitCrypto() {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialize");
  return Status::Ok();
}

std::string ToHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

Status FromHex(std::string_view hex, std::span<uint8_t> out) {
  if (hex.size() != 2 * out.size()) {
    return Status::InvalidArgument("expected ", 2 * out.size(), " hex digits, got ", hex.size());
  }
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = digit(hex[2 * i]);
    const int lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("'", hex.substr(2 * i, 2), "' is not a hex byte");
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return Status::Ok();
}

std::string PeerName(const PublicKey& key) {
  std::array<uint8_t, 8> digest{};
  crypto_generichash(digest.data(), digest.size(), key.data(), key.size(), nullptr, 0);
  return "mm-" + ToHex(digest);
}

Identity Identity::Generate() {
  std::array<uint8_t, 32> seed{};
  randombytes_buf(seed.data(), seed.size());
  return FromSeed(seed);
}

Identity Identity::FromSeed(std::span<const uint8_t, 32> seed) {
  MURMUR_CHECK(InitCrypto().ok());
  Identity id;
  std::copy(seed.begin(), seed.end(), id.seed_.begin());
  crypto_sign_seed_keypair(id.public_key_.data(), id.secret_key_.data(), id.seed_.data());
  return id;
}

Result<Identity> Identity::LoadOrCreate(const std::string& path) {
  MURMUR_RETURN_IF_ERROR(InitCrypto());
  std::array<uint8_t, 32> seed{};
  Status read = ReadSecretHex(path, seed, "key");
  if (read.code() == StatusCode::kNotFound) {
    randombytes_buf(seed.data(), seed.size());
    MURMUR_RETURN_IF_ERROR(WriteSecretHex(path, seed, "key"));
  } else if (!read.ok()) {
    return read;
  }
  Identity id = FromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return id;
}

Signature Identity::Sign(std::span<const uint8_t> message) const {
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_key_.data());
  return sig;
}

bool VerifySignature(const PublicKey& key, std::span<const uint8_t> message,
                     const Signature& signature) {
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     key.data()) == 0;
}

Result<NetworkKey> LoadNetworkKey(const std::string& path) {
  NetworkKey key{};
  MURMUR_RETURN_IF_ERROR(ReadSecretHex(path, key, "network key"));
  return key;
}

Status CreateNetworkKeyFile(const std::string& path) {
  MURMUR_RETURN_IF_ERROR(InitCrypto());
  NetworkKey key{};
  randombytes_buf(key.data(), key.size());
  return WriteSecretHex(path, key, "network key");
}

Result<uint64_t> BumpIncarnation(const std::string& path) {
  uint64_t current = 0;
  if (std::ifstream in(path); in) {
    std::string text;
    in >> text;
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        value == UINT64_MAX) {
      return Status::InvalidArgument("incarnation file '", path,
                                     "' does not hold a counter; delete it to start again at 1");
    }
    current = value;
  }
  const std::filesystem::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), ec);
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    return Status::Unavailable("cannot write incarnation file '", temp, "': ",
                               std::strerror(errno));
  }
  const std::string text = std::to_string(current + 1) + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    return Status::Unavailable("cannot write incarnation file '", path, "': ",
                               std::strerror(errno));
  }
  return current + 1;
}

Result<Allowlist> Allowlist::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("allowlist file '", path, "' not found");
  Allowlist list;
  std::set<uint32_t> slots;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string hex;
    int64_t slot = -1;
    if (!(fields >> hex)) continue;  // blank or comment
    std::string rest;
    PublicKey key{};
    if (!(fields >> slot) || slot < 0 || slot > UINT32_MAX || (fields >> rest) ||
        !FromHex(hex, key).ok()) {
      return Status::InvalidArgument(path, ":", line_no,
                                     ": expected 'PUBKEY_HEX SLOT' (64 hex digits, slot >= 0)");
    }
    if (!slots.insert(static_cast<uint32_t>(slot)).second) {
      return Status::InvalidArgument(path, ":", line_no, ": slot ", slot, " given twice");
    }
    list.Add(key, PeerOf(slot));
  }
  return list;
}

void Allowlist::Add(const PublicKey& key, PeerId slot) { slot_of_[key] = slot; }

Status Allowlist::Admit(const PublicKey& key, PeerId slot) const {
  if (slot_of_.empty()) return Status::Ok();
  auto it = slot_of_.find(key);
  if (it == slot_of_.end()) {
    return Status::Aborted("key ", PeerName(key), " is not in the allowlist");
  }
  if (it->second != slot) {
    return Status::Aborted("key ", PeerName(key), " claims slot ", slot,
                           " but the allowlist binds it to slot ", it->second);
  }
  return Status::Ok();
}

std::string Allowlist::ToText() const {
  std::string out = "# murmur allowlist: PUBKEY_HEX SLOT\n";
  for (const auto& [key, slot] : slot_of_) {
    out += ToHex(key) + " " + std::to_string(slot.value) + "\n";
  }
  return out;
}

}  // namespace murmur::net
