// Private to learn/: the character-level MLP language model (model.h).
#pragma once

#include <memory>

#include "murmur/learn/model.h"

namespace murmur {

// Vocabulary = input.num_classes, context = input.width. kInvalidArgument
// unless the input is 1 x 1 x context (a text dataset), the embedding and
// every hidden width are >= 1.
Result<std::unique_ptr<Model>> MakeCharMlp(const ModelConfig& config, const InputShape& input);

}  // namespace murmur
