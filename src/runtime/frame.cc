#include "murmur/runtime/frame.h"

#include <algorithm>
#include <cstring>

namespace murmur::net {

std::string_view FrameTypeName(FrameType type) {
  switch (type) {
    case FrameType::kHello: return "hello";
    case FrameType::kAuth: return "auth";
    case FrameType::kData: return "data";
    case FrameType::kHeartbeat: return "heartbeat";
    case FrameType::kPeers: return "peers";
    case FrameType::kBye: return "bye";
    case FrameType::kDataPart: return "data-part";
    case FrameType::kCookieReply: return "cookie-reply";
    case FrameType::kShmOffer: return "shm-offer";
    case FrameType::kShmSwitch: return "shm-switch";
  }
  return "unknown";
}

std::string_view FramePhaseName(FramePhase phase) {
  switch (phase) {
    case FramePhase::kHello: return "hello";
    case FramePhase::kAuth: return "auth";
    case FramePhase::kOpen: return "open";
  }
  return "unknown";
}

namespace {

// The frame types a handshake phase accepts. A CookieReply is a dialer's
// only other possible first frame (the connection refuses it on an
// acceptor).
bool AllowedIn(FrameType type, FramePhase phase) {
  switch (phase) {
    case FramePhase::kHello: return type == FrameType::kHello || type == FrameType::kCookieReply;
    case FramePhase::kAuth: return type == FrameType::kAuth;
    case FramePhase::kOpen:
      return type != FrameType::kHello && type != FrameType::kAuth &&
             type != FrameType::kCookieReply;
  }
  return false;
}

}  // namespace

std::array<uint8_t, kFrameHeaderSize> EncodeFrameHeader(const FrameHeader& header) {
  std::array<uint8_t, kFrameHeaderSize> out{};
  std::copy(kFrameMagic.begin(), kFrameMagic.end(), out.begin());
  out[4] = kWireVersion;
  out[5] = static_cast<uint8_t>(header.type);
  out[6] = 0;
  out[7] = 0;
  std::memcpy(out.data() + 8, &header.length, sizeof header.length);
  return out;
}

Result<FrameHeader> DecodeFrameHeader(std::span<const uint8_t, kFrameHeaderSize> bytes,
                                      FramePhase phase, size_t max_data_payload) {
  if (!std::equal(kFrameMagic.begin(), kFrameMagic.end(), bytes.begin())) {
    return Status::Corrupt("frame: bad magic 0x", std::hex, static_cast<int>(bytes[0]), " 0x",
                           static_cast<int>(bytes[1]), " 0x", static_cast<int>(bytes[2]),
                           " 0x", static_cast<int>(bytes[3]), " (not a murmur peer?)");
  }
  if (bytes[4] != kWireVersion) {
    return Status::Corrupt("frame: wire version ", static_cast<int>(bytes[4]),
                           ", this peer speaks ", static_cast<int>(kWireVersion));
  }
  if (bytes[6] != 0 || bytes[7] != 0) {
    return Status::Corrupt("frame: nonzero reserved flags ", static_cast<int>(bytes[6]), ",",
                           static_cast<int>(bytes[7]));
  }
  FrameHeader header;
  std::memcpy(&header.length, bytes.data() + 8, sizeof header.length);
  const size_t length = header.length;
  const uint8_t type = bytes[5];
  const bool known = type >= static_cast<uint8_t>(FrameType::kHello) &&
                     type <= static_cast<uint8_t>(FrameType::kShmSwitch);
  if (!known) return Status::Corrupt("frame: unknown type ", static_cast<int>(type));
  // Checked before the length, so what a stranger announces never matters.
  if (!AllowedIn(static_cast<FrameType>(type), phase)) {
    if (phase == FramePhase::kOpen) {
      return Status::Corrupt("frame: a ", FrameTypeName(static_cast<FrameType>(type)),
                             " frame after the handshake");
    }
    return Status::Corrupt("frame: a ", FrameTypeName(static_cast<FrameType>(type)),
                           " frame of ", length,
                           " bytes before authentication, where only the peer's ",
                           FramePhaseName(phase), " frame is accepted");
  }
  auto bad_length = [&](std::string_view expected) {
    return Status::Corrupt("frame: ", FrameTypeName(static_cast<FrameType>(type)),
                           " frame of ", length, " bytes, expected ", expected);
  };
  switch (static_cast<FrameType>(type)) {
    case FrameType::kHello:
      if (length != kHelloPayload) return bad_length("exactly 64");
      break;
    case FrameType::kCookieReply:
      if (length != kCookieReplyPayload) return bad_length("exactly 56");
      break;
    case FrameType::kAuth:
      if (length < kMacSize || length > kMaxHandshakePayload) return bad_length("16..4096");
      break;
    case FrameType::kHeartbeat:
    case FrameType::kBye:
    case FrameType::kShmOffer:
    case FrameType::kShmSwitch:
      if (length != kMacSize) return bad_length("exactly 16");
      break;
    case FrameType::kPeers:
      if (length < kMacSize || length > kMaxPeersPayload) return bad_length("16..1048576");
      break;
    case FrameType::kDataPart:
      if (length != kDataChunk + kMacSize) return bad_length("exactly 1 MiB + 16");
      break;
    case FrameType::kData: {
      // Longer messages arrive as DataPart chunks, so no single frame needs
      // more than one chunk of memory.
      const size_t limit = std::min(max_data_payload, kDataChunk);
      if (length < kMacSize || length - kMacSize > limit) {
        return Status::Corrupt("frame: data frame of ", length,
                               " bytes exceeds the limit of ", limit,
                               " message bytes per frame (min of max_message_bytes and "
                               "the 1 MiB chunk)");
      }
      break;
    }
    default:
      return Status::Corrupt("frame: unknown type ", static_cast<int>(type));
  }
  header.type = static_cast<FrameType>(type);
  return header;
}

std::span<uint8_t> FrameParser::NextBuffer() {
  if (!frame_) return std::span<uint8_t>(header_bytes_).subspan(header_have_);
  return std::span<uint8_t>(frame_->payload).subspan(payload_have_);
}

Result<std::optional<Frame>> FrameParser::Commit(size_t n) {
  MURMUR_CHECK(!failed_);
  if (!frame_) {
    header_have_ += n;
    MURMUR_CHECK(header_have_ <= kFrameHeaderSize);
    if (header_have_ < kFrameHeaderSize) return std::optional<Frame>();
    Result<FrameHeader> header = DecodeFrameHeader(header_bytes_, phase_, max_data_payload_);
    if (!header.ok()) {
      failed_ = true;
      return header.status();
    }
    header_have_ = 0;
    frame_.emplace();
    frame_->header = *header;
    frame_->payload = std::move(spare_);
    spare_ = std::vector<uint8_t>();
    // The type was checked against the phase and the length against the
    // type's limit above, so this allocation is bounded by what this
    // connection's phase allows (4 KiB before authentication).
    frame_->payload.resize(header->length);
    payload_have_ = 0;
  } else {
    payload_have_ += n;
    MURMUR_CHECK(payload_have_ <= frame_->payload.size());
  }
  if (payload_have_ < frame_->payload.size()) return std::optional<Frame>();
  std::optional<Frame> done = std::move(frame_);
  frame_.reset();
  payload_have_ = 0;
  if (done->header.type == FrameType::kHello) phase_ = FramePhase::kAuth;
  if (done->header.type == FrameType::kAuth) phase_ = FramePhase::kOpen;
  return done;
}

void FrameParser::ExpectHelloAgain() {
  MURMUR_CHECK(phase_ == FramePhase::kAuth && partial_bytes() == 0);
  phase_ = FramePhase::kHello;
}

size_t FrameParser::partial_bytes() const {
  return frame_ ? kFrameHeaderSize + payload_have_ : header_have_;
}

size_t FrameParser::buffer_capacity() const {
  return (frame_ ? frame_->payload.capacity() : 0) + spare_.capacity();
}

Status FrameParser::Feed(std::span<const uint8_t> bytes, std::vector<Frame>& out) {
  if (failed_) return Status::Corrupt("frame parser: stream already failed");
  size_t pos = 0;
  do {
    std::span<uint8_t> into = NextBuffer();
    const size_t n = std::min(into.size(), bytes.size() - pos);
    if (n > 0) std::memcpy(into.data(), bytes.data() + pos, n);
    pos += n;
    Result<std::optional<Frame>> frame = Commit(n);
    if (!frame.ok()) return frame.status();
    if (frame->has_value()) out.push_back(std::move(**frame));
  } while (pos < bytes.size());
  return Status::Ok();
}

}  // namespace murmur::net
