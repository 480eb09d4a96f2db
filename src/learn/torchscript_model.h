// Private to learn/: a user's PyTorch model saved as TorchScript
// (torch.jit.save of a scripted or traced nn.Module), trained by murmur's
// own optimizers over the flat parameter buffer every protocol uses.
#pragma once

#include <memory>

#include "murmur/core/status.h"
#include "murmur/learn/model.h"

namespace murmur {

// Loads config.path and checks it against the data: forward must map a
// [batch, C, H, W] float batch to [batch, num_classes] logits, and the last
// two parameters must be the output layer's weight [classes, features] and
// bias [classes] (as an nn.Linear head has). kNotFound for a missing file;
// kInvalidArgument naming the file for one that is not TorchScript, a
// forward that fails or has another output shape, or another head.
Result<std::unique_ptr<Model>> MakeTorchScriptModel(const ModelConfig& config,
                                                   const InputShape& input);

}  // namespace murmur
