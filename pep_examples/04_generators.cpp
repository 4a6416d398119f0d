// 04 — generators by composition: a recursive tree walk writing to its stdout.
//
// The PEP's new way to write a generator: not a special function that yields,
// but an ordinary function that writes to this_stdout() and returns. What to
// notice:
//   * walk() calls itself for the left and right subtrees; those calls write
//     to the very same stdout (nothing is re-yielded level by level), so the
//     whole tree comes out as one stream, in order (an in-order walk of a
//     binary search tree: sorted);
//   * the consumer is a plain loop over its stdin; it sees the stream end
//     when the walker's micro-thread ends.
#include <cstdio>
#include <memory>
#include <string>

#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"
#include "pipes/pipeline.hpp"

struct node {
    int key;
    std::unique_ptr<node> left, right;
};

void insert(std::unique_ptr<node>& t, int key) {
    if (!t) t = std::make_unique<node>(node{key, nullptr, nullptr});
    else insert(key < t->key ? t->left : t->right, key);
}

// The generator: an ordinary recursive function.
void walk(const node* t, int depth) {
    if (!t) return;
    walk(t->left.get(), depth + 1);
    mt::this_stdout<std::string>().put(std::to_string(t->key) + " (depth " + std::to_string(depth) + ")");
    walk(t->right.get(), depth + 1);
}

int main() {
    std::unique_ptr<node> tree;
    std::printf("inserted:");
    for (int k : {50, 30, 70, 20, 40, 60, 80, 35, 65, 10}) {
        std::printf(" %d", k);
        insert(tree, k);
    }
    std::printf("\n");

    int n = mt::run([&] {
        return mt::pipeline<std::string>(
            [&] { walk(tree.get(), 0); },
            [] {
                int count = 0;
                for (const std::string& s : mt::this_stdin<std::string>()) {
                    std::printf("  consumer got %s\n", s.c_str());
                    ++count;
                }
                return count;
            });
    });
    std::printf("%d keys, in order\n", n);
}
