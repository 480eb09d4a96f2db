#include "compress/huffman.h"

#include <algorithm>
#include <queue>
#include <tuple>

namespace murmur::compress_internal {
namespace {

// Unlimited Huffman lengths of the used symbols.
std::vector<uint8_t> PlainLengths(std::span<const uint64_t> freqs) {
  const size_t n = freqs.size();
  std::vector<uint8_t> lengths(n, 0);
  // Nodes 0..n-1 are leaves, later ones internal; (freq, id) orders the
  // queue totally, so the tree is the same everywhere.
  using Item = std::pair<uint64_t, size_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue;
  std::vector<size_t> parent(n, 0);
  for (size_t s = 0; s < n; ++s) {
    if (freqs[s] > 0) queue.push({freqs[s], s});
  }
  if (queue.empty()) return lengths;
  if (queue.size() == 1) {
    lengths[queue.top().second] = 1;
    return lengths;
  }
  size_t next = n;
  while (queue.size() > 1) {
    const Item a = queue.top();
    queue.pop();
    const Item b = queue.top();
    queue.pop();
    parent.resize(next + 1);
    parent[a.second] = next;
    parent[b.second] = next;
    queue.push({a.first + b.first, next});
    ++next;
  }
  const size_t root = next - 1;
  for (size_t s = 0; s < n; ++s) {
    if (freqs[s] == 0) continue;
    int depth = 0;
    for (size_t node = s; node != root; node = parent[node]) ++depth;
    lengths[s] = static_cast<uint8_t>(std::min(depth, 255));
  }
  return lengths;
}

// First canonical code of each length, from the counts per length.
void FirstCodes(const uint16_t* count, uint32_t* first) {
  uint32_t code = 0;
  first[0] = 0;
  for (int len = 1; len <= kMaxHuffmanBits; ++len) {
    code = (code + count[len - 1]) << 1;
    first[len] = code;
  }
}

// Canonical codes of all symbols (DEFLATE's construction; length 0 unused).
std::vector<uint32_t> CanonicalCodes(std::span<const uint8_t> lengths) {
  uint16_t count[kMaxHuffmanBits + 1] = {};
  for (uint8_t len : lengths) count[len]++;
  count[0] = 0;
  uint32_t next[kMaxHuffmanBits + 1];
  FirstCodes(count, next);
  std::vector<uint32_t> codes(lengths.size(), 0);
  for (size_t s = 0; s < lengths.size(); ++s) {
    if (lengths[s] != 0) codes[s] = next[lengths[s]]++;
  }
  return codes;
}

}  // namespace

std::vector<uint8_t> HuffmanCodeLengths(std::span<const uint64_t> freqs, int max_bits) {
  MURMUR_CHECK(freqs.size() <= kMaxHuffmanSymbols);
  MURMUR_CHECK(max_bits >= 1 && max_bits <= kMaxHuffmanBits);
  std::vector<uint64_t> f(freqs.begin(), freqs.end());
  while (true) {
    std::vector<uint8_t> lengths = PlainLengths(f);
    if (lengths.empty() || *std::max_element(lengths.begin(), lengths.end()) <= max_bits) {
      return lengths;
    }
    // Flatten the distribution; used symbols stay used. Terminates: all
    // frequencies reach 1, a balanced tree of depth ceil(log2(used)).
    for (uint64_t& v : f) {
      if (v > 0) v = std::max<uint64_t>(1, v >> 1);
    }
  }
}

uint64_t HuffmanEncodedBits(std::span<const uint8_t> lengths,
                            std::span<const uint8_t> symbols) {
  uint64_t bits = 0;
  for (uint8_t s : symbols) bits += lengths[s];
  return bits;
}

void WriteHuffmanLengths(std::span<const uint8_t> lengths, ByteWriter& out) {
  for (size_t i = 0; i < lengths.size(); i += 2) {
    MURMUR_CHECK(lengths[i] <= kMaxHuffmanBits);
    uint8_t b = lengths[i];
    if (i + 1 < lengths.size()) {
      MURMUR_CHECK(lengths[i + 1] <= kMaxHuffmanBits);
      b |= static_cast<uint8_t>(lengths[i + 1] << 4);
    }
    out.WriteU8(b);
  }
}

Status ReadHuffmanLengths(FrameReader& in, size_t n, std::vector<uint8_t>& lengths) {
  MURMUR_ASSIGN_OR_RETURN(std::span<const uint8_t> bytes,
                          in.Bytes((n + 1) / 2, "huffman code lengths"));
  lengths.resize(n);
  for (size_t i = 0; i < n; ++i) {
    lengths[i] = (i % 2 == 0) ? (bytes[i / 2] & 0x0f) : (bytes[i / 2] >> 4);
  }
  if (n % 2 != 0 && (bytes[n / 2] >> 4) != 0) {
    return Status::Corrupt(in.codec(), " frame: non-zero padding nibble in huffman lengths");
  }
  return Status::Ok();
}

void WriteHuffmanBits(std::span<const uint8_t> lengths,
                      std::span<const uint8_t> symbols, ByteWriter& out) {
  const std::vector<uint32_t> codes = CanonicalCodes(lengths);
  const uint64_t total_bits = HuffmanEncodedBits(lengths, symbols);
  std::vector<uint8_t> bytes((total_bits + 7) / 8, 0);
  uint64_t acc = 0;  // pending bits, right-aligned
  int pending = 0;
  size_t pos = 0;
  for (uint8_t s : symbols) {
    const int len = lengths[s];
    MURMUR_CHECK(len > 0);
    acc = (acc << len) | codes[s];
    pending += len;
    while (pending >= 8) {
      pending -= 8;
      bytes[pos++] = static_cast<uint8_t>(acc >> pending);
    }
  }
  if (pending > 0) bytes[pos++] = static_cast<uint8_t>(acc << (8 - pending));
  out.WriteBytes(bytes);
}

Result<HuffmanDecoder> HuffmanDecoder::Create(std::span<const uint8_t> lengths) {
  if (lengths.size() > kMaxHuffmanSymbols) {
    return Status::Corrupt("huffman table of ", lengths.size(), " symbols exceeds ",
                           kMaxHuffmanSymbols);
  }
  HuffmanDecoder dec;
  size_t used = 0;
  for (uint8_t len : lengths) {
    if (len > kMaxHuffmanBits) {
      return Status::Corrupt("huffman code length ", +len, " exceeds ", kMaxHuffmanBits);
    }
    if (len > 0) {
      dec.count_[len]++;
      ++used;
    }
  }
  if (used == 0) return Status::Corrupt("huffman table has no symbols");
  // Kraft sum in units of 2^-15: exactly 2^15 for a complete code.
  uint64_t kraft = 0;
  for (int len = 1; len <= kMaxHuffmanBits; ++len) {
    kraft += static_cast<uint64_t>(dec.count_[len]) << (kMaxHuffmanBits - len);
  }
  const bool single = used == 1 && dec.count_[1] == 1;
  if (kraft != (uint64_t{1} << kMaxHuffmanBits) && !single) {
    return Status::Corrupt("huffman code lengths are ",
                           kraft > (uint64_t{1} << kMaxHuffmanBits) ? "over-subscribed"
                                                                     : "incomplete",
                           " (Kraft sum ", kraft, "/", uint64_t{1} << kMaxHuffmanBits, ")");
  }
  dec.sorted_.reserve(used);
  for (int len = 1; len <= kMaxHuffmanBits; ++len) {
    for (size_t s = 0; s < lengths.size(); ++s) {
      if (lengths[s] == len) dec.sorted_.push_back(static_cast<uint8_t>(s));
    }
  }
  return dec;
}

Status HuffmanDecoder::Decode(std::span<const uint8_t> bits,
                              std::span<uint8_t> symbols) const {
  const uint64_t total_bits = static_cast<uint64_t>(bits.size()) * 8;
  uint64_t pos = 0;  // next bit, MSB first
  for (size_t n = 0; n < symbols.size(); ++n) {
    // puff.c's canonical decode: extend the code one bit at a time until it
    // falls inside the range of codes of the current length.
    uint32_t code = 0;
    uint32_t first = 0;
    uint32_t index = 0;
    bool found = false;
    for (int len = 1; len <= kMaxHuffmanBits; ++len) {
      if (pos >= total_bits) {
        return Status::Corrupt("huffman stream ends after ", n, " of ",
                               symbols.size(), " symbols");
      }
      code |= (bits[pos / 8] >> (7 - pos % 8)) & 1u;
      ++pos;
      const uint32_t count = count_[len];
      if (code - first < count) {
        symbols[n] = sorted_[index + (code - first)];
        found = true;
        break;
      }
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    if (!found) {
      return Status::Corrupt("huffman stream holds an unused code at bit ", pos);
    }
  }
  const uint64_t used_bytes = (pos + 7) / 8;
  if (used_bytes != bits.size()) {
    return Status::Corrupt("huffman stream has ", bits.size() - used_bytes,
                           " trailing bytes");
  }
  if (pos % 8 != 0 && (bits[pos / 8] & (0xffu >> (pos % 8))) != 0) {
    return Status::Corrupt("huffman stream has non-zero padding bits");
  }
  return Status::Ok();
}

}  // namespace murmur::compress_internal
