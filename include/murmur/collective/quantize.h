// Min-max quantization of float32 vectors to 8 or 4 bits, the codec of the
// quantized ring all-reduce (collective.h: Quantization; docs/collective.md).
//
// A block of values x is sent as (lo, scale, q): lo = min x, scale =
// (max x - lo) / (2^bits - 1), q_i = floor((x_i - lo) / scale + 0.5) clamped
// to [0, 2^bits - 1], decoded as lo + q_i * scale (the asymmetric "min-max"
// linear quantizer, e.g. Jacob et al. 2018, "Quantization and Training of
// Neural Networks for Efficient Integer-Arithmetic-Only Inference"; used on
// outer gradients by Douillard et al. 2025, "Streaming DiLoCo with
// overlapping communication"). 4-bit codes are packed two per byte, the
// even index in the low nibble. Error feedback (Seide et al. 2014, "1-Bit
// Stochastic Gradient Descent and its Application to Data-Parallel
// Distributed Training of Speech DNNs"; Karimireddy et al. 2019, "Error
// Feedback Fixes SignSGD and other Gradient Compression Schemes") is the
// caller's: keep x - Decode(Encode(x)) and add it to the next input.
//
// Non-finite inputs are encoded as code 0 and do not move lo or scale. A
// block whose values are all equal has scale 0. Deterministic: the same
// input gives the same bytes on every machine (IEEE float arithmetic, no
// fused operations assumed beyond what the compiler does for one expression).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace murmur::collective {

struct QuantBlock {
  float lo = 0;
  float scale = 0;
};

// True for the supported widths (4, 8).
bool ValidQuantBits(int bits);
// Bytes of the packed codes of `count` values.
size_t QuantizedBytes(size_t count, int bits);
// Encodes `values` into `codes` and returns (lo, scale).
// REQUIRES: ValidQuantBits(bits); codes.size() == QuantizedBytes(values.size(), bits).
QuantBlock Quantize(std::span<const float> values, int bits, std::span<uint8_t> codes);
// Decodes into `out`. REQUIRES: codes.size() == QuantizedBytes(out.size(), bits).
void Dequantize(QuantBlock block, int bits, std::span<const uint8_t> codes, std::span<float> out);

}  // namespace murmur::collective
