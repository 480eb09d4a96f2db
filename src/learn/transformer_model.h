// Private to learn/: the decoder-only transformer language model
// (model.kind = "transformer").
//
// Architecture: the decoder of Vaswani, Shazeer, Parmar, Uszkoreit, Jones,
// Gomez, Kaiser, Polosukhin, 2017, "Attention Is All You Need", without the
// encoder and cross-attention, in GPT-2's pre-norm arrangement (Radford, Wu,
// Child, Luan, Amodei, Sutskever, 2019, "Language Models are Unsupervised
// Multitask Learners"): token embedding + position (learned table or the
// fixed sinusoids of Vaswani et al.), then `layers` blocks of
//   h += Wo * CausalSelfAttention(LayerNorm(h))      (`heads` heads)
//   h += W2 * GELU(W1 * LayerNorm(h) + b1) + b2       (ffn_mult * width)
// then a final LayerNorm and a linear head to the vocabulary logits. No
// dropout (murmur trains deterministically) and no batch statistics: LayerNorm
// normalizes each token's vector on its own, so averaging parameters across
// peers is as well defined as for an MLP.
//
// Tokens: the fixed 97-symbol character vocabulary of learn/text_dataset.h
// (CharId), the one the char MLP uses: it does not depend on the corpus, so a
// model trained on one text fine-tunes on another and its loss is in nats per
// character, comparable with model.kind = "charmlp".
//
// Samples: 1 x 1 x context token ids with label = the token after them
// (text_dataset.h, TextSamples::kWindows). The model predicts at every
// position: position t's target is token t + 1 of the window, the last
// position's is the label (TorchModel::Targets), so a sample contributes
// `context` next-token predictions and loss and accuracy are per token.
//
// Flat buffer, in order (the same on every peer, exchanged whole by every
// protocol):
//   learned positions only: position table [context, width]
//   per block: ln1 gain [w], ln1 bias [w], qkv weight [3w, w], qkv bias [3w],
//              attention output weight [w, w], bias [w], ln2 gain [w],
//              ln2 bias [w], ffn weight [f w, w], bias [f w],
//              ffn output weight [w, f w], bias [w]
//   final LayerNorm gain [w], bias [w]
//   token embedding [vocab, w]
//   separate embeddings only: output head weight [vocab, w]
//   output bias [vocab]
// With tied embeddings the token embedding is also the output head weight
// (Press, Wolf, 2017, "Using the Output Embedding to Improve Language
// Models"), so in both layouts the buffer ends with the head's weight and
// bias and OutputLayerOf finds the head (with tying, training "the output
// layer" trains the embedding too).
//
// Parameters, with V = vocab, w = width, f = ffn_mult, T = context, L = layers:
//   L * (4 w^2 + 2 f w^2 + 9 w + f w) + 2 w + V w + V
//   + T w (learned positions) + V w (separate embeddings).
#pragma once

#include <memory>

#include "murmur/learn/model.h"

namespace murmur {

// Vocabulary = input.num_classes. kInvalidArgument (naming the key and what
// to set) unless the input is a 1 x 1 x context window of character ids with
// kCharVocabSize classes (a text dataset), every size is >= 1 and width is
// divisible by heads.
Result<std::unique_ptr<Model>> MakeTransformer(const ModelConfig& config, const InputShape& input);

// The parameter count of the layout above (for docs and tests).
int64_t TransformerParamCount(const TransformerConfig& config, int64_t vocab);

}  // namespace murmur
