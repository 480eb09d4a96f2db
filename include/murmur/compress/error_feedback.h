// Error feedback: stateful wrappers that make biased (contractive) codecs
// such as top-k, sign, PowerSGD or FEDZIP converge, by remembering what
// compression dropped and sending it later.
//
// Ownership and threads: each wrapper borrows a Codec, which must outlive
// it, and owns its state vectors. One wrapper per (peer, stream); not
// thread-safe. Every Encode either succeeds and updates the state, or fails
// (as Codec::Encode does) and leaves the state and `out` as they were.
//
// The state updates use exactly what the receiver decodes (the wrapper
// decodes its own frame), so a sender's estimate and the receiver's
// EstimateReceiver stay bit-identical.
#pragma once

#include <span>
#include <vector>

#include "murmur/compress/codec.h"

namespace murmur {

// Classic error feedback (Seide, Fu, Droppo, Li, Yu, 2014, "1-Bit Stochastic
// Gradient Descent and its Application to Data-Parallel Distributed Training
// of Speech DNNs"; Karimireddy, Rebjock, Stich, Jaggi, 2019, "Error Feedback
// Fixes SignSGD and other Gradient Compression Schemes"):
//   p = x + e;  send C(p);  e <- p - C(p).
// x is what the caller would send uncompressed (a scaled gradient or a
// model delta). The receiver decodes frames with the plain codec.
class ErrorFeedbackEncoder {
 public:
  // Starts with e = 0.
  ErrorFeedbackEncoder(const Codec& codec, size_t dim);

  // REQUIRES: x.size() == dim.
  Status Encode(std::span<const float> x, const CodecContext& ctx, ByteWriter& out);

  std::span<const float> error() const { return error_; }
  // What the last successful Encode handed the codec (x + e).
  std::span<const float> codec_input() const { return corrected_; }
  void Reset();

 private:
  const Codec& codec_;
  std::vector<float> error_;
  std::vector<float> corrected_;
  std::vector<float> decoded_;
};

// EF21 (Richtarik, Sokolov, Fatkhullin, 2021, "EF21: A New, Simpler,
// Theoretically Better, and Practically Faster Error Feedback"): the sender
// keeps an estimate g of its vector and sends only the compressed change,
//   c = C(x - g);  send c;  g <- g + c,
// and the receiver (EstimateReceiver) keeps the same g, using g in place
// of x. Starts from g = 0, so the first frame is C(x) (the paper may start
// from an uncompressed g_0; send one fp32 frame first to get that).
class Ef21Encoder {
 public:
  Ef21Encoder(const Codec& codec, size_t dim);

  // REQUIRES: x.size() == dim.
  Status Encode(std::span<const float> x, const CodecContext& ctx, ByteWriter& out);

  // g after the last successful Encode: what the receiver now holds.
  std::span<const float> estimate() const { return estimate_; }
  // What the last successful Encode handed the codec (x - g before it).
  std::span<const float> codec_input() const { return diff_; }
  void Reset();

 private:
  const Codec& codec_;
  std::vector<float> estimate_;
  std::vector<float> diff_;
  std::vector<float> decoded_;
};

// EControl (Gao, Islamov, Stich, 2023, "EControl: Fast Distributed
// Optimization with Compression and Error Control"): EF21's estimate h plus
// an error term e fed back with strength eta, both driven by one compressed
// message per step:
//   delta = C(eta * e + x - h);  send delta;
//   e <- e + x - h - delta;      h <- h + delta.
// The receiver (EstimateReceiver) keeps h and uses h (= h_t + delta_t) in
// place of x. eta = 0 is EF21; a larger eta feeds back more of the
// accumulated error e (the paper's analysis ties eta to the compressor's
// contraction parameter; see it before picking a value). Starts from
// e = h = 0.
class EControlEncoder {
 public:
  // REQUIRES: eta >= 0 and finite.
  EControlEncoder(const Codec& codec, size_t dim, float eta);

  // REQUIRES: x.size() == dim.
  Status Encode(std::span<const float> x, const CodecContext& ctx, ByteWriter& out);

  std::span<const float> estimate() const { return estimate_; }  // h
  std::span<const float> error() const { return error_; }        // e
  // What the last successful Encode handed the codec.
  std::span<const float> codec_input() const { return input_; }
  float eta() const { return eta_; }
  void Reset();

 private:
  const Codec& codec_;
  const float eta_;
  std::vector<float> estimate_;
  std::vector<float> error_;
  std::vector<float> input_;
  std::vector<float> decoded_;
};

// The receiving side of EF21 and EControl for one sender: decodes each
// frame and adds it to its copy of the sender's estimate. Borrows the codec
// (must outlive it); not thread-safe.
class EstimateReceiver {
 public:
  EstimateReceiver(const Codec& codec, size_t dim);

  // estimate <- estimate + decode(frame). On failure (kCorrupt) the
  // estimate is unchanged.
  Status Receive(std::span<const uint8_t> frame, const CodecContext& ctx);

  std::span<const float> estimate() const { return estimate_; }
  void Reset();

 private:
  const Codec& codec_;
  std::vector<float> estimate_;
  std::vector<float> decoded_;
};

}  // namespace murmur
