#include "murmur/runtime/cookie.h"

#include <sodium.h>

#include "murmur/core/check.h"

namespace murmur::net {
namespace {

constexpr std::string_view kCookieContext = "murmur/3 cookie";

}  // namespace

CookieMinter::CookieMinter(Duration rotation) : rotation_(rotation) {
  MURMUR_CHECK(rotation.ns > 0);
  MURMUR_CHECK(sodium_init() >= 0);
}

CookieMinter::~CookieMinter() {
  sodium_memzero(current_.data(), current_.size());
  sodium_memzero(previous_.data(), previous_.size());
}

void CookieMinter::Advance(SimTime now) {
  if (!started_) {
    started_ = true;
    start_ = now;
    randombytes_buf(current_.data(), current_.size());
    ++rotations_;
    return;
  }
  const int64_t epoch = (now - start_).ns / rotation_.ns;
  MURMUR_CHECK(epoch >= epoch_);
  if (epoch == epoch_) return;
  // The previous epoch's secret stays valid for one more epoch; anything
  // older is gone.
  have_previous_ = epoch == epoch_ + 1;
  if (have_previous_) previous_ = current_;
  randombytes_buf(current_.data(), current_.size());
  epoch_ = epoch;
  ++rotations_;
}

Cookie CookieMinter::Mint(const std::array<uint8_t, 32>& secret, std::string_view source) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, secret.data(), secret.size(), kCookieSize);
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(kCookieContext.data()),
                            kCookieContext.size());
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(source.data()),
                            source.size());
  Cookie cookie{};
  crypto_generichash_final(&state, cookie.data(), cookie.size());
  return cookie;
}

std::vector<Cookie> CookieMinter::Accepted(std::string_view source, SimTime now) {
  Advance(now);
  std::vector<Cookie> out{Mint(current_, source)};
  if (have_previous_) out.push_back(Mint(previous_, source));
  return out;
}

Cookie CookieMinter::Make(std::string_view source, SimTime now) {
  Advance(now);
  return Mint(current_, source);
}

}  // namespace murmur::net
