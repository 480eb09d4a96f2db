// Private to learn/: the CIFAR ResNet family (model.kind = "resnet").
//
// He, Zhang, Ren, Sun, 2016, "Deep Residual Learning for Image
// Recognition", section 4.2: a 3x3 conv, then 3 stages of n basic blocks
// (two 3x3 convs each) with 16, 32 and 64 channels (times model.width) on
// feature maps that halve at each stage, global average pooling and a linear
// output layer: 6n + 2 weight layers (ResNet-20 is n = 3). Shortcuts are the
// paper's option A, as in its CIFAR experiments: identity, and where a stage
// halves the map and doubles the channels, the input subsampled by 2 and
// zero-padded in the new channels, so shortcuts have no parameters.
//
// Group normalization (Wu, He, 2018, "Group Normalization") replaces batch
// normalization after every conv: it has no running statistics, so a model
// is only its parameters and the average of peers' models is well defined;
// Hsieh, Phanishayee, Mutlu, Gibbons, 2020, "The Non-IID Data Quagmire of
// Decentralized Machine Learning", show batch norm failing under non-IID
// decentralized training and group norm recovering. Convs have no bias (the
// normalization's shift plays its part).
#pragma once

#include <cstdint>
#include <memory>

#include "murmur/learn/model.h"

namespace murmur {

// The parameter count of a CIFAR ResNet of `depth` = 6n + 2 layers on
// `channels`-channel inputs with `classes` outputs and first-stage width
// `c` (16 x model.width): per conv 9 x in x out weights, per group norm a
// scale and a shift per channel, and the output layer c3 x classes + classes
// with c1 = c, c2 = 2c, c3 = 4c:
//   stem     9 C c1 + 2 c1
//   stage s  9 c_{s-1} c_s + 9 c_s^2 + 4 c_s  (its first block, c_0 = c1)
//            + (n - 1)(18 c_s^2 + 4 c_s)      (the other blocks)
//   output   c3 K + K
// ResNet-20 on CIFAR-10 (C = 3, c = 16, K = 10): 269,722 (the paper's
// "0.27M"; batch norm has the same learnable parameters).
int64_t ResNetParamCount(int64_t depth, int64_t channels, int64_t classes, int64_t c);

// kInvalidArgument naming the key for a depth that is not 6n + 2 with
// n >= 1, a width that leaves no channel, or groups that do not divide the
// first stage's channels.
Result<std::unique_ptr<Model>> MakeResNet(const ModelConfig& config, const InputShape& input);

}  // namespace murmur
