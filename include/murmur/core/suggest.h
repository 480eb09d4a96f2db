// "Did you mean": the known name closest to a misspelt one, for error
// messages about config keys and command-line subcommands.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace murmur {

// The optimal-string-alignment edit distance between `a` and `b`: the
// fewest insertions, deletions, substitutions and swaps of two adjacent
// characters that turn one into the other ("topolgy" -> "topology": 1).
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` by EditDistance, when it is close enough
// to be a likely typo: at most 1 edit for words up to 4 characters, 2 up to
// 8, 3 beyond (measured on `word`). Ties go to the first candidate. Empty
// when no candidate is that close, or `word` is one of them.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// "; did you mean 'CANDIDATE'?" for ClosestMatch, or "" when there is none.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace murmur
