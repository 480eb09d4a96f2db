#include "murmur/runtime/secret_rng.h"

#include <sodium.h>

#include "murmur/core/check.h"

namespace murmur::net {

std::array<uint32_t, 4> DrawSecretRngKey() {
  MURMUR_CHECK(sodium_init() >= 0);
  std::array<uint32_t, 4> key{};
  randombytes_buf(key.data(), sizeof(key));
  return key;
}

Rng SecretRng() { return Rng::FromSecretKey(DrawSecretRngKey()); }

}  // namespace murmur::net
