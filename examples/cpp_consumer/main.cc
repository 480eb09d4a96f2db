// Uses the installed murmur library: the coordinate-wise median of three
// vectors, one of them Byzantine, through the rule factory, then a top-k
// codec round trip. Prints both and exits 0 when the values are the
// expected ones.
#include <cstdio>
#include <span>
#include <vector>

#include <murmur/compress/codec.h>
#include <murmur/robust/factory.h>

int main() {
  const std::vector<float> a = {1, 2, 3}, b = {4, 5, 6}, byzantine = {100, -100, 0};
  const std::vector<std::span<const float>> inputs = {a, b, byzantine};
  auto rule = murmur::MakeAggregator(murmur::AggregatorConfig{.rule = "median", .f = 1});
  if (!rule.ok()) {
    std::fprintf(stderr, "%s\n", rule.status().ToString().c_str());
    return 1;
  }
  std::vector<float> out(3);
  if (murmur::Status s = (*rule)->Aggregate(inputs, out); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("median: %g %g %g\n", out[0], out[1], out[2]);

  auto codec = murmur::MakeCodec("topk:k=1");
  if (!codec.ok()) return 1;
  murmur::ByteWriter frame;
  if (!(*codec)->Encode(b, {}, frame).ok()) return 1;
  std::vector<float> decoded(3);
  if (!(*codec)->Decode(frame.bytes(), {}, decoded).ok()) return 1;
  std::printf("topk:k=1 of (4 5 6): %g %g %g, %zu bytes\n", decoded[0], decoded[1], decoded[2],
              frame.size());

  const bool ok = out == std::vector<float>{4, 2, 3} &&
                  decoded == std::vector<float>{0, 0, 6};
  return ok ? 0 : 1;
}
