#!/usr/bin/python3
"""The unigram baseline of a character language model on a fortunes corpus.

Cuts the text exactly as murmur's transformer reads it (src/learn/
text_dataset.cc, TextSamples::kWindows: `%` separator lines removed, the
97-symbol character vocabulary, consecutive windows of context + 1
characters, every test_every-th window a test window), counts the training
windows' next-character targets (add-one smoothed), and prints the cross
entropy of those frequencies on the test windows' targets, in nats per
character: the best loss of a model that ignores the context. The same
baseline is computed in C++ by tests/unit/learn/transformer_model_test.cc.

  unigram_baseline.py PATH [--context 64] [--test-every 10]
"""
import argparse
import math

VOCAB = 97


def char_id(byte):
    if byte == ord('\n'):
        return 0
    if byte == ord('\t'):
        byte = ord(' ')
    if 32 <= byte <= 126:
        return byte - 31
    return VOCAB - 1


def strip_separators(data):
    out = bytearray()
    for line in data.split(b'\n')[:-1] if data.endswith(b'\n') else data.split(b'\n'):
        if line.endswith(b'\r'):
            line = line[:-1]
        if line != b'%':
            out += line + b'\n'
    return bytes(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('path')
    parser.add_argument('--context', type=int, default=64)
    parser.add_argument('--test-every', type=int, default=10)
    args = parser.parse_args()
    with open(args.path, 'rb') as f:
        text = strip_separators(f.read())
    span = args.context + 1
    counts = [1] * VOCAB
    test_targets = []
    for k in range(len(text) // span):
        window = [char_id(b) for b in text[k * span:(k + 1) * span]]
        targets = window[1:]  # position t predicts character t + 1
        if k % args.test_every == args.test_every - 1:
            test_targets += targets
        else:
            for t in targets:
                counts[t] += 1
    total = sum(counts)
    loss = -sum(math.log(counts[t] / total) for t in test_targets) / len(test_targets)
    print(f'{loss:.4f}')


if __name__ == '__main__':
    main()
